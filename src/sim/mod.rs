//! A deterministic network simulator: two [`Stack`]s joined by a [`Link`], driven in
//! virtual time.
//!
//! Because the core is sans-IO (it never reads a clock and never touches a device),
//! a simulator can stand in for the whole world around it. [`Sim`] owns host A
//! (`198.18.0.1`) and host B (`198.18.0.2`) and a link between them, and moves time
//! forward in jumps: each [`step`](Sim::step) finds the earliest thing that can
//! happen — a stack's timer ([`Stack::poll_deadline`]) or a packet due off the link
//! ([`Link::next_delivery`]) — sets the clock to it, delivers the packets due,
//! runs the timers due, and puts whatever the stacks transmit on the link. Nothing
//! waits in real time, so minutes of virtual time (retransmission timeouts,
//! TIME-WAIT) pass in milliseconds.
//!
//! Given the same seeds and the same calls, a run is the same run, packet for packet:
//! the link draws from its own seeded generator and each stack from its own
//! [`StackConfig::seed`]. [`Sim::record`] keeps a [`TraceEntry`] for every packet, so
//! two runs can be compared whole.
//!
//! The program on each host is the caller: between steps it calls the stacks' socket
//! API directly (`sim.a.tcp_connect(sim.now(), …)`). [`Sim::run_until`] takes that
//! program as a closure, called after every step:
//!
//! ```
//! # use std::net::SocketAddr;
//! # use std::time::Duration;
//! # use tunstack::sim::{LinkConfig, Sim, ADDR_B};
//! # use tunstack::tcp::state::State;
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

pub mod link;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;
use std::time::Duration;

pub use link::{Direction, Link, LinkConfig, LinkStats};

use crate::config::StackConfig;
use crate::stack::Stack;
use crate::time::Instant;

/// Host A's address.
pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Host B's address.
pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Steps at one instant after which [`Sim::run_until`] gives up: a stack whose timer
/// stays due however often it runs would otherwise spin without time moving.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 100_000;

/// Whether a traced packet was entering the link or leaving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceKind {
    /// A stack transmitted it (before the link's faults).
    Sent,
    /// The link delivered it to the other stack (after them).
    Delivered,
}

/// One packet seen by the simulator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    pub at: Instant,
    pub direction: Direction,
    pub kind: TraceKind,
    pub packet: Vec<u8>,
}

/// Two stacks, a link and a virtual clock. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    /// Host A, `198.18.0.1`.
    pub a: Stack,
    /// Host B, `198.18.0.2`.
    pub b: Stack,
    link: Link,
    now: Instant,
    trace: Option<Vec<TraceEntry>>,
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
        Sim { a: Stack::new(a), b: Stack::new(b), link: Link::new(link), now: Instant::ZERO, trace: None }
    }

    /// Keep a [`TraceEntry`] for every packet from now on.
    pub fn record(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The packets recorded so far (empty unless [`record`](Sim::record) was called).
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or_default()
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The link, for its configuration and statistics.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The link, to [`reconfigure`](Link::reconfigure) it between steps.
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// Advance to the next event if it is due by `limit`, and handle it. Returns
    /// `false`, leaving the clock at `limit`, when nothing is due by then — with no
    /// timer armed and no packet in flight, nothing will ever happen again.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.transmit();
        let next =
            [self.a.poll_deadline(), self.b.poll_deadline(), self.link.next_delivery()].into_iter().flatten().min();
        let Some(next) = next.filter(|&t| t <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.now = self.now.max(next);
        while let Some((direction, packet)) = self.link.poll_delivery(self.now) {
            self.note(direction, TraceKind::Delivered, &packet);
            match direction {
                // Drop reasons are in the receiving stack's counters.
                Direction::AToB => self.b.input(self.now, &packet),
                Direction::BToA => self.a.input(self.now, &packet),
            };
        }
        for stack in [&mut self.a, &mut self.b] {
            if stack.poll_deadline().is_some_and(|t| t <= self.now) {
                stack.handle_timeout(self.now);
            }
        }
        self.transmit();
        true
    }

    /// Step until `program` returns `true` or `max` of virtual time has passed.
    /// `program` is the hosts' application: it runs before the first step and after
    /// each one, may call the stacks' socket API, and says whether it is done.
    /// Returns whether it finished (`false` on timeout, or if the stacks spin at one
    /// instant).
    pub fn run_until(&mut self, max: Duration, mut program: impl FnMut(&mut Sim) -> bool) -> bool {
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

    /// Move every packet the stacks want to send onto the link.
    fn transmit(&mut self) {
        while let Some(packet) = self.a.poll_transmit() {
            self.note(Direction::AToB, TraceKind::Sent, &packet);
            self.link.send(self.now, Direction::AToB, packet);
        }
        while let Some(packet) = self.b.poll_transmit() {
            self.note(Direction::BToA, TraceKind::Sent, &packet);
            self.link.send(self.now, Direction::BToA, packet);
        }
    }

    fn note(&mut self, direction: Direction, kind: TraceKind, packet: &[u8]) {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEntry { at: self.now, direction, kind, packet: packet.to_vec() });
        }
    }
}
