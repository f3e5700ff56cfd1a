//! Path MTU discovery for TCP (RFC 1191, with RFC 5927's defences and RFC 4821's
//! black-hole detection).
//!
//! Every segment leaves with Don't Fragment set, so a router whose next link is
//! too small drops it and answers ICMP "fragmentation needed" with that link's
//! MTU. The error reaches the connection (`icmp_errors.rs` checks its 4-tuple and
//! sequence number first), and [`Tcb::on_packet_too_big`] lowers the connection's
//! path MTU and MSS, cuts what is in flight to the new size and sends it again —
//! the router dropped it.
//!
//! * **Bounds.** The path MTU only goes down from ICMP (RFC 1191 §6.3: a larger
//!   value in an error is stale or forged), never below [`MIN_PMTU`] — 576, an MSS
//!   of 536 — whatever an error says (RFC 5927 §7.3: a forged error must not
//!   shrink a connection to tiny segments).
//! * **Old routers** send no next-hop MTU (0): the size is guessed from RFC 1191
//!   §7's plateau table, the first plateau below the quoted datagram's length.
//! * **Black holes.** Where ICMP is filtered, full-sized segments vanish without
//!   a word. Two retransmission timeouts in a row (RFC 4821 §5.3 calls this
//!   black-hole detection; Linux does it with `tcp_mtu_probing = 1`) step the path
//!   MTU down to the next of [`BLACK_HOLE_STEPS`] below it.
//! * Not done: raising the path MTU again later (RFC 8899's raise timer); a
//!   connection keeps the size it learned.

use tracing::debug;

use super::tcb::{header_overhead, Ctx, Tcb};

/// The smallest path MTU accepted: 576 bytes, the datagram every host must
/// accept (RFC 1122 3.3.3), an MSS of 536 (RFC 9293 §3.7.1).
pub(crate) const MIN_PMTU: usize = 576;

/// RFC 1191 §7's plateaus: likely MTUs, largest first.
const PLATEAUS: [usize; 11] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// The smallest path MTU over IPv6: its minimum link MTU (RFC 8200 §5; RFC 8201
/// §4: never estimated below it).
pub(crate) const MIN_PMTU_V6: usize = 1280;

/// Where black-hole detection steps the path MTU down to, largest first (IPv6's
/// minimum 1280, RFC 4821 §7.2's 1024, then the floor; over IPv6 only the first).
pub(crate) const BLACK_HOLE_STEPS: [usize; 3] = [MIN_PMTU_V6, 1024, MIN_PMTU];

/// RFC 1191 §5: the path MTU a "fragmentation needed" says, or — from a router
/// that sends none — the first plateau below the refused datagram's length.
pub(crate) fn reported_mtu(next_hop_mtu: u16, quoted_total_len: u16) -> usize {
    if next_hop_mtu >= 68 {
        return usize::from(next_hop_mtu);
    }
    let refused = usize::from(quoted_total_len);
    PLATEAUS.into_iter().find(|&p| p < refused).unwrap_or(68)
}

impl Tcb {
    /// An ICMP "fragmentation needed" or ICMPv6 Packet Too Big (RFC 8201) quoting
    /// a segment in flight, reporting `mtu`: lower the path MTU to it (not below
    /// the family's floor) and resend.
    pub(crate) fn on_packet_too_big(&mut self, ctx: &mut Ctx<'_>, mtu: usize) {
        let floor = if self.remote.is_ipv6() { MIN_PMTU_V6 } else { MIN_PMTU };
        let mtu = mtu.max(floor);
        if mtu >= self.pmtu {
            return;
        }
        ctx.counters.tcp_pmtu_reductions += 1;
        self.lower_path_mtu(mtu, "ICMP packet too big");
        self.output(ctx);
    }

    /// Black-hole detection: called at a retransmission timeout, before the
    /// flight is marked lost and resent. After two in a row of a segment larger
    /// than the next step down, take that step.
    pub(crate) fn detect_black_hole(&mut self, ctx: &mut Ctx<'_>) {
        if !ctx.tcp().path_mtu_discovery || self.snd.retries != 2 {
            return;
        }
        let floor = if self.remote.is_ipv6() { MIN_PMTU_V6 } else { MIN_PMTU };
        let Some(step) = BLACK_HOLE_STEPS.into_iter().find(|&s| s < self.pmtu && s >= floor) else {
            return;
        };
        let largest = self.snd.sent.iter().map(|s| s.len()).max().unwrap_or(0);
        if largest + header_overhead(&self.remote) <= step {
            // Nothing in flight would have been too big for the smaller path: the
            // silence is not the MTU's fault.
            return;
        }
        ctx.counters.tcp_pmtu_blackholes += 1;
        self.lower_path_mtu(step, "black hole: timeouts of full-sized segments");
    }

    /// Adopt a smaller path MTU: a smaller MSS for what is sent from now on, and
    /// every record in flight cut to it; the pieces of records that were too
    /// big are lost (a router dropped them), for `output` to send again.
    fn lower_path_mtu(&mut self, mtu: usize, cause: &'static str) {
        let before = self.pmtu;
        self.pmtu = mtu;
        let mss = self.send_mss();
        debug!(
            target: "tunstack::tcp::pmtu", local = %self.local, remote = %self.remote, from = before, to = mtu, mss, cause,
            "path MTU lowered"
        );
        self.snd.mss = mss;
        self.snd.cc.set_mss(mss);
        self.snd.sent.resegment(mss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_without_next_hop_mtu_gets_the_plateau_below_the_datagram() {
        assert_eq!(reported_mtu(1280, 1500), 1280);
        assert_eq!(reported_mtu(0, 1500), 1492);
        assert_eq!(reported_mtu(0, 1492), 1006);
        assert_eq!(reported_mtu(0, 600), 508, "below the floor: the caller clamps it");
        assert_eq!(reported_mtu(10, 4000), 2002, "a next-hop MTU below 68 is no MTU");
    }
}
