//! ICMP errors for TCP: what a destination unreachable quoting one of our
//! segments does to its connection.
//!
//! * **Which connection.** The error quotes our IP header and the first 8 bytes
//!   of the segment: addresses, ports and the sequence number. The 4-tuple must
//!   name a connection, and the sequence number must lie in [SND.UNA, SND.NXT) —
//!   something we sent and is not yet acknowledged. Anything else is dropped and
//!   counted: an attacker who cannot see the connection cannot guess a sequence
//!   number in the window, which is the defence RFC 5927 §4.1 recommends.
//! * **While connecting (SYN-SENT).** Every error ends the attempt at once: port
//!   and protocol unreachable are hard errors (RFC 1122 4.2.3.9) and become
//!   `ConnectionRefused`; net and host unreachable are soft errors, and RFC 5461
//!   describes the widely implemented rule that aborts a pending connection on
//!   them too (so `connect` to a host a router says is unreachable fails in a
//!   round trip, not after two minutes of SYN retransmissions).
//! * **Once synchronized** every error is soft (RFC 5927 §7 advises treating hard
//!   errors so, since a forged one would otherwise reset a connection; Linux does
//!   the same): it is remembered, and if the connection later times out the program
//!   is told that error instead of a bare `TimedOut` (as Linux's `sk_err_soft`).
//! * **Fragmentation needed** is path MTU discovery's signal (RFC 1191): it lowers
//!   the connection's MSS (`pmtu.rs`).
//!
//! ICMPv6 errors (RFC 4443) take the same path: Destination Unreachable codes
//! sorted as Linux's `icmpv6_err_convert` does (administratively prohibited and
//! port unreachable hard, the others soft), Packet Too Big as path MTU
//! discovery's signal for IPv6 (RFC 8201, never below 1,280), validated by the
//! same window check (RFC 5927).

use std::io;
use std::net::SocketAddr;

use super::pmtu::{reported_mtu, MIN_PMTU};
use super::seq::SeqNumber;
use super::state::State;
use super::TcpTable;
use crate::ip::IpOutput;
use crate::shared::{Context, DropReason};
use crate::wire::icmp::{self, Quoted};
use crate::wire::icmpv6::{self, Quoted6};

/// What an ICMP destination-unreachable code means for TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    /// RFC 1122 4.2.3.9: the peer's host says nobody is there.
    Hard(io::ErrorKind),
    /// A router could not deliver now; it may later.
    Soft(io::ErrorKind),
    /// Not an error of the connection: the path MTU is this smaller one (RFC 1191,
    /// RFC 8201).
    PacketTooBig(usize),
}

/// What an ICMPv6 error of `icmp_type` with `code` and `param` means for TCP;
/// `None` for one TCP does not act on (Time Exceeded, Parameter Problem).
fn severity_v6(icmp_type: u8, code: u8, param: u32) -> Option<Severity> {
    match (icmp_type, code) {
        (icmpv6::types::PACKET_TOO_BIG, _) => Some(Severity::PacketTooBig(param as usize)),
        (icmpv6::types::DEST_UNREACHABLE, icmpv6::CODE_PORT_UNREACHABLE) => {
            Some(Severity::Hard(io::ErrorKind::ConnectionRefused))
        }
        (icmpv6::types::DEST_UNREACHABLE, icmpv6::CODE_ADMIN_PROHIBITED) => {
            Some(Severity::Hard(io::ErrorKind::PermissionDenied))
        }
        (icmpv6::types::DEST_UNREACHABLE, icmpv6::CODE_NO_ROUTE) => {
            Some(Severity::Soft(io::ErrorKind::NetworkUnreachable))
        }
        (icmpv6::types::DEST_UNREACHABLE, _) => Some(Severity::Soft(io::ErrorKind::HostUnreachable)),
        _ => None,
    }
}

/// The segment an error quotes: whether we sent it (from our address), its
/// local port, its peer, and its sequence number (if the quote holds it).
#[derive(Clone, Copy, Debug)]
struct About {
    ours: bool,
    local_port: u16,
    remote: SocketAddr,
    seq: Option<u32>,
}

fn severity(code: u8, next_hop_mtu: u16, quoted_total_len: u16) -> Severity {
    match code {
        icmp::CODE_PROTOCOL_UNREACHABLE | icmp::CODE_PORT_UNREACHABLE => {
            Severity::Hard(io::ErrorKind::ConnectionRefused)
        }
        icmp::CODE_NET_PROHIBITED | icmp::CODE_HOST_PROHIBITED | icmp::CODE_ADMIN_PROHIBITED => {
            Severity::Hard(io::ErrorKind::HostUnreachable)
        }
        icmp::CODE_FRAGMENTATION_NEEDED => {
            Severity::PacketTooBig(reported_mtu(next_hop_mtu, quoted_total_len).max(MIN_PMTU))
        }
        icmp::CODE_NET_UNREACHABLE | 6 | 11 => Severity::Soft(io::ErrorKind::NetworkUnreachable),
        _ => Severity::Soft(io::ErrorKind::HostUnreachable),
    }
}

impl TcpTable {
    /// An ICMP destination unreachable with `code` (and, for "fragmentation
    /// needed", `next_hop_mtu`) quoting a TCP segment.
    pub fn dest_unreachable(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        code: u8,
        next_hop_mtu: u16,
        quoted: &Quoted,
    ) {
        let remote = SocketAddr::from((quoted.dst, quoted.dst_port));
        let severity = severity(code, next_hop_mtu, quoted.total_len);
        let about =
            About { ours: quoted.src == self.config.addr, local_port: quoted.src_port, remote, seq: quoted.seq };
        self.icmp_error(ctx, out, severity, &about);
    }

    /// An ICMPv6 error (`icmp_type`, `code`, `param`: the MTU of a Packet Too
    /// Big) quoting a TCP segment. Whether it quoted a segment in flight (the
    /// stack then lets a Packet Too Big teach IPv6's path MTU cache too).
    pub fn icmpv6_error(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        (icmp_type, code, param): (u8, u8, u32),
        quoted: &Quoted6,
    ) -> bool {
        let Some(severity) = severity_v6(icmp_type, code, param) else { return false };
        let remote = SocketAddr::from((quoted.dst, quoted.dst_port));
        let ours = Some(quoted.src) == self.config.addr6;
        let about = About { ours, local_port: quoted.src_port, remote, seq: quoted.seq };
        self.icmp_error(ctx, out, severity, &about)
    }

    /// An error of `severity` about the segment `about` says; whether that is a
    /// segment in flight, which the connection acted on.
    fn icmp_error(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, severity: Severity, about: &About) -> bool {
        let About { ours, local_port, remote, seq } = *about;
        let found = ours.then(|| self.by_tuple.get(&(local_port, remote))).flatten().zip(seq);
        let Some((handle, seq)) = found else {
            ctx.drop(DropReason::TcpIcmpUnmatched, format_args!("local port={local_port} remote={remote}"));
            return false;
        };
        self.with(ctx, out, handle, |tcb, ctx| {
            let seq = SeqNumber(seq);
            // RFC 5927 §4.1: only what is in flight can have caused an error.
            if !(tcb.snd.snd_una <= seq && seq < tcb.snd.snd_nxt) {
                ctx.drop(DropReason::TcpIcmpOutOfWindow, format_args!("local={} remote={}", tcb.local, tcb.remote));
                return false;
            }
            match (severity, tcb.state) {
                (Severity::PacketTooBig(mtu), _) if ctx.tcp().path_mtu_discovery => tcb.on_packet_too_big(ctx, mtu),
                (Severity::PacketTooBig(_), _) => {}
                (Severity::Hard(kind) | Severity::Soft(kind), State::SynSent) => {
                    ctx.counters.tcp_icmp_aborts += 1;
                    tcb.fail(ctx, kind, "ICMP destination unreachable");
                }
                (Severity::Hard(kind) | Severity::Soft(kind), _) => {
                    ctx.counters.tcp_icmp_soft_errors += 1;
                    tcb.soft_error = Some(kind);
                }
            }
            true
        })
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_protocol_unreachable_are_hard_net_and_host_soft() {
        assert_eq!(severity(3, 0, 0), Severity::Hard(io::ErrorKind::ConnectionRefused));
        assert_eq!(severity(2, 0, 0), Severity::Hard(io::ErrorKind::ConnectionRefused));
        assert_eq!(severity(13, 0, 0), Severity::Hard(io::ErrorKind::HostUnreachable));
        assert_eq!(severity(0, 0, 0), Severity::Soft(io::ErrorKind::NetworkUnreachable));
        assert_eq!(severity(1, 0, 0), Severity::Soft(io::ErrorKind::HostUnreachable));
        assert_eq!(severity(4, 1400, 1500), Severity::PacketTooBig(1400));
        assert_eq!(severity(4, 0, 1500), Severity::PacketTooBig(1492), "RFC 1191 plateau");
        assert_eq!(severity(4, 100, 1500), Severity::PacketTooBig(MIN_PMTU), "not below the floor");
    }

    #[test]
    fn icmpv6_codes_sort_as_linux_sorts_them() {
        assert_eq!(severity_v6(1, 4, 0), Some(Severity::Hard(io::ErrorKind::ConnectionRefused)));
        assert_eq!(severity_v6(1, 1, 0), Some(Severity::Hard(io::ErrorKind::PermissionDenied)));
        assert_eq!(severity_v6(1, 0, 0), Some(Severity::Soft(io::ErrorKind::NetworkUnreachable)));
        assert_eq!(severity_v6(1, 3, 0), Some(Severity::Soft(io::ErrorKind::HostUnreachable)));
        assert_eq!(severity_v6(2, 0, 1400), Some(Severity::PacketTooBig(1400)));
        assert_eq!(severity_v6(3, 0, 0), None, "time exceeded");
    }
}
