//! Fuzz the example transport `examples/rdp/protocol.rs` inside a stack: the
//! stack (198.18.0.2, RDP registered on IP protocol 253) talks to a second RDP
//! endpoint driven directly, over a "link" the fuzzer is: it chooses which
//! datagram in flight is delivered next (reordering), duplicated or lost, when
//! time passes, when either program sends, and it injects arbitrary bytes as
//! datagrams of protocol 253 (with a repaired RDP checksum if it likes). Time
//! passes as on a real host — every timer runs at its deadline on the way — and
//! a datagram lives on the link at most [`LIFETIME`] (IP's TTL, TCP's MSL):
//! RDP's promise rests on both (its `Config::idle_timeout`).
//!
//! Checked after every step:
//! * the stack's invariants, RDP's own included (`Stack::check_invariants`)
//!   and the direct endpoint's (`Protocol::check_invariants`);
//! * everything the stack sends is an unfragmented IPv4 datagram of protocol 253
//!   from its address to the peer, carrying a valid RDP datagram;
//! * each side receives a prefix of what the other sent, in order, each message
//!   once — unless the fuzzer forged a valid datagram (then anything goes) or
//!   a flow gave up (its unacknowledged messages are lost, and the flow may
//!   start over).
//!
//! At the end, with every datagram delivered and time run on (a healed link),
//! everything sent has arrived, unless a flow gave up or a datagram was forged.
#![no_main]

#[path = "../../examples/rdp/protocol.rs"]
#[allow(dead_code)] // the target drives the protocol, not every helper of it
mod rdp;

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rdp::{decode, encode, Config, FlowId, Rdp, PROTOCOL};
use tunstack::proto::{IpDatagram, Protocol};
use tunstack::wire::ipv4::{self, Ipv4Repr};
use tunstack::{Instant, Stack, StackConfig};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The longest a datagram stays on the link; older ones are dropped.
const LIFETIME: Duration = Duration::from_secs(30);

#[derive(Arbitrary, Debug)]
enum Op {
    /// The stack's program sends a message of `len × 5` bytes to the peer.
    StackSends(u8),
    /// The peer's program sends one to the stack.
    PeerSends(u8),
    /// Deliver the datagram at `index` (modulo) of one direction; keep a copy
    /// in flight if `duplicate`.
    Deliver { to_stack: bool, index: u8, duplicate: bool },
    /// Lose the datagram at `index` of one direction.
    Lose { to_stack: bool, index: u8 },
    /// Arbitrary bytes from the peer as a datagram of protocol 253; with
    /// `fix`, the RDP checksum made valid.
    Inject { bytes: Vec<u8>, fix: bool },
    /// Let this many milliseconds pass and run the timers.
    Advance(u16),
}

/// Message `i` of a direction, `len` bytes: its number, repeated.
fn message(i: u32, len: usize) -> Vec<u8> {
    i.to_be_bytes().iter().copied().cycle().take(len).collect()
}

struct World {
    now: Instant,
    stack: Stack,
    peer: Rdp,
    /// In flight towards the stack (IP packets) and towards the peer (RDP
    /// datagrams), each with the time it was sent.
    to_stack: VecDeque<(Instant, Vec<u8>)>,
    to_peer: VecDeque<(Instant, Vec<u8>)>,
    /// Messages sent by the stack's program and by the peer's, in order.
    sent: [Vec<Vec<u8>>; 2],
    /// Messages received by the stack's program and by the peer's.
    received: [Vec<Vec<u8>>; 2],
    forged: bool,
}

impl World {
    fn rdp(&mut self) -> &mut Rdp {
        self.stack.protocol_mut(PROTOCOL).expect("RDP is registered")
    }

    /// Move what both sides transmit onto the link; check what the stack sent.
    fn transmit(&mut self) {
        while let Some(packet) = self.stack.poll_transmit() {
            let ip = ipv4::parse(&packet).expect("the stack sends valid IPv4");
            assert_eq!((ip.src, ip.dst, ip.protocol), (US, PEER, PROTOCOL));
            assert!(!ip.is_fragment(), "messages of at most 1,275 bytes fit the MTU");
            assert!(decode(ip.payload).is_some(), "the stack sends valid RDP");
            self.to_peer.push_back((self.now, ip.payload.to_vec()));
        }
        while let Some(t) = self.peer.poll_transmit() {
            assert_eq!(t.dst, US);
            self.to_stack.push_back((self.now, ip_packet(&t.payload)));
        }
        let rdp: &mut Rdp = self.stack.protocol_mut(PROTOCOL).expect("RDP is registered");
        self.received[0].extend(std::iter::from_fn(|| rdp.recv()).map(|(_, m)| m));
        self.received[1].extend(std::iter::from_fn(|| self.peer.recv()).map(|(_, m)| m));
    }

    fn deliver(&mut self, to_stack: bool, index: u8, duplicate: bool) {
        let queue = if to_stack { &mut self.to_stack } else { &mut self.to_peer };
        if queue.is_empty() {
            return;
        }
        let at = usize::from(index) % queue.len();
        let (_, datagram) = if duplicate { queue[at].clone() } else { queue.remove(at).expect("in range") };
        if to_stack {
            self.stack.input(self.now, &datagram);
        } else {
            let ip = IpDatagram { src: US, dst: PEER, protocol: PROTOCOL, ttl: 64, payload: &datagram };
            self.peer.input(self.now, &ip);
        }
    }

    /// Let `ms` pass, running every timer at its deadline on the way and
    /// dropping datagrams that outlived [`LIFETIME`].
    fn advance(&mut self, ms: u64) {
        let until = self.now + Duration::from_millis(ms);
        for _ in 0..100_000 {
            let next = [self.stack.poll_deadline(), self.peer.poll_deadline()].into_iter().flatten().min();
            let Some(at) = next.filter(|&at| at <= until) else { break };
            self.now = self.now.max(at);
            self.expire();
            if self.stack.poll_deadline().is_some_and(|t| t <= self.now) {
                self.stack.handle_timeout(self.now);
            }
            if self.peer.poll_deadline().is_some_and(|t| t <= self.now) {
                self.peer.handle_timeout(self.now);
            }
            self.transmit();
        }
        self.now = until;
        self.expire();
    }

    fn expire(&mut self) {
        let now = self.now;
        for queue in [&mut self.to_stack, &mut self.to_peer] {
            queue.retain(|(sent, _)| now - *sent < LIFETIME);
        }
    }

    fn gave_up(&mut self) -> bool {
        self.peer.stats().gave_up + self.rdp().stats().gave_up > 0
    }

    fn check(&mut self) {
        self.stack.check_invariants().expect("the stack's invariants");
        self.peer.check_invariants().expect("the peer's invariants");
        if !self.forged && !self.gave_up() {
            for side in 0..2 {
                let (got, sent) = (&self.received[side], &self.sent[1 - side]);
                assert!(got.len() <= sent.len() && got[..] == sent[..got.len()], "side {side}: not a prefix");
            }
        }
    }
}

/// An IPv4 packet from the peer to us of protocol 253.
fn ip_packet(payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr { src: PEER, dst: US, protocol: PROTOCOL, ttl: 64, id: 1, dont_fragment: false };
    let mut out = Vec::new();
    let _ = ipv4::emit(&mut out, &repr, 0, false, payload);
    out
}

fuzz_target!(|ops: Vec<Op>| {
    let mut stack = Stack::new(StackConfig { addr: US, ..StackConfig::default() });
    stack.register_protocol(PROTOCOL, Rdp::new(Config::default())).expect("253 is free");
    let mut w = World {
        now: Instant::ZERO,
        stack,
        peer: Rdp::new(Config::default()),
        to_stack: VecDeque::new(),
        to_peer: VecDeque::new(),
        sent: [Vec::new(), Vec::new()],
        received: [Vec::new(), Vec::new()],
        forged: false,
    };
    let (to_peer, to_stack) = (FlowId { peer: PEER, id: 1 }, FlowId { peer: US, id: 1 });
    for op in ops.into_iter().take(2_000) {
        match op {
            Op::StackSends(len) => {
                let m = message(w.sent[0].len() as u32, usize::from(len) * 5);
                let now = w.now;
                if w.rdp().send(now, to_peer, &m).is_ok() {
                    w.sent[0].push(m);
                }
            }
            Op::PeerSends(len) => {
                let m = message(w.sent[1].len() as u32, usize::from(len) * 5);
                if w.peer.send(w.now, to_stack, &m).is_ok() {
                    w.sent[1].push(m);
                }
            }
            Op::Deliver { to_stack, index, duplicate } => w.deliver(to_stack, index, duplicate),
            Op::Lose { to_stack, index } => {
                let queue = if to_stack { &mut w.to_stack } else { &mut w.to_peer };
                if !queue.is_empty() {
                    let at = usize::from(index) % queue.len();
                    queue.remove(at);
                }
            }
            Op::Inject { bytes, fix } => {
                let datagram = match decode(&bytes) {
                    _ if fix && bytes.len() >= 10 => encode(
                        bytes[0],
                        u16::from_be_bytes([bytes[4], bytes[5]]),
                        u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]),
                        &bytes[10..],
                    ),
                    _ => bytes,
                };
                w.forged |= decode(&datagram).is_some();
                w.stack.input(w.now, &ip_packet(&datagram));
            }
            Op::Advance(ms) => w.advance(u64::from(ms)),
        }
        w.transmit();
        w.check();
    }
    // Heal the link: deliver everything in order, run time on, until quiet.
    for _ in 0..10_000 {
        if w.to_stack.is_empty() && w.to_peer.is_empty() {
            match [w.stack.poll_deadline(), w.peer.poll_deadline()].into_iter().flatten().min() {
                Some(t) if t <= w.now + Duration::from_secs(5) => w.advance((t - w.now).as_millis() as u64 + 1),
                _ => break,
            }
        }
        while !w.to_stack.is_empty() || !w.to_peer.is_empty() {
            w.deliver(true, 0, false);
            w.deliver(false, 0, false);
        }
        w.transmit();
        w.check();
    }
    if !w.forged && !w.gave_up() {
        assert_eq!(w.received[1].len(), w.sent[0].len(), "the peer got everything the stack sent");
        assert_eq!(w.received[0].len(), w.sent[1].len(), "the stack got everything the peer sent");
    }
});
