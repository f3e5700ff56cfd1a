//! The registered protocols, by IP protocol number, and the stack's side of
//! each call of the [`Protocol`] trait: what it counts, when it asks.
//!
//! The table is ordered (a `BTreeMap`), so every pass over the protocols —
//! asking for datagrams, timers, events — goes in the same order on every run.

use std::any::Any;
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;

use super::{IcmpError, IpDatagram, Protocol, Verdict};
use crate::counters::Counters;
use crate::ip::{check_program_protocol, Datagram, IpOutput};
use crate::shared::Context;
use crate::time::Instant;

/// Every protocol registered on a stack.
#[derive(Debug, Default)]
pub(crate) struct ProtocolTable {
    protocols: BTreeMap<u8, Box<dyn Protocol>>,
}

impl ProtocolTable {
    /// Put `protocol` on IP protocol `number`. The stack's own protocols and the
    /// reserved numbers cannot be taken, nor a number taken already.
    pub fn register(&mut self, number: u8, protocol: Box<dyn Protocol>) -> io::Result<()> {
        check_program_protocol(number)?;
        if self.protocols.contains_key(&number) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("a protocol is already registered on IP protocol {number}"),
            ));
        }
        self.protocols.insert(number, protocol);
        Ok(())
    }

    /// The protocol on `number`, as its own type `P`.
    pub fn get<P: Protocol>(&self, number: u8) -> io::Result<&P> {
        let protocol: &dyn Any = self.protocols.get(&number).ok_or_else(|| not_registered(number))?.as_ref();
        protocol.downcast_ref().ok_or_else(|| wrong_type::<P>(number))
    }

    /// The protocol on `number`, as its own type `P`, to call its API.
    pub fn get_mut<P: Protocol>(&mut self, number: u8) -> io::Result<&mut P> {
        let protocol: &mut dyn Any = self.protocols.get_mut(&number).ok_or_else(|| not_registered(number))?.as_mut();
        protocol.downcast_mut().ok_or_else(|| wrong_type::<P>(number))
    }

    /// Hand a whole datagram to the protocol registered on its number; `None` if
    /// there is none. Each datagram handed over counts in `proto_rx`.
    pub fn input(&mut self, ctx: &mut Context<'_>, ip: &Datagram<'_>) -> Option<Verdict> {
        let protocol = self.protocols.get_mut(&ip.protocol)?;
        ctx.counters.proto_rx += 1;
        let datagram = IpDatagram { src: ip.src, dst: ip.dst, protocol: ip.protocol, ttl: ip.ttl, payload: ip.payload };
        Some(protocol.input(ctx.now, &datagram))
    }

    /// Ask each protocol in turn for a datagram and send it, until one is queued
    /// or none has anything. A datagram IP output refuses (too big for it, a
    /// destination one cannot send to) is counted in `proto_tx_refused`.
    pub fn transmit(&mut self, counters: &mut Counters, out: &mut IpOutput) {
        while out.len() == 0 {
            let mut asked = false;
            for (&number, protocol) in &mut self.protocols {
                let Some(datagram) = protocol.poll_transmit() else { continue };
                asked = true;
                send(counters, out, number, &datagram.payload, datagram.dst, datagram.dont_fragment);
            }
            if !asked {
                return;
            }
        }
    }

    /// The earliest deadline of any protocol.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.protocols.values().filter_map(|p| p.poll_deadline()).min()
    }

    /// Run the timers of every protocol whose deadline has come.
    pub fn on_timeout(&mut self, now: Instant) {
        for protocol in self.protocols.values_mut() {
            if protocol.poll_deadline().is_some_and(|due| due <= now) {
                protocol.handle_timeout(now);
            }
        }
    }

    /// The next socket event of any protocol: `(number, socket)`.
    pub fn poll_event(&mut self) -> Option<(u8, u64)> {
        self.protocols.iter_mut().find_map(|(&number, p)| p.poll_event().map(|socket| (number, socket)))
    }

    /// An ICMP error quoting a datagram of protocol `number`, if one is registered.
    pub fn icmp_error(&mut self, now: Instant, number: u8, error: &IcmpError<'_>) {
        if let Some(protocol) = self.protocols.get_mut(&number) {
            protocol.icmp_error(now, error);
        }
    }

    /// Every protocol's own invariants.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (number, protocol) in &self.protocols {
            protocol.check_invariants().map_err(|e| format!("protocol {number}: {e}"))?;
        }
        Ok(())
    }
}

/// One datagram of protocol `number` through IP output.
fn send(counters: &mut Counters, out: &mut IpOutput, number: u8, payload: &[u8], dst: Ipv4Addr, df: bool) {
    let sendable = !(dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast());
    let sent = sendable
        && if df {
            out.send_dont_fragment(counters, dst, number, payload)
        } else {
            out.send(counters, dst, number, payload)
        }
        .is_ok();
    if sent {
        counters.proto_tx += 1;
    } else {
        counters.proto_tx_refused += 1;
        tracing::debug!(target: "tunstack::drop", protocol = number, %dst, len = payload.len(), "protocol datagram refused by IP output");
    }
}

fn not_registered(number: u8) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no protocol is registered on IP protocol {number}"))
}

fn wrong_type<P>(number: u8) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("the protocol on IP protocol {number} is not a {}", std::any::type_name::<P>()),
    )
}
