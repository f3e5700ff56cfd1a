//! ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, destination-unreachable
//! errors (rate-limited), and reading the errors that arrive for us. ICMPv6 (RFC
//! 4443) is [`Icmpv6`], in `v6.rs`.
//!
//! ICMP knows no socket: an error that arrives is handed back to the stack as a
//! [`Unreachable`], and the stack gives it to the transport it quotes; an error
//! to send is asked for by the stack when a transport found nobody to deliver to.

#[cfg(test)]
mod tests;
mod v6;

pub(crate) use v6::{Icmpv6, Received6Error};

use std::time::Duration;

use tracing::trace;

use crate::ip::{Datagram, IpOutput};
use crate::shared::{Context, DropReason, TokenBucket};
use crate::wire::icmp::{self, IcmpError, IcmpMessage};
use crate::wire::ip_protocol::ICMP as PROTO_ICMP;
use crate::wire::ipv4::{self, Ipv4Repr, MIN_HEADER_LEN};

/// RFC 1812 4.3.2.3: an ICMP error quotes as much of the offending datagram as fits
/// in a 576-byte reply (RFC 792 asks for at least the header + 64 bits).
const MAX_ERROR_LEN: usize = 576;

/// A destination unreachable that arrived for us: its code and what it quotes of
/// a datagram we sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unreachable<'a> {
    pub code: u8,
    /// For "fragmentation needed": the MTU the router could not exceed (RFC 1191).
    pub next_hop_mtu: u16,
    pub quoted: &'a [u8],
}

/// ICMP's state: the rate limit of the errors we send.
#[derive(Debug)]
pub(crate) struct Icmp {
    errors: TokenBucket,
}

impl Icmp {
    /// `burst` errors at once, refilled one per `refill`.
    pub fn new(burst: u32, refill: Duration) -> Self {
        Icmp { errors: TokenBucket::new(burst, refill) }
    }

    /// An ICMP message for us. Echo requests are answered here; a destination
    /// unreachable is returned for the stack to route to the transport it quotes.
    pub fn input<'d>(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        datagram: &Datagram<'d>,
    ) -> Option<Unreachable<'d>> {
        ctx.counters.icmp_rx += 1;
        let message = match icmp::parse(datagram.payload) {
            Ok(m) => m,
            Err(IcmpError::Truncated) => {
                ctx.drop(DropReason::IcmpTruncated, format_args!("src={}", datagram.src));
                return None;
            }
            Err(IcmpError::BadChecksum) => {
                ctx.drop(DropReason::IcmpBadChecksum, format_args!("src={}", datagram.src));
                return None;
            }
        };
        match message {
            IcmpMessage::EchoRequest { id, seq, data } => {
                // RFC 1122 3.2.2.6: the reply carries the request's id, seq and data.
                ctx.counters.icmp_rx_echo_request += 1;
                let mut reply = Vec::with_capacity(icmp::HEADER_LEN + data.len());
                icmp::emit_echo_reply(&mut reply, id, seq, data);
                if out.send(ctx.counters, datagram.src, PROTO_ICMP, &reply).is_ok() {
                    ctx.counters.icmp_tx_echo_reply += 1;
                }
                None
            }
            IcmpMessage::DestUnreachable { code, next_hop_mtu, quoted } => {
                ctx.counters.icmp_rx_dest_unreachable += 1;
                Some(Unreachable { code, next_hop_mtu, quoted })
            }
            IcmpMessage::Other { icmp_type, code } => {
                ctx.counters.icmp_rx_ignored += 1;
                trace!(icmp_type, code, "icmp message ignored");
                None
            }
        }
    }

    /// Answer `datagram` with a destination-unreachable error, rate-limited.
    ///
    /// RFC 1122 3.2.2: never in answer to an ICMP error (here: any ICMP), which keeps
    /// two hosts from trading errors forever; the source was already checked to be a
    /// unicast host by IP input.
    pub fn send_dest_unreachable(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        code: u8,
        datagram: &Datagram<'_>,
    ) {
        if datagram.protocol == PROTO_ICMP {
            return;
        }
        if !self.errors.try_take(ctx.now) {
            ctx.drop(DropReason::IcmpRateLimited, format_args!("dst={}", datagram.src));
            return;
        }
        let mut quoted = Vec::with_capacity(MAX_ERROR_LEN);
        match datagram.header {
            Some(header) => quoted.extend_from_slice(header),
            None => {
                // A reassembled datagram has no single header: quote the one it
                // would have had unfragmented.
                let repr = Ipv4Repr {
                    src: datagram.src,
                    dst: datagram.dst,
                    protocol: datagram.protocol,
                    ttl: datagram.ttl,
                    id: datagram.id,
                    dont_fragment: false,
                };
                if ipv4::emit(&mut quoted, &repr, 0, false, &[]).is_none() {
                    return;
                }
                let total = u16::try_from(MIN_HEADER_LEN + datagram.payload.len()).unwrap_or(u16::MAX);
                if ipv4::set_total_len(&mut quoted, total).is_err() {
                    return;
                }
            }
        }
        let room = MAX_ERROR_LEN - MIN_HEADER_LEN - icmp::HEADER_LEN;
        let take = room.saturating_sub(quoted.len()).min(datagram.payload.len());
        quoted.extend_from_slice(datagram.payload.get(..take).unwrap_or_default());
        let mut message = Vec::with_capacity(icmp::HEADER_LEN + quoted.len());
        icmp::emit_dest_unreachable(&mut message, code, &quoted);
        if out.send(ctx.counters, datagram.src, PROTO_ICMP, &message).is_ok() {
            ctx.counters.icmp_tx_dest_unreachable += 1;
        }
    }
}
