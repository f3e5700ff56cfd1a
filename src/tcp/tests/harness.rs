//! A scripted peer, in the spirit of packetdrill: the test plays the host on the
//! other end of the link, one segment at a time, and checks every segment the
//! stack answers with — all of its fields — and that nothing else was sent.
//!
//! Sequence numbers of the stack's own sequence space are written relative to its
//! ISS, as packetdrill does: the harness learns the ISS of each 4-tuple from the
//! SYN or SYN,ACK the stack sends on it, so a script says `seg("F.", 1)` for "FIN
//! at ISS+1". That applies to the SEQ of segments the stack sends and to the ACK
//! (and the TSecr echoing the stack's TSval) of segments the peer sends. The stack offsets its timestamp
//! clock by the ISS too (RFC 7323 §5.4 wants a per-connection offset), so the TSval
//! it sends is also shown relative: it reads as the stack's clock in milliseconds,
//! [`Harness::clock`]. The peer's numbers are absolute: the script picks them.
//!
//! One exception to keep in mind: a RST answering a segment without ACK carries
//! SEQ=0 (RFC 9293 §3.10.7.1), which is not in any connection's sequence space;
//! tests of it use a 4-tuple on which the stack has sent no SYN (ISS base 0).

use std::collections::HashMap;
use std::time::Duration;

use super::segment::{mss, parse, sack_perm, seg, to_packet, ts, ws, Seg};
use crate::config::StackConfig;
use crate::shared::TcpHandle;
use crate::shared::{DropReason, Event};
use crate::stack::Stack;
use crate::tcp::State;
use crate::testutil::{ms, sa, PEER, US};
use crate::time::Instant;

/// The port the stack listens on in passive-open tests.
pub const PORT: u16 = 80;
/// The peer's port.
pub const PEER_PORT: u16 = 40000;
/// The peer's initial sequence number.
pub const PEER_ISS: u32 = 1000;
/// The window the peer advertises (Linux's usual SYN window, 44 × 1460).
pub const PEER_WIN: u16 = 64240;
/// The stack's window when scaling is off: its 256 KiB receive buffer, capped at
/// what 16 bits can say. Also the window of every SYN it sends (RFC 7323 §2.2: a
/// SYN's window is never scaled).
pub const WIN: u16 = 65535;
/// The stack's window-scale shift: the smallest that fits the 4 MiB its receive
/// buffer may grow to (`recv_buffer_max`) in 16 bits — 7, as Linux usually offers.
pub const OUR_WS: u8 = 7;
/// The stack's window field with scaling on: 256 KiB >> 7.
pub const WIN_SCALED: u16 = 2048;
/// Our MSS for a 1500-byte MTU: 1500 − 20 (IPv4) − 20 (TCP).
pub const OUR_MSS: u16 = 1460;

/// The stack under test, the clock, and the 4-tuple of the connection the script
/// talks to.
pub struct Harness {
    pub stack: Stack,
    pub now: Instant,
    /// The stack's port of the connection under test.
    pub port: u16,
    /// The peer's port (change it to play a second client).
    pub peer_port: u16,
    /// The stack's ISS on each (port, peer port), from the last SYN it sent there.
    iss: HashMap<(u16, u16), u32>,
    /// Why the stack dropped the last segment [`send`](Harness::send) gave it.
    pub dropped: Option<DropReason>,
}

impl Harness {
    /// A stack with the default configuration, one second after the epoch.
    pub fn new() -> Self {
        Harness::with_config(StackConfig::default())
    }

    pub fn with_config(config: StackConfig) -> Self {
        Harness {
            stack: Stack::new(config),
            now: ms(1_000),
            port: PORT,
            peer_port: PEER_PORT,
            iss: HashMap::new(),
            dropped: None,
        }
    }

    /// The stack's clock in milliseconds: its TSval as the scripts read it.
    pub fn clock(&self) -> u32 {
        u32::try_from(self.now.micros() / 1000).expect("tests run for less than 49 days")
    }

    /// The stack's ISS on the script's 4-tuple (absolute; 0 before any SYN).
    pub fn iss(&self) -> u32 {
        self.iss.get(&(self.port, self.peer_port)).copied().unwrap_or(0)
    }

    /// Passive open on [`PORT`] with room for `backlog` unaccepted connections.
    pub fn listen(&mut self, backlog: usize) -> TcpHandle {
        self.stack.tcp_listen(sa(US, self.port), backlog).expect("listen")
    }

    /// Active open to the peer's port; the stack's ephemeral port becomes the one
    /// the script talks to.
    pub fn connect(&mut self) -> TcpHandle {
        let handle = self.stack.tcp_connect(self.now, sa(PEER, self.peer_port)).expect("connect");
        self.port = self.stack.tcp_local_addr(handle).expect("a connection has an address").port();
        handle
    }

    /// The peer sends `seg`. Every segment the stack sent before must have been
    /// checked with [`expect`](Harness::expect) first.
    pub fn send(&mut self, seg: Seg) {
        if let Some(unexpected) = self.take() {
            panic!("the stack sent {unexpected:?}, which the script did not expect");
        }
        let mut wire = seg;
        if wire.flags.ack {
            let iss = self.iss();
            wire.ack = wire.ack.wrapping_add(iss);
            wire.map_timestamp(|val, ecr| (val, ecr.wrapping_add(iss)));
        }
        let packet = to_packet(&wire, PEER, self.peer_port, US, self.port);
        self.dropped = self.stack.input(self.now, &packet);
    }

    /// The stack's next segment must be exactly `want`.
    #[track_caller]
    pub fn expect(&mut self, want: Seg) {
        let got = self.take().unwrap_or_else(|| panic!("expected {want:?}, the stack sent nothing"));
        assert_eq!(got, want, "at {} ms", self.clock());
    }

    /// The stack sent nothing (more).
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        if let Some(got) = self.take() {
            panic!("expected silence at {} ms, the stack sent {got:?}", self.clock());
        }
    }

    /// The stack's next segment, checked for addresses and ports and shown with its
    /// own sequence numbers relative to its ISS.
    fn take(&mut self) -> Option<Seg> {
        let sent = parse(&self.stack.poll_transmit()?);
        assert_eq!((sent.src, sent.dst), (US.into(), PEER.into()), "addresses");
        assert_eq!((sent.sport, sent.dport), (self.port, self.peer_port), "ports of {:?}", sent.seg);
        let mut got = sent.seg;
        if got.flags.syn {
            self.iss.insert((self.port, self.peer_port), got.seq);
        }
        let iss = self.iss();
        got.seq = got.seq.wrapping_sub(iss);
        got.map_timestamp(|val, ecr| (val.wrapping_sub(iss), ecr));
        Some(got)
    }

    /// Let `d` pass and run the timers due by then.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.stack.handle_timeout(self.now);
    }

    /// How long until the stack's next timer (`None` when none is armed).
    pub fn next_timer(&self) -> Option<Duration> {
        self.stack.poll_deadline().map(|t| t.saturating_duration_since(self.now))
    }

    /// Advance exactly to the next timer and run it; returns how long that was.
    pub fn run_next_timer(&mut self) -> Duration {
        let wait = self.next_timer().expect("a timer is armed");
        self.advance(wait);
        wait
    }

    /// Every event the stack raised since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.stack.poll_event()).collect()
    }

    /// The connection on the script's 4-tuple, accepted or not.
    pub fn conn(&self) -> Option<TcpHandle> {
        self.stack.tcp_table().by_tuple.get(&(self.port, std::net::SocketAddr::from((PEER, self.peer_port))))
    }

    /// The state of the connection on the script's 4-tuple.
    pub fn state(&self) -> Option<State> {
        self.conn().and_then(|h| self.stack.tcp_state(h))
    }

    /// Passive open from a peer that offers only an MSS (no window scaling,
    /// timestamps or SACK, so segments carry no options and windows are unscaled),
    /// accepted. Afterwards the stack's SEQ is 1 and the peer's is 1001.
    pub fn established_passive(&mut self) -> TcpHandle {
        let listener = self.listen(8);
        self.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
        self.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
        self.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
        self.expect_nothing();
        let (handle, _) = self.stack.tcp_accept(listener).expect("the handshake is complete");
        assert_eq!(self.stack.tcp_state(handle), Some(State::Established));
        self.events();
        handle
    }

    /// Active open to a peer that answers with only an MSS. Afterwards the
    /// stack's SEQ is 1 and the peer's is 1001.
    pub fn established_active(&mut self) -> TcpHandle {
        let handle = self.connect();
        let syn = seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(self.clock(), 0), ws(OUR_WS)]);
        self.expect(syn);
        self.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1460)]));
        self.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
        self.stack.tcp_connect_status(handle).expect("established");
        self.events();
        handle
    }
}
