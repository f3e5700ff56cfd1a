//! RDP, a reliable datagram protocol on IP protocol 253 (RFC 3692's number for
//! experiments): the worked example of a transport built on
//! [`tunstack::proto::Protocol`], and the template to copy for your own.
//! (A toy of ours, not RFC 908's Reliable Data Protocol, IP protocol 27.)
//!
//! **What it promises.** A program sends messages (up to [`Config::max_message`]
//! bytes each) on a *flow* to a peer, and the peer's program receives each of
//! them exactly once and in the order sent — over a path that loses,
//! reorders and duplicates datagrams. Both ends of a flow send; the flow is
//! named by the peer's address and a 16-bit id the opener picks ([`FlowId`]).
//!
//! **The wire format.** Every datagram starts with a 10-byte header (fields
//! big-endian):
//!
//! ```text
//!  0      1      2             4             6                           10
//! +------+------+-------------+-------------+---------------------------+----------
//! | kind | 0    | checksum    | flow id     | sequence number           | message…
//! +------+------+-------------+-------------+---------------------------+----------
//! ```
//!
//! * `kind` 1 is DATA: `sequence` numbers the message (0, 1, 2, … per flow and
//!   direction, wrapping at 2³²), the message follows.
//! * `kind` 2 is ACK: `sequence` is the next message the receiver expects — every
//!   message before it has arrived (a *cumulative* acknowledgement, as TCP's).
//! * `checksum` is the Internet checksum (RFC 1071) of the whole datagram with
//!   this field zero: IP's own checksum covers only IP's header.
//!
//! **How.** The sender keeps up to [`Config::window`] messages in flight (sent,
//! not yet acknowledged) and the rest queued. One retransmission timer per flow
//! runs while messages are in flight; when it fires, the oldest one is sent
//! again and the timeout doubles (RFC 6298 §5.5's back-off), up to
//! [`Config::max_retries`] times before the flow gives up. An ACK that moves
//! the window forward resets the timeout. The receiver hands over in-order
//! messages at once, holds early ones (within the window) until the gap is
//! filled, and answers every DATA with an ACK — duplicates too, since their
//! sender evidently missed the last ACK.
//!
//! What a real protocol would add: an RTT estimate instead of a fixed initial
//! timeout (RFC 6298), selective acknowledgements so one loss does not cost a
//! timeout per hole (RFC 2018), congestion control (RFC 5681), a handshake that
//! tells a restarted peer's flow from the old one (TCP's ISN, RFC 9293 §3.4.1).
//! Here a flow is forgotten after [`Config::idle_timeout`] of quiet, which must
//! exceed both the longest a datagram lives on the path and the longest a
//! sender keeps retrying.
//!
//! Every bound is in [`Config`] and every datagram refused is counted in
//! [`Stats`]. Like the stack, the protocol reads no clock: time comes in as
//! `now`, so the same calls give the same datagrams.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use tunstack::proto::{IpDatagram, Protocol, Transmit, Verdict};
use tunstack::Instant;

/// RFC 3692's first experimental IP protocol number.
pub const PROTOCOL: u8 = 253;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 10;
/// The one "socket" RDP reports events for (see [`Protocol::poll_event`]):
/// messages arrived, or room to send opened.
pub const READY: u64 = 0;

const DATA: u8 = 1;
const ACK: u8 = 2;

/// A flow: the peer and the id its opener chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    pub peer: Ipv4Addr,
    pub id: u16,
}

/// Every bound and timer of the protocol.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most messages in flight per flow, and how far ahead of the next expected
    /// message the receiver keeps early ones.
    pub window: u32,
    /// The first retransmission timeout (and the one after progress).
    pub initial_rto: Duration,
    /// The longest timeout the back-off reaches.
    pub max_rto: Duration,
    /// Retransmissions of one message before the flow gives up.
    pub max_retries: u32,
    /// Messages queued per flow beyond the window; more: `WouldBlock`.
    pub send_queue: usize,
    /// Messages received and not yet taken by the program, all flows together;
    /// more wait in their flow's window, unacknowledged.
    pub inbox: usize,
    /// Most flows at once.
    pub max_flows: usize,
    /// A flow with nothing in flight is forgotten after this long without a
    /// datagram. It must exceed the time a sender keeps retrying (at most
    /// `max_retries` × `max_rto`), or a late retransmission of an old message
    /// would start the forgotten flow over and be delivered twice.
    pub idle_timeout: Duration,
    /// The largest message.
    pub max_message: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 16,
            initial_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(2),
            max_retries: 20,
            send_queue: 256,
            inbox: 1024,
            max_flows: 64,
            idle_timeout: Duration::from_secs(60),
            max_message: 8192,
        }
    }
}

/// What the protocol did, for tests and for curious users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// DATA datagrams sent for the first time.
    pub sent: u64,
    /// DATA datagrams sent again after a timeout.
    pub retransmitted: u64,
    /// ACKs sent.
    pub acks_sent: u64,
    /// Messages handed to the inbox, in order.
    pub delivered: u64,
    /// DATA already received (delivered or held): acknowledged again, dropped.
    pub duplicates: u64,
    /// DATA beyond the receive window.
    pub refused: u64,
    /// ACKs of nothing in flight (stale or forged).
    pub bad_acks: u64,
    /// Datagrams too short, of an unknown kind, or with a bad checksum.
    pub malformed: u64,
    /// DATA that would have opened a flow past `max_flows`.
    pub flows_full: u64,
    /// Flows given up after `max_retries`.
    pub gave_up: u64,
}

/// One flow's state, both directions.
#[derive(Debug)]
struct Flow {
    // Sending.
    /// Sequence number of `in_flight[0]`.
    send_base: u32,
    /// Messages in the window, oldest first: sent, or about to be.
    in_flight: VecDeque<Vec<u8>>,
    /// How many of `in_flight` have been sent at least once.
    sent: usize,
    /// Messages waiting for room in the window.
    queued: VecDeque<Vec<u8>>,
    /// The oldest message must go out again (its timer fired).
    resend_oldest: bool,
    rto: Duration,
    retries: u32,
    /// When the oldest message in flight is retransmitted; armed exactly while
    /// something is in flight.
    retransmit_at: Option<Instant>,
    // Receiving.
    /// The next message to hand over.
    expected: u32,
    /// Messages that came early, by sequence number, within the window.
    early: BTreeMap<u32, Vec<u8>>,
    /// An ACK is owed.
    ack_due: bool,
    /// The last datagram to or from the flow, for the idle timeout.
    last_active: Instant,
}

impl Flow {
    fn new(config: &Config, now: Instant) -> Flow {
        Flow {
            send_base: 0,
            in_flight: VecDeque::new(),
            sent: 0,
            queued: VecDeque::new(),
            resend_oldest: false,
            rto: config.initial_rto,
            retries: 0,
            retransmit_at: None,
            expected: 0,
            early: BTreeMap::new(),
            ack_due: false,
            last_active: now,
        }
    }

    /// Move queued messages into the window while it has room; arm the timer.
    fn fill_window(&mut self, config: &Config, now: Instant) {
        while self.in_flight.len() < config.window as usize {
            let Some(message) = self.queued.pop_front() else { break };
            self.in_flight.push_back(message);
        }
        if !self.in_flight.is_empty() && self.retransmit_at.is_none() {
            self.retransmit_at = Some(now + self.rto);
        }
    }

    /// Nothing in flight, queued, held or owed: the flow may be forgotten.
    fn is_quiet(&self) -> bool {
        self.in_flight.is_empty() && self.queued.is_empty() && self.early.is_empty() && !self.ack_due
    }

    fn deadline(&self, config: &Config) -> Option<Instant> {
        match self.retransmit_at {
            Some(at) => Some(at),
            None if self.is_quiet() => Some(self.last_active + config.idle_timeout),
            None => None,
        }
    }
}

/// The protocol: every flow, the inbox, the stats. Register it on a stack with
/// `stack.register_protocol(PROTOCOL, Rdp::new(Config::default()))`.
#[derive(Debug)]
pub struct Rdp {
    config: Config,
    flows: BTreeMap<FlowId, Flow>,
    inbox: VecDeque<(FlowId, Vec<u8>)>,
    /// An event for [`READY`] is owed.
    ready: bool,
    stats: Stats,
}

impl Rdp {
    pub fn new(config: Config) -> Rdp {
        Rdp { config, flows: BTreeMap::new(), inbox: VecDeque::new(), ready: false, stats: Stats::default() }
    }

    /// Queue `message` on `flow` (opening it if new). Errors: `InvalidInput` for
    /// a message over `max_message`, `WouldBlock` when the flow's queue is full,
    /// `OutOfMemory` when a new flow would pass `max_flows`.
    pub fn send(&mut self, now: Instant, flow: FlowId, message: &[u8]) -> io::Result<()> {
        if message.len() > self.config.max_message {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "message longer than max_message"));
        }
        if !self.flows.contains_key(&flow) && self.flows.len() >= self.config.max_flows {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "max_flows reached"));
        }
        let config = &self.config;
        let state = self.flows.entry(flow).or_insert_with(|| Flow::new(config, now));
        if state.queued.len() >= config.send_queue {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        state.queued.push_back(message.to_vec());
        state.last_active = now;
        state.fill_window(config, now);
        Ok(())
    }

    /// The oldest message received, and its flow.
    pub fn recv(&mut self) -> Option<(FlowId, Vec<u8>)> {
        self.inbox.pop_front()
    }

    /// The flow of the oldest message received, without taking it.
    pub fn peek(&self) -> Option<FlowId> {
        self.inbox.front().map(|(flow, _)| *flow)
    }

    /// Whether `send` on `flow` would take a message now.
    pub fn can_send(&self, flow: FlowId) -> bool {
        match self.flows.get(&flow) {
            Some(f) => f.queued.len() < self.config.send_queue,
            None => self.flows.len() < self.config.max_flows,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// One DATA datagram arrived on `flow`.
    fn on_data(&mut self, now: Instant, flow: FlowId, seq: u32, message: &[u8]) -> Verdict {
        if !self.flows.contains_key(&flow) && self.flows.len() >= self.config.max_flows {
            self.stats.flows_full += 1;
            return Verdict::Unreachable;
        }
        let config = &self.config;
        let state = self.flows.entry(flow).or_insert_with(|| Flow::new(config, now));
        state.last_active = now;
        state.ack_due = true;
        // How far past the next expected message this one is (mod 2³²): below
        // half the space it is new, above it is old.
        let offset = seq.wrapping_sub(state.expected);
        if offset >= 1 << 31 || state.early.contains_key(&seq) {
            self.stats.duplicates += 1;
        } else if offset >= config.window {
            self.stats.refused += 1;
        } else {
            state.early.insert(seq, message.to_vec());
        }
        // Hand over everything now in order, while the inbox has room (what
        // does not fit waits, unacknowledged, for the program to read).
        while self.inbox.len() < config.inbox {
            let Some(next) = state.early.remove(&state.expected) else { break };
            self.inbox.push_back((flow, next));
            state.expected = state.expected.wrapping_add(1);
            self.stats.delivered += 1;
            self.ready = true;
        }
        Verdict::Accepted
    }

    /// One ACK arrived on `flow`: everything before `next` has been received.
    fn on_ack(&mut self, now: Instant, flow: FlowId, next: u32) {
        let Some(state) = self.flows.get_mut(&flow) else {
            self.stats.bad_acks += 1;
            return;
        };
        let acked = next.wrapping_sub(state.send_base) as usize;
        if acked > state.sent {
            self.stats.bad_acks += 1; // acknowledges what was never sent
            return;
        }
        state.last_active = now;
        if acked == 0 {
            return; // a duplicate ACK: nothing new
        }
        state.in_flight.drain(..acked);
        state.sent -= acked;
        state.send_base = next;
        // Progress: the path works, so the back-off starts over.
        state.rto = self.config.initial_rto;
        state.retries = 0;
        state.resend_oldest = false;
        state.retransmit_at = None;
        state.fill_window(&self.config, now);
        self.ready = true;
    }

    /// A flow's next datagram, if it has one to send.
    fn next_datagram(stats: &mut Stats, flow: FlowId, state: &mut Flow) -> Option<Vec<u8>> {
        if state.ack_due {
            state.ack_due = false;
            stats.acks_sent += 1;
            return Some(encode(ACK, flow.id, state.expected, &[]));
        }
        if state.resend_oldest {
            state.resend_oldest = false;
            stats.retransmitted += 1;
            return state.in_flight.front().map(|m| encode(DATA, flow.id, state.send_base, m));
        }
        let message = state.in_flight.get(state.sent)?;
        let seq = state.send_base.wrapping_add(state.sent as u32);
        state.sent += 1;
        stats.sent += 1;
        Some(encode(DATA, flow.id, seq, message))
    }
}

impl Protocol for Rdp {
    fn input(&mut self, now: Instant, datagram: &IpDatagram<'_>) -> Verdict {
        let Some((kind, id, seq, message)) = decode(datagram.payload) else {
            self.stats.malformed += 1;
            return Verdict::Malformed;
        };
        let flow = FlowId { peer: datagram.src, id };
        match kind {
            DATA if message.len() <= self.config.max_message => self.on_data(now, flow, seq, message),
            ACK if message.is_empty() => {
                self.on_ack(now, flow, seq);
                Verdict::Accepted
            }
            _ => {
                self.stats.malformed += 1;
                Verdict::Malformed
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let Rdp { flows, stats, .. } = self;
        flows.iter_mut().find_map(|(&flow, state)| {
            let payload = Rdp::next_datagram(stats, flow, state)?;
            Some(Transmit::new(flow.peer, payload))
        })
    }

    fn poll_deadline(&self) -> Option<Instant> {
        self.flows.values().filter_map(|f| f.deadline(&self.config)).min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        let config = &self.config;
        let stats = &mut self.stats;
        self.flows.retain(|_, flow| {
            if flow.retransmit_at.is_some_and(|at| at <= now) {
                if flow.retries >= config.max_retries {
                    stats.gave_up += 1;
                    return false; // the peer is gone: forget the flow
                }
                flow.retries += 1;
                flow.rto = (flow.rto * 2).min(config.max_rto);
                flow.retransmit_at = Some(now + flow.rto);
                flow.resend_oldest = true;
            }
            // Keep a flow until it has been quiet for the idle timeout.
            !(flow.is_quiet() && flow.last_active + config.idle_timeout <= now)
        });
    }

    fn poll_event(&mut self) -> Option<u64> {
        std::mem::take(&mut self.ready).then_some(READY)
    }

    fn check_invariants(&self) -> Result<(), String> {
        let config = &self.config;
        if self.flows.len() > config.max_flows || self.inbox.len() > config.inbox {
            return Err(format!(
                "{} flows, {} messages in the inbox: over the bounds",
                self.flows.len(),
                self.inbox.len()
            ));
        }
        for (id, f) in &self.flows {
            let bounded = f.sent <= f.in_flight.len()
                && f.in_flight.len() <= config.window as usize
                && f.queued.len() <= config.send_queue
                && (f.queued.is_empty() || f.in_flight.len() == config.window as usize);
            let early_in_window = f.early.keys().all(|&seq| seq.wrapping_sub(f.expected) < config.window);
            let timer_armed_iff_in_flight = f.retransmit_at.is_some() != f.in_flight.is_empty();
            if !(bounded && early_in_window && timer_armed_iff_in_flight) {
                return Err(format!("flow {id:?}: window, queue or timer out of line: {f:?}"));
            }
        }
        Ok(())
    }
}

/// A datagram of `kind` with its checksum filled in.
pub fn encode(kind: u8, flow: u16, seq: u32, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + message.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&flow.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(message);
    let sum = checksum(&out).to_be_bytes();
    out[2..4].copy_from_slice(&sum);
    out
}

/// `(kind, flow, seq, message)`, or `None` if too short or the checksum fails.
pub fn decode(datagram: &[u8]) -> Option<(u8, u16, u32, &[u8])> {
    let header = datagram.get(..HEADER_LEN)?;
    if checksum(datagram) != 0 {
        return None;
    }
    let flow = u16::from_be_bytes([header[4], header[5]]);
    let seq = u32::from_be_bytes([header[6], header[7], header[8], header[9]]);
    Some((header[0], flow, seq, &datagram[HEADER_LEN..]))
}

/// The Internet checksum (RFC 1071): the one's complement of the one's
/// complement sum of 16-bit words, an odd last byte padded with zero. Over a
/// datagram whose checksum field is filled in, it is 0.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
