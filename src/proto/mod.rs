//! Protocols of your own inside the core: a transport on an IP protocol number,
//! sans-IO and deterministic like TCP, that the stack feeds and drains.
//!
//! A raw socket ([`crate::RawSocket`]) lets a *program* speak a protocol; a
//! [`Protocol`] lives *inside* the stack, beside ICMP, UDP and TCP, and is driven
//! the way the stack itself is driven — packets and time in, packets and events
//! out, no clock, no thread, no IO:
//!
//! | the stack calls | when |
//! |-----------------|------|
//! | [`Protocol::input`] | a whole datagram of its number arrived (validated, reassembled) |
//! | [`Protocol::poll_transmit`] | the link has room: the next datagram to send, if any |
//! | [`Protocol::poll_deadline`] | to join the stack's own [`poll_deadline`](crate::Stack::poll_deadline) |
//! | [`Protocol::handle_timeout`] | its deadline has come |
//! | [`Protocol::poll_event`] | the program should look at one of its sockets again |
//! | [`Protocol::icmp_error`] | an ICMP destination unreachable quotes one of its datagrams |
//!
//! A protocol is registered on one number with
//! [`Stack::register_protocol`](crate::Stack::register_protocol), and a program
//! reaches it through the stack as its own type with
//! [`Stack::protocol_mut`](crate::Stack::protocol_mut) (or, on a running stack,
//! [`ProtocolHandle`](crate::socket::ProtocolHandle)). What it sends goes through
//! the stack's IP output like everything else: our address as source,
//! fragmentation to the MTU, the counters, the capture and the fault injector.
//!
//! **A raw socket on the same number** gets a copy of every datagram first, as on
//! Linux (`raw_local_deliver` runs before the protocol's handler); the
//! protocol's [`Verdict`] then decides what the stack counts and answers. A
//! number with neither is answered with ICMP protocol unreachable.
//!
//! `examples/rdp/` is a worked example (a reliable datagram protocol on 253),
//! and `docs/prototyping.md` the walk from an empty crate to a tested protocol.

mod table;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::net::Ipv4Addr;

use crate::time::Instant;

pub(crate) use table::ProtocolTable;

/// A transport protocol of your own, run inside the [`Stack`](crate::Stack) on
/// one IP protocol number.
///
/// Every call takes the time as a value and returns at once; the protocol owns
/// its state and nothing else, so the same calls give the same datagrams, byte
/// for byte — in the simulator, under a fuzzer, or on a TUN. `Any` lets a
/// program get the protocol back as its own type; `Send` lets a running stack
/// live on a driver thread.
pub trait Protocol: Any + Send + fmt::Debug {
    /// A whole datagram of this protocol arrived at `now`, addressed to us. Say
    /// what became of it: the stack counts it and, for the capture, notes why it
    /// was dropped.
    fn input(&mut self, now: Instant, datagram: &IpDatagram<'_>) -> Verdict;

    /// The next datagram to send, if any. The stack asks only when its transmit
    /// queue is empty, so a protocol keeps what it cannot send yet — the link's
    /// back-pressure, as TCP feels it.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// When [`handle_timeout`](Protocol::handle_timeout) next has work (`None`:
    /// no timer armed).
    fn poll_deadline(&self) -> Option<Instant>;

    /// Run the timers due at `now`. Called only once
    /// [`poll_deadline`](Protocol::poll_deadline) is due.
    fn handle_timeout(&mut self, now: Instant);

    /// One of the protocol's sockets (a number of its own choosing) changed: data
    /// to read, room to write, an error. The stack hands it on as
    /// [`Event::Protocol`](crate::Event::Protocol). A socket should appear at most
    /// once until the program has looked at it.
    fn poll_event(&mut self) -> Option<u64> {
        None
    }

    /// An ICMP destination unreachable arrived that quotes a datagram of this
    /// protocol (RFC 792): a port or protocol the peer lacks, or "fragmentation
    /// needed" with the next hop's MTU (RFC 1191) — what TCP uses for path MTU
    /// discovery and UDP reports to a connected socket.
    fn icmp_error(&mut self, _now: Instant, _error: &IcmpError<'_>) {}

    /// Check the protocol's own rules, for
    /// [`Stack::check_invariants`](crate::Stack::check_invariants) (the
    /// simulator runs it around every step); `Err` names the first one broken.
    fn check_invariants(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A whole IPv4 datagram as a [`Protocol`] receives it: after the IP header's
/// checks and after reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpDatagram<'a> {
    /// The sender.
    pub src: Ipv4Addr,
    /// Our address.
    pub dst: Ipv4Addr,
    /// The IP protocol number (the one the protocol was registered on).
    pub protocol: u8,
    /// The TTL it arrived with.
    pub ttl: u8,
    /// Everything after the IP header.
    pub payload: &'a [u8],
}

/// One datagram a [`Protocol`] wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to: a unicast address.
    pub dst: Ipv4Addr,
    /// The protocol's header and data; the stack adds the IP header.
    pub payload: Vec<u8>,
    /// Set Don't Fragment (RFC 1191 path MTU discovery): larger than the MTU, the
    /// datagram is refused and counted instead of fragmented.
    pub dont_fragment: bool,
}

impl Transmit {
    /// A datagram to `dst` that may be fragmented.
    pub fn new(dst: Ipv4Addr, payload: Vec<u8>) -> Self {
        Transmit { dst, payload, dont_fragment: false }
    }
}

/// What a [`Protocol`] did with a datagram from [`Protocol::input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Taken in (a duplicate it recognised and acknowledged is taken in too).
    Accepted,
    /// Malformed: too short, bad checksum, a field out of range. Counted in
    /// `proto_rx_malformed`; the capture says "protocol malformed".
    Malformed,
    /// Well formed, but nothing here wants it — UDP's closed port. The stack
    /// counts it (`proto_rx_unreachable`) and answers ICMP port unreachable (RFC
    /// 1122 4.1.3.1), rate-limited like every error.
    Unreachable,
}

/// An ICMP destination unreachable about one of our datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError<'a> {
    /// The code: 2 protocol, 3 port unreachable, 4 fragmentation needed, …
    pub code: u8,
    /// For "fragmentation needed": the next hop's MTU (0 if the router did not
    /// say, RFC 1191 §4).
    pub next_hop_mtu: u16,
    /// Where our datagram was going.
    pub dst: Ipv4Addr,
    /// The start of our datagram's payload as quoted (at least 8 bytes, RFC 792;
    /// often more): enough to find the socket it came from.
    pub quoted: &'a [u8],
}
