//! IPv4 input: validate, reassemble, and hand back the whole datagram.
//!
//! [`IpInput::input`] checks a packet in a fixed order (RFC 791 §3.1, RFC 1122
//! 3.2.1), each failure dropped through [`Context::drop`] with its own reason, and
//! returns the datagram for the stack to route to ICMP, UDP or TCP. It knows
//! nothing of those protocols: which of them takes a datagram is the stack's call.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::reassembly::{Fragment, FragmentKey, FragmentOutcome, ReassemblyConfig};
use super::Reassembler;
use crate::shared::{Context, DropReason, RxChecksum};
use crate::time::Instant;
use crate::wire::ipv4::{self, Ipv4Error};

/// A whole IPv4 datagram, after reassembly if it arrived in fragments: what the
/// transport protocols read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Datagram<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub id: u16,
    pub ttl: u8,
    /// The header as received; `None` for a reassembled datagram (ICMP errors then
    /// quote a rebuilt header).
    pub header: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// A datagram [`IpInput::input`] delivers: borrowed from the packet, or owned
/// when reassembly built it.
#[derive(Debug)]
pub(crate) struct Delivered<'p> {
    head: Datagram<'p>,
    payload: Cow<'p, [u8]>,
}

impl Delivered<'_> {
    /// The datagram, for the transport that takes it.
    pub fn datagram(&self) -> Datagram<'_> {
        Datagram { payload: &self.payload, ..self.head }
    }
}

/// The receiving half of IPv4: our address and the reassembly buffer.
#[derive(Debug)]
pub(crate) struct IpInput {
    addr: Ipv4Addr,
    reassembly: Reassembler,
}

impl IpInput {
    pub fn new(addr: Ipv4Addr, reassembly: ReassemblyConfig) -> Self {
        IpInput { addr, reassembly: Reassembler::new(reassembly) }
    }

    /// One packet from the link. Returns the datagram to deliver, or `None` when
    /// the packet was dropped (with its reason in `ctx`) or is a fragment waiting
    /// for the others.
    pub fn input<'p>(&mut self, ctx: &mut Context<'_>, packet: &'p [u8]) -> Option<Delivered<'p>> {
        ctx.counters.ip_rx_packets += 1;
        let ip = match ipv4::parse(packet) {
            Ok(ip) => ip,
            Err(e) => {
                let reason = match e {
                    Ipv4Error::Truncated => DropReason::IpTruncated,
                    Ipv4Error::BadVersion(_) => DropReason::IpBadVersion,
                    Ipv4Error::BadHeaderLen => DropReason::IpBadHeaderLen,
                    Ipv4Error::BadTotalLen => DropReason::IpBadTotalLen,
                    Ipv4Error::BadChecksum => DropReason::IpBadChecksum,
                };
                ctx.drop(reason, format_args!("len={}", packet.len()));
                return None;
            }
        };
        if ip.dst != self.addr {
            ctx.drop(DropReason::IpNotForUs, format_args!("dst={}", ip.dst));
            return None;
        }
        // RFC 1122 3.2.1.3: a host discards datagrams whose source is not a unicast
        // address of another host, so it never answers a forged broadcast source.
        if !is_acceptable_source(ip.src, self.addr) {
            ctx.drop(DropReason::IpBadSource, format_args!("src={}", ip.src));
            return None;
        }
        if ip.has_options() {
            ctx.counters.ip_rx_with_options += 1;
        }
        let head = Datagram {
            src: ip.src,
            dst: ip.dst,
            protocol: ip.protocol,
            id: ip.id,
            ttl: ip.ttl,
            header: Some(ip.header),
            payload: &[],
        };
        if !ip.is_fragment() {
            return Some(Delivered { head, payload: Cow::Borrowed(ip.payload) });
        }
        ctx.counters.ip_frag_rx += 1;
        let fragment = Fragment {
            key: FragmentKey { src: ip.src, dst: ip.dst, protocol: ip.protocol, id: ip.id },
            offset: ip.frag_offset,
            more_fragments: ip.more_fragments,
            payload: ip.payload,
        };
        let (outcome, whole) = self.reassembly.insert(ctx.now, fragment);
        let dropped = match outcome {
            FragmentOutcome::Pending | FragmentOutcome::Complete => None,
            FragmentOutcome::Duplicate => Some(DropReason::FragmentDuplicate),
            FragmentOutcome::Overlap => Some(DropReason::FragmentOverlap),
            FragmentOutcome::Invalid => Some(DropReason::FragmentInvalid),
            FragmentOutcome::NoRoom => Some(DropReason::ReassemblyFull),
        };
        match dropped {
            Some(DropReason::ReassemblyFull) => {
                let limit = self.reassembly.config().max_datagrams;
                ctx.overflow(
                    DropReason::ReassemblyFull,
                    self.reassembly.in_progress(),
                    limit,
                    format_args!("id={}", ip.id),
                );
            }
            Some(reason) => ctx.drop(reason, format_args!("id={}", ip.id)),
            None => {}
        }
        let payload = whole?;
        ctx.counters.ip_frag_reassembled += 1;
        // Whatever the last fragment's link vouched for, not the whole.
        ctx.rx_checksum = RxChecksum::Verify;
        Some(Delivered { head: Datagram { header: None, ..head }, payload: Cow::Owned(payload) })
    }

    /// When the oldest unfinished datagram times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.reassembly.next_deadline()
    }

    /// Give up on datagrams whose fragments did not all arrive in time.
    pub fn expire(&mut self, ctx: &mut Context<'_>) {
        let expired = self.reassembly.expire(ctx.now);
        if expired > 0 {
            // RFC 1122 3.3.2 allows a Time Exceeded reply here; like many stacks we
            // only count the loss.
            ctx.drop_many(DropReason::ReassemblyTimeout, expired as u64, format_args!("datagrams={expired}"));
        }
    }

    /// The reassembly buffer, for the invariants.
    pub fn reassembly(&self) -> &Reassembler {
        &self.reassembly
    }
}

/// RFC 1122 3.2.1.3: not ourselves, not "this network" (0/8), loopback, multicast
/// or limited broadcast.
fn is_acceptable_source(src: Ipv4Addr, ours: Ipv4Addr) -> bool {
    src != ours
        && !src.is_unspecified()
        && src.octets()[0] != 0
        && !src.is_loopback()
        && !src.is_multicast()
        && !src.is_broadcast()
}
