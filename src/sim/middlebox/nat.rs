//! A source NAT (RFC 4787 "NAPT"), as a home router does it.
//!
//! On the way out (A → B) the NAT replaces the source address and port of each
//! TCP or UDP packet by its public address and a port of its own, the same port
//! for as long as the inside address and port stay the same (an
//! endpoint-independent mapping: it does not depend on where the packet goes).
//! On the way in (B → A) it looks up the destination port and puts the inside
//! address and port back. The checksums are updated, not recomputed
//! ([`crate::wire::rewrite`]).
//!
//! What it drops, counting each: a packet for the public address with no
//! mapping (nobody inside asked for it), and what it cannot translate — ICMP,
//! fragments, other protocols. Mappings never expire and any outside host may
//! use one (endpoint-independent filtering, "full cone"); a real NAT also times
//! mappings out, which a test of idle connections would add.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::Middlebox;
use crate::sim::link::Direction;
use crate::time::Instant;
use crate::wire::rewrite::{self, Flow};

/// What a [`Nat`] did, packet by packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Outgoing packets given the public address and a mapped port.
    pub translated_out: u64,
    /// Incoming packets given back the inside address and port.
    pub translated_in: u64,
    /// Incoming packets that matched no mapping.
    pub unmatched: u64,
    /// Packets it could not translate (not TCP or UDP, fragments, malformed).
    pub untranslatable: u64,
    /// Outgoing packets of a new flow when every port was taken.
    pub ports_exhausted: u64,
}

/// A source NAT in front of host A. See the module documentation.
#[derive(Debug)]
pub struct Nat {
    public: Ipv4Addr,
    /// The next public port to hand out.
    next_port: Option<u16>,
    /// Inside endpoint → public port, per protocol.
    out: BTreeMap<(u8, SocketAddrV4), u16>,
    /// Public port → inside endpoint, per protocol.
    back: BTreeMap<(u8, u16), SocketAddrV4>,
    stats: NatStats,
}

impl Nat {
    /// A NAT whose outside address is `public`, handing out public ports from
    /// `first_port` upwards, one per inside address and port.
    pub fn new(public: Ipv4Addr, first_port: u16) -> Self {
        Nat {
            public,
            next_port: Some(first_port),
            out: BTreeMap::new(),
            back: BTreeMap::new(),
            stats: NatStats::default(),
        }
    }

    /// The public address and port that `inside` (a host A endpoint) appears as
    /// for `protocol`, once it has sent something.
    pub fn mapping(&self, protocol: u8, inside: SocketAddrV4) -> Option<SocketAddrV4> {
        let port = self.out.get(&(protocol, inside))?;
        Some(SocketAddrV4::new(self.public, *port))
    }

    pub fn stats(&self) -> &NatStats {
        &self.stats
    }

    /// The public port of `flow`'s source, mapping it now if it is new.
    fn map(&mut self, flow: &Flow) -> Option<u16> {
        if let Some(&port) = self.out.get(&(flow.protocol, flow.src)) {
            return Some(port);
        }
        let port = self.next_port?;
        self.next_port = port.checked_add(1);
        self.out.insert((flow.protocol, flow.src), port);
        self.back.insert((flow.protocol, port), flow.src);
        Some(port)
    }

    fn outgoing(&mut self, mut packet: Vec<u8>) -> Option<Vec<u8>> {
        let Ok(flow) = rewrite::flow(&packet) else {
            self.stats.untranslatable += 1;
            return None;
        };
        let Some(port) = self.map(&flow) else {
            self.stats.ports_exhausted += 1;
            return None;
        };
        rewrite::set_source(&mut packet, SocketAddrV4::new(self.public, port)).ok()?;
        self.stats.translated_out += 1;
        Some(packet)
    }

    fn incoming(&mut self, mut packet: Vec<u8>) -> Option<Vec<u8>> {
        let Ok(flow) = rewrite::flow(&packet) else {
            self.stats.untranslatable += 1;
            return None;
        };
        let inside =
            (*flow.dst.ip() == self.public).then(|| self.back.get(&(flow.protocol, flow.dst.port()))).flatten();
        let Some(&inside) = inside else {
            self.stats.unmatched += 1;
            return None;
        };
        rewrite::set_destination(&mut packet, inside).ok()?;
        self.stats.translated_in += 1;
        Some(packet)
    }
}

impl Middlebox for Nat {
    fn name(&self) -> &str {
        "nat"
    }

    fn process(
        &mut self,
        _: Instant,
        direction: Direction,
        packet: Vec<u8>,
        _: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        match direction {
            Direction::AToB => self.outgoing(packet),
            Direction::BToA => self.incoming(packet),
        }
    }
}
