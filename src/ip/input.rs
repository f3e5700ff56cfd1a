//! IPv4 input: validate, reassemble, demultiplex by protocol.

use std::net::Ipv4Addr;

use tracing::debug;

use super::reassembly::{Fragment, FragmentKey, FragmentOutcome};
use crate::stack::{DropReason, Stack};
use crate::time::Instant;
use crate::wire::ipv4::{self, Ipv4Error};

/// IANA protocol numbers the stack demultiplexes on.
pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_TCP: u8 = 6;

/// A whole IPv4 datagram, after reassembly if it arrived in fragments.
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

impl Stack {
    /// One IP packet in from the link, at time `now`.
    ///
    /// This is the entry point of the receive path: everything the packet causes
    /// (replies, queued datagrams, socket events) is visible afterwards through
    /// [`poll_transmit`](Stack::poll_transmit) and [`poll_event`](Stack::poll_event).
    ///
    /// Returns why the packet was discarded, or `None` when it was taken in. A
    /// fragment that completes a datagram carries the verdict of the whole
    /// datagram; one that only waits for the others returns `None`. A segment
    /// answered with a RST or an ACK but otherwise discarded (no socket, out of
    /// window) counts as dropped.
    pub fn input(&mut self, now: Instant, packet: &[u8]) -> Option<DropReason> {
        self.rx_drop = None;
        self.input_packet(now, packet);
        self.rx_drop.take()
    }

    fn input_packet(&mut self, now: Instant, packet: &[u8]) {
        self.counters.ip_rx_packets += 1;
        let ip = match ipv4::parse(packet) {
            Ok(ip) => ip,
            Err(e) => {
                let c = &mut self.counters;
                let (counter, reason) = match e {
                    Ipv4Error::Truncated => (&mut c.ip_rx_truncated, "truncated"),
                    Ipv4Error::BadVersion(_) => (&mut c.ip_rx_bad_version, "not IPv4"),
                    Ipv4Error::BadHeaderLen => (&mut c.ip_rx_bad_header_len, "IHL below 5"),
                    Ipv4Error::BadTotalLen => (&mut c.ip_rx_bad_total_len, "bad total length"),
                    Ipv4Error::BadChecksum => (&mut c.ip_rx_bad_checksum, "bad header checksum"),
                };
                *counter += 1;
                debug!(target: "tunstack::drop", reason, len = packet.len(), "ip drop");
                self.drop_input(reason);
                return;
            }
        };
        if ip.dst != self.config.addr {
            self.counters.ip_rx_not_for_us += 1;
            debug!(target: "tunstack::drop", reason = "not for us", dst = %ip.dst, "ip drop");
            self.drop_input("not for us");
            return;
        }
        // RFC 1122 3.2.1.3: a host discards datagrams whose source is not a unicast
        // address of another host, so it never answers a forged broadcast source.
        if !is_acceptable_source(ip.src, self.config.addr) {
            self.counters.ip_rx_bad_source += 1;
            debug!(target: "tunstack::drop", reason = "bad source", src = %ip.src, "ip drop");
            self.drop_input("bad source");
            return;
        }
        if ip.has_options() {
            self.counters.ip_rx_with_options += 1;
        }
        if !ip.is_fragment() {
            let datagram = Datagram {
                src: ip.src,
                dst: ip.dst,
                protocol: ip.protocol,
                id: ip.id,
                ttl: ip.ttl,
                header: Some(ip.header),
                payload: ip.payload,
            };
            self.deliver(now, &datagram);
            return;
        }
        self.counters.ip_frag_rx += 1;
        let fragment = Fragment {
            key: FragmentKey { src: ip.src, dst: ip.dst, protocol: ip.protocol, id: ip.id },
            offset: ip.frag_offset,
            more_fragments: ip.more_fragments,
            payload: ip.payload,
        };
        let (outcome, whole) = self.reassembly.insert(now, fragment);
        let c = &mut self.counters;
        let dropped = match outcome {
            FragmentOutcome::Pending | FragmentOutcome::Complete => None,
            FragmentOutcome::Duplicate => Some((&mut c.ip_frag_duplicate, "duplicate fragment")),
            FragmentOutcome::Overlap => Some((&mut c.ip_frag_overlap, "overlapping fragment")),
            FragmentOutcome::Invalid => Some((&mut c.ip_frag_invalid, "invalid fragment")),
            FragmentOutcome::NoRoom => Some((&mut c.ip_frag_no_room, "reassembly full")),
        };
        if let Some((counter, reason)) = dropped {
            *counter += 1;
            if outcome == FragmentOutcome::NoRoom {
                debug!(target: "tunstack::queue", queue = "reassembly", reason, id = ip.id, "queue overflow");
            } else {
                debug!(target: "tunstack::drop", reason, id = ip.id, "ip fragment drop");
            }
            self.drop_input(reason);
        }
        if let Some(payload) = whole {
            self.counters.ip_frag_reassembled += 1;
            let datagram = Datagram {
                src: ip.src,
                dst: ip.dst,
                protocol: ip.protocol,
                id: ip.id,
                ttl: ip.ttl,
                header: None,
                payload: &payload,
            };
            self.deliver(now, &datagram);
        }
    }

    /// Hand a whole datagram to its transport protocol.
    fn deliver(&mut self, now: Instant, datagram: &Datagram<'_>) {
        match datagram.protocol {
            PROTO_ICMP => {
                self.counters.ip_rx_delivered += 1;
                self.icmp_input(now, datagram);
            }
            PROTO_UDP => {
                self.counters.ip_rx_delivered += 1;
                self.udp_input(now, datagram);
            }
            PROTO_TCP => {
                self.counters.ip_rx_delivered += 1;
                self.tcp_input(now, datagram);
            }
            other => {
                self.counters.ip_rx_unknown_protocol += 1;
                debug!(target: "tunstack::drop", reason = "unknown protocol", protocol = other, "ip drop");
                self.drop_input("unknown protocol");
            }
        }
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
