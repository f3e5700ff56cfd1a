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

use std::io;
use std::net::SocketAddr;

use super::seq::SeqNumber;
use super::state::State;
use super::TcpTable;
use crate::ip::IpOutput;
use crate::shared::{Context, DropReason};
use crate::wire::icmp::{self, Quoted};

/// What an ICMP destination-unreachable code means for TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    /// RFC 1122 4.2.3.9: the peer's host says nobody is there.
    Hard(io::ErrorKind),
    /// A router could not deliver now; it may later.
    Soft(io::ErrorKind),
    /// Not an error of the connection: the path MTU is smaller (RFC 1191).
    PacketTooBig,
}

fn severity(code: u8) -> Severity {
    match code {
        icmp::CODE_PROTOCOL_UNREACHABLE | icmp::CODE_PORT_UNREACHABLE => {
            Severity::Hard(io::ErrorKind::ConnectionRefused)
        }
        icmp::CODE_NET_PROHIBITED | icmp::CODE_HOST_PROHIBITED | icmp::CODE_ADMIN_PROHIBITED => {
            Severity::Hard(io::ErrorKind::HostUnreachable)
        }
        icmp::CODE_FRAGMENTATION_NEEDED => Severity::PacketTooBig,
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
        let found = (quoted.src == self.config.addr)
            .then(|| self.by_tuple.get(&(quoted.src_port, remote)).copied())
            .flatten()
            .zip(quoted.seq);
        let Some((handle, seq)) = found else {
            ctx.drop(DropReason::TcpIcmpUnmatched, format_args!("local port={} remote={remote}", quoted.src_port));
            return;
        };
        self.with(ctx, out, handle, |tcb, ctx| {
            let seq = SeqNumber(seq);
            // RFC 5927 §4.1: only what is in flight can have caused an error.
            if !(tcb.snd.snd_una <= seq && seq < tcb.snd.snd_nxt) {
                ctx.drop(DropReason::TcpIcmpOutOfWindow, format_args!("local={} remote={}", tcb.local, tcb.remote));
                return;
            }
            match (severity(code), tcb.state) {
                (Severity::PacketTooBig, _) if ctx.tcp().path_mtu_discovery => {
                    tcb.on_packet_too_big(ctx, next_hop_mtu, quoted.total_len);
                }
                (Severity::PacketTooBig, _) => {}
                (Severity::Hard(kind) | Severity::Soft(kind), State::SynSent) => {
                    ctx.counters.tcp_icmp_aborts += 1;
                    tcb.fail(ctx, kind, "ICMP destination unreachable");
                }
                (Severity::Hard(kind) | Severity::Soft(kind), _) => {
                    ctx.counters.tcp_icmp_soft_errors += 1;
                    tcb.soft_error = Some(kind);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_protocol_unreachable_are_hard_net_and_host_soft() {
        assert_eq!(severity(3), Severity::Hard(io::ErrorKind::ConnectionRefused));
        assert_eq!(severity(2), Severity::Hard(io::ErrorKind::ConnectionRefused));
        assert_eq!(severity(13), Severity::Hard(io::ErrorKind::HostUnreachable));
        assert_eq!(severity(0), Severity::Soft(io::ErrorKind::NetworkUnreachable));
        assert_eq!(severity(1), Severity::Soft(io::ErrorKind::HostUnreachable));
        assert_eq!(severity(4), Severity::PacketTooBig);
    }
}
