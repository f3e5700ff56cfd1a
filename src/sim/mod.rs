//! A deterministic network simulator: two hosts joined by a [`Link`], driven in
//! virtual time — two [`Stack`]s, or tunstack against any other [`Host`], with
//! a [`Middlebox`] on the path if wanted.
//!
//! Because the core is sans-IO (it never reads a clock and never touches a device),
//! a simulator can stand in for the whole world around it. [`Sim`] owns host A
//! (`198.18.0.1`) and host B (`198.18.0.2`) and a link between them, and moves time
//! forward in jumps: each [`step`](Sim::step) finds the earliest thing that can
//! happen — a host's timer ([`Host::poll_deadline`]) or a packet due off the link
//! ([`Link::next_delivery`]) — sets the clock to it, delivers the packets due,
//! runs the timers due, and puts whatever the hosts transmit on the link. Nothing
//! waits in real time, so minutes of virtual time (retransmission timeouts,
//! TIME-WAIT) pass in milliseconds.
//!
//! Given the same seeds and the same calls, a run is the same run, packet for packet:
//! the link draws from its own seeded generator and each stack from its own
//! [`StackConfig::seed`]. [`Sim::record`] keeps a [`TraceEntry`] for every packet, so
//! two runs can be compared whole, and [`Sim::capture`] writes them to a pcapng
//! file. [`Sim::check_invariants`] checks both stacks'
//! [invariants](crate::invariants) around every step. A host can crash
//! ([`Sim::halt`], [`Sim::halt_after`]) and the link can go down
//! ([`Link::partition`], [`Link::cut`]) while the run goes on.
//!
//! The program on each host is the caller: between steps it calls the stacks' socket
//! API directly (`sim.a.tcp_connect(sim.now(), …)`). [`Sim::run_until`] takes that
//! program as a closure, called after every step ([`Sim::wake_at`] asks for a step
//! when nothing else would happen, for a program's own timers):
//!
//! ```
//! # use std::net::SocketAddr;
//! # use std::time::Duration;
//! # use tunstack::sim::{LinkConfig, Sim, ADDR_B};
//! # use tunstack::State;
//! # fn main() -> std::io::Result<()> {
//! let link = LinkConfig { loss: 0.05, reorder: 0.1, latency: Duration::from_millis(20), seed: 7, ..LinkConfig::default() };
//! let mut sim = Sim::new(link);
//! let server = SocketAddr::from((ADDR_B, 80));
//! let listener = sim.b.tcp_listen(server, 8)?;
//! let conn = sim.a.tcp_connect(sim.now(), server)?;
//! let mut peer = None;
//! let up = sim.run_until(Duration::from_secs(60), |sim| {
//!     peer = peer.or_else(|| sim.b.tcp_accept(listener).ok());
//!     peer.is_some() && sim.a.tcp_state(conn) == Some(State::Established)
//! });
//! assert!(up, "connected within a minute of virtual time");
//! # Ok(())
//! # }
//! ```
//!
//! # Your own host
//!
//! A host is anything with the sans-IO calls of [`Host`]: packets and time in,
//! packets out. [`Sim::from_hosts`] puts one of yours beside a [`Stack`] — a
//! second implementation, a peer that misbehaves on purpose, a prototype of a new
//! protocol — and everything else (the link's faults, the trace, the capture,
//! halting, `run_until`) works as with two stacks; `sim.a` and `sim.b` are then
//! of each host's own type. Here host B is a black hole, and tunstack's `connect`
//! gives up after its SYN retries:
//!
//! ```
//! # use std::io::ErrorKind;
//! # use std::net::SocketAddr;
//! # use std::time::Duration;
//! use tunstack::sim::{Host, LinkConfig, Sim, ADDR_A, ADDR_B};
//! use tunstack::{DropReason, Instant, Stack, StackConfig};
//!
//! /// Takes every packet in, answers none.
//! struct BlackHole;
//!
//! impl Host for BlackHole {
//!     fn input(&mut self, _now: Instant, _packet: &[u8]) -> Option<DropReason> { None }
//!     fn poll_transmit(&mut self) -> Option<Vec<u8>> { None }
//!     fn poll_deadline(&self) -> Option<Instant> { None }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//! }
//!
//! let a = Stack::new(StackConfig { addr: ADDR_A, ..StackConfig::default() });
//! let mut sim = Sim::from_hosts(a, BlackHole, LinkConfig::default());
//! let conn = sim.a.tcp_connect(sim.now(), SocketAddr::from((ADDR_B, 80))).expect("a SYN goes out");
//! sim.run_until(Duration::from_secs(600), |sim| sim.a.tcp_state(conn).is_none());
//! assert_eq!(sim.a.tcp_connect_status(conn).map_err(|e| e.kind()), Err(ErrorKind::TimedOut));
//! ```
//!
//! The test `sim/tests/user_host.rs` goes further: a TCP responder in about a
//! hundred lines (SYN,ACK, in-order data acknowledged and echoed, FIN) that
//! tunstack's client connects to, talks to and closes.
//!
//! # Middleboxes
//!
//! [`Sim::set_middlebox`] puts a [`Middlebox`] at host A's end of the link: it
//! sees every packet each way and passes, rewrites, drops or answers it — a
//! NAT, a firewall, an MSS clamp ([`middlebox`] has three to copy). The capture
//! gets an interface for it, so each hop shows: what A sent, what the box made
//! of it, what B received. Through a NAT, B sees A's connection come from the
//! NAT's public address and port:
//!
//! ```
//! # use std::net::{Ipv4Addr, SocketAddr};
//! # use std::time::Duration;
//! use tunstack::sim::middlebox::Nat;
//! use tunstack::sim::{LinkConfig, Sim, ADDR_B};
//!
//! let public = Ipv4Addr::new(203, 0, 113, 1);
//! let mut sim = Sim::new(LinkConfig::default());
//! sim.set_middlebox(Nat::new(public, 61_000));
//! let listener = sim.b.tcp_listen(SocketAddr::from((ADDR_B, 80)), 1).expect("port 80 is free");
//! sim.a.tcp_connect(sim.now(), SocketAddr::from((ADDR_B, 80))).expect("a SYN goes out");
//! let mut accepted = None;
//! sim.run_until(Duration::from_secs(5), |sim| {
//!     accepted = accepted.or_else(|| sim.b.tcp_accept(listener).ok());
//!     accepted.is_some()
//! });
//! let (_, peer) = accepted.expect("B accepted the connection");
//! assert_eq!(peer, SocketAddr::from((public, 61_000)));
//! ```

mod burst;
mod host;
pub mod link;
pub mod middlebox;
mod partition;
mod route;
#[cfg(test)]
mod tests;
mod trace;

use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

pub use burst::BurstLoss;
pub use host::Host;
pub use link::{Direction, Link, LinkConfig, LinkStats};
pub use middlebox::Middlebox;
pub use partition::Partition;
pub use trace::{TraceEntry, TraceKind};

use crate::config::StackConfig;
use crate::stack::Stack;
use crate::time::Instant;
use route::Stage;
use trace::Recorder;

/// Host A's address.
pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Host B's address.
pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Steps at one instant after which [`Sim::run_until`] gives up: a stack whose timer
/// stays due however often it runs would otherwise spin without time moving.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 100_000;

/// One of the simulator's two hosts, to name it in [`Sim::halt`] and
/// [`Sim::stack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// `198.18.0.1`.
    A,
    /// `198.18.0.2`.
    B,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Two hosts, a link and a virtual clock. See the module documentation.
///
/// The hosts are [`Stack`]s unless said otherwise: `Sim` is `Sim<Stack, Stack>`,
/// and [`Sim::from_hosts`] joins any two [`Host`]s.
#[derive(Debug)]
pub struct Sim<A: Host = Stack, B: Host = Stack> {
    /// Host A, `198.18.0.1`.
    pub a: A,
    /// Host B, `198.18.0.2`.
    pub b: B,
    link: Link,
    now: Instant,
    recorder: Recorder,
    /// Run [`Host::check_invariants`] on both hosts around every step.
    invariants: bool,
    /// Hosts stopped by [`halt`](Sim::halt), by [`Side::index`].
    halted: [bool; 2],
    /// Packets each host still takes in before it halts ([`halt_after`](Sim::halt_after)).
    halt_countdown: [Option<u64>; 2],
    /// Times the program asked to run at ([`wake_at`](Sim::wake_at)).
    wakeups: BTreeSet<Instant>,
    /// The stage at A's end of the link ([`set_middlebox`](Sim::set_middlebox)).
    middlebox: Option<Stage>,
    /// Packets the middlebox sent towards A, for A to take in at the next step
    /// (at the same instant).
    to_a: VecDeque<Vec<u8>>,
}

impl Sim {
    /// Two hosts with the default configuration over `link`. Their own seeds are
    /// derived from the link's, so one number reproduces the whole run.
    pub fn new(link: LinkConfig) -> Self {
        let host = |addr, salt: u64| StackConfig { addr, seed: link.seed ^ salt, ..StackConfig::default() };
        Sim::with_hosts(host(ADDR_A, 0xA), host(ADDR_B, 0xB), link)
    }

    /// Two hosts configured by the caller (their addresses are taken as given).
    pub fn with_hosts(a: StackConfig, b: StackConfig, link: LinkConfig) -> Self {
        Sim::from_hosts(Stack::new(a), Stack::new(b), link)
    }
}

impl<A: Host, B: Host> Sim<A, B> {
    /// Any two hosts over `link`: a [`Stack`] against your own implementation,
    /// or two of yours. Each keeps the address it was built with; the link does
    /// not route, it carries whatever each side sends to the other.
    pub fn from_hosts(a: A, b: B, link: LinkConfig) -> Self {
        // Trace events from here on are stamped with the simulation's time.
        crate::script::virtual_time::set(Duration::ZERO);
        Sim {
            a,
            b,
            link: Link::new(link),
            now: Instant::ZERO,
            recorder: Recorder::default(),
            invariants: false,
            halted: [false; 2],
            halt_countdown: [None; 2],
            wakeups: BTreeSet::new(),
            middlebox: None,
            to_a: VecDeque::new(),
        }
    }

    /// Put `middlebox` at host A's end of the link (replacing any before): from
    /// now on it sees every packet A sends before the link does, and every packet
    /// for A after the link delivered it. See [`middlebox`]. Set it before
    /// [`capture`](Sim::capture) for the capture to show it.
    pub fn set_middlebox(&mut self, middlebox: impl Middlebox) {
        self.middlebox = Some(Stage(Box::new(middlebox)));
    }

    /// The installed middlebox, if it is an `M` — to read its state (a
    /// [`Nat`](middlebox::Nat)'s mappings and counters) during or after a run.
    pub fn middlebox<M: Middlebox>(&self) -> Option<&M> {
        let Stage(middlebox) = self.middlebox.as_ref()?;
        let any: &dyn std::any::Any = middlebox.as_ref();
        any.downcast_ref()
    }

    /// Keep a [`TraceEntry`] for every packet from now on.
    pub fn record(&mut self) {
        self.recorder.record();
    }

    /// The packets recorded so far (empty unless [`record`](Sim::record) was called).
    pub fn trace(&self) -> &[TraceEntry] {
        self.recorder.trace()
    }

    /// Write every packet from now on to a pcapng file at `path`: one interface
    /// per host, each packet as it left one host and as it reached the other,
    /// plus, with a middlebox, one for it (what it took in, what it sent on);
    /// virtual timestamps, drop reasons and rewrites as comments (see
    /// `sim/trace.rs`). The same seed writes the same file, byte for byte.
    pub fn capture(&mut self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        let middlebox = self.middlebox.as_ref().map(|stage| stage.0.name().to_string());
        self.recorder.capture(path.as_ref(), middlebox.as_deref())
    }

    /// Push the capture's buffered packets to its file, and report the first
    /// write that failed since the last call. (Dropping the `Sim` flushes too,
    /// silently.)
    pub fn flush_capture(&mut self) -> std::io::Result<()> {
        self.recorder.flush()
    }

    /// Check both hosts' invariants ([`Host::check_invariants`]; a [`Stack`]'s
    /// are [these](crate::invariants)) before and after every step from now on
    /// (`true`), or stop checking (`false`). A broken invariant panics with the
    /// link's seed, the host, the virtual time and the rule, so the failing run
    /// can be replayed; a property test reports the panic as its failure.
    pub fn check_invariants(&mut self, on: bool) {
        self.invariants = on;
    }

    /// Stop `host` for good, as if it crashed or lost power: from now on it takes
    /// in no packet, runs no timer and sends nothing, and packets it had queued
    /// for the link are never sent. Its state stays as it was, for inspection.
    /// The other host sees a peer that went silent — the "one side dead" of the
    /// termination properties.
    pub fn halt(&mut self, host: Side) {
        self.halted[host.index()] = true;
    }

    /// Halt `host` right after it has taken in `packets` more packets (at once,
    /// for 0): a crash at an exact point of a conversation. It processes that last
    /// packet but sends nothing in answer; packets due at the same instant after
    /// it find it halted.
    pub fn halt_after(&mut self, host: Side, packets: u64) {
        if packets == 0 {
            self.halt(host);
        } else {
            self.halt_countdown[host.index()] = Some(packets);
        }
    }

    /// Make sure a step happens at `at`, so the program passed to
    /// [`run_until`](Sim::run_until) gets a turn then even if neither host nor
    /// link has anything to do — a program's own timer (a slow reader, a
    /// periodic sender). A time already past is ignored.
    pub fn wake_at(&mut self, at: Instant) {
        if at > self.now {
            self.wakeups.insert(at);
        }
    }

    /// Whether [`halt`](Sim::halt) stopped `host`.
    pub fn is_halted(&self, host: Side) -> bool {
        self.halted[host.index()]
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The link, for its configuration and statistics.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The link, to partition it ([`Link::partition`], [`Link::cut`]) or
    /// [`reconfigure`](Link::reconfigure) it while the simulation runs.
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// Advance to the next event — a host's timer, a packet due off the link or
    /// from the middlebox, a [`wake_at`](Sim::wake_at) — if it is due by `limit`,
    /// and handle it. Returns `false`, leaving the clock at `limit`, when nothing
    /// is due by then — with no timer armed and no packet in flight, nothing will
    /// ever happen again.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.verify("before the step");
        self.transmit();
        let waiting = (!self.to_a.is_empty()).then_some(self.now);
        let wakeup = self.wakeups.first().copied();
        let next = [self.deadline(Side::A), self.deadline(Side::B), self.link.next_delivery(), wakeup, waiting]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next.filter(|&t| t <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.now = self.now.max(next);
        // Trace events of this step are stamped with the virtual time.
        crate::script::virtual_time::set(Duration::from_micros(self.now.micros()));
        while self.wakeups.first().is_some_and(|&t| t <= self.now) {
            self.wakeups.pop_first();
        }
        self.deliver_due();
        for side in [Side::A, Side::B] {
            let now = self.now;
            if self.deadline(side).is_some_and(|t| t <= now) {
                self.host_mut(side).handle_timeout(now);
            }
        }
        self.transmit();
        self.verify("after the step");
        true
    }

    /// Step until `program` returns `true` or `max` of virtual time has passed.
    /// `program` is the hosts' application: it runs before the first step and after
    /// each one, may call the hosts' own API, and says whether it is done.
    /// Returns whether it finished (`false` on timeout, or if the hosts spin at one
    /// instant).
    pub fn run_until(&mut self, max: Duration, mut program: impl FnMut(&mut Self) -> bool) -> bool {
        let limit = self.now + max;
        let mut last = self.now;
        let mut steps_here = 0;
        loop {
            if program(self) {
                return true;
            }
            if !self.step(limit) {
                return program(self);
            }
            steps_here = if self.now == last { steps_here + 1 } else { 0 };
            last = self.now;
            if steps_here > MAX_STEPS_AT_ONE_INSTANT {
                return false;
            }
        }
    }

    /// Panic if checking is on and either host breaks an invariant.
    fn verify(&self, when: &str) {
        if !self.invariants {
            return;
        }
        for (name, side) in [("A", Side::A), ("B", Side::B)] {
            if let Err(broken) = self.host(side).check_invariants() {
                panic!(
                    "seed {:#x}: host {name} broke an invariant at {:?} ({when}): {broken}",
                    self.link.config().seed,
                    self.now
                );
            }
        }
    }

    /// When `side`'s next timer is due, unless it halted.
    fn deadline(&self, side: Side) -> Option<Instant> {
        if self.is_halted(side) {
            None
        } else {
            self.host(side).poll_deadline()
        }
    }

    /// `host` took in a packet: halt it if that was the last one it was to take.
    fn count_down(&mut self, host: Side) {
        let countdown = &mut self.halt_countdown[host.index()];
        if let Some(left) = countdown {
            *left -= 1;
            if *left == 0 {
                *countdown = None;
                self.halt(host);
            }
        }
    }

    fn host(&self, side: Side) -> &dyn Host {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    fn host_mut(&mut self, side: Side) -> &mut dyn Host {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

impl<H: Host> Sim<H, H> {
    /// Host `side`, when both are of one type (two [`Stack`]s): for code that
    /// picks a host by name, such as [`halt`](Sim::halt)'s caller.
    pub fn stack(&self, side: Side) -> &H {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Host `side`, mutably (see [`stack`](Sim::stack)).
    pub fn stack_mut(&mut self, side: Side) -> &mut H {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}
