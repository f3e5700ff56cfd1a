//! MSS clamping, as `iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN
//! -j TCPMSS --set-mss N` does on a router in front of a tunnel.
//!
//! A path whose MTU is smaller than the hosts' links (a VPN, PPPoE) loses every
//! full-sized segment if ICMP "fragmentation needed" is filtered somewhere — the
//! black hole of RFC 2923. Routers avoid it by lowering the MSS option of SYNs
//! in both directions to what fits, so each side sends segments that pass. The
//! option is rewritten in place and the checksum updated
//! ([`crate::wire::rewrite::clamp_mss`]); an MSS already below the clamp, or a
//! SYN without one, is left alone (Linux's `--set-mss` does not add one).

use super::Middlebox;
use crate::sim::link::Direction;
use crate::time::Instant;
use crate::wire::rewrite;

/// Lowers the MSS of every SYN and SYN,ACK to `max`, both ways.
#[derive(Clone, Copy, Debug)]
pub struct ClampMss {
    /// The largest MSS let through.
    pub max: u16,
    /// SYNs whose MSS it lowered.
    pub clamped: u64,
}

impl ClampMss {
    pub fn new(max: u16) -> Self {
        ClampMss { max, clamped: 0 }
    }
}

impl Middlebox for ClampMss {
    fn name(&self) -> &str {
        "mss-clamp"
    }

    fn process(
        &mut self,
        _: Instant,
        _: Direction,
        mut packet: Vec<u8>,
        _: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        if rewrite::is_tcp_syn(&packet) && rewrite::clamp_mss(&mut packet, self.max) == Ok(true) {
            self.clamped += 1;
        }
        Some(packet)
    }
}
