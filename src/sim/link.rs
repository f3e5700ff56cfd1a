//! A simulated link between two hosts: packets and virtual time in, delivered
//! packets out.
//!
//! [`Link`] is the pure cousin of the TUN fault injector
//! ([`FaultyDevice`](crate::device::faults::FaultyDevice)) and speaks the same
//! vocabulary — loss, duplicate, reorder, delay, corrupt, seed — but it owns no
//! thread and reads no clock. The caller hands it a packet with the virtual time it
//! was sent ([`Link::send`]), asks when the next one is due
//! ([`Link::next_delivery`]), and collects it at that time ([`Link::poll_delivery`]).
//! Every random decision comes from one [`SplitMix64`] seeded by
//! [`LinkConfig::seed`], so the same sends at the same times give the same deliveries.
//!
//! What happens to one packet, in order:
//!
//! 1. larger than [`LinkConfig::mtu`]: dropped (`dropped_mtu`);
//! 2. more than [`LinkConfig::queue_limit`] packets already in flight in its
//!    direction: dropped (`dropped_queue`) — a router's full tail-drop queue;
//! 3. with probability `loss`: dropped (`lost`);
//! 4. with probability `corrupt`: one random bit flipped (`corrupted`) — the IP, TCP
//!    and UDP checksums must catch it;
//! 5. its delivery time is `latency` plus a uniform `0..=jitter`, except that with
//!    probability `reorder` it skips the wait and is due at once (`reordered`),
//!    overtaking the packets ahead of it, as netem's `reorder` does;
//! 6. with probability `duplicate`: a second copy is delivered at the same time
//!    (`duplicated`).
//!
//! Jitter alone reorders too: two packets sent 1 ms apart with 5 ms of jitter may
//! arrive in either order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::rng::SplitMix64;
use crate::time::Instant;

/// Which way a packet travels between the simulator's two hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From host A to host B.
    AToB,
    /// From host B to host A.
    BToA,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

/// The link's behaviour; both directions behave alike. Probabilities are 0.0–1.0.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way delay of every packet that is not reordered.
    pub latency: Duration,
    /// Extra delay, uniform in `0..=jitter`, added to `latency`.
    pub jitter: Duration,
    pub loss: f64,
    pub duplicate: f64,
    /// Chance that a packet skips `latency` and `jitter` (needs a latency to matter).
    pub reorder: f64,
    /// Chance that one bit of the packet is flipped.
    pub corrupt: f64,
    /// Largest packet the link carries, in bytes.
    pub mtu: usize,
    /// Most packets in flight per direction; a packet sent when this many are
    /// already on the wire is dropped (its duplicate, if any, may take it one over).
    pub queue_limit: usize,
    pub seed: u64,
}

impl Default for LinkConfig {
    /// A perfect 1500-byte link with 1 ms of latency.
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            mtu: 1500,
            queue_limit: 1000,
            seed: 0,
        }
    }
}

/// What the link did in one direction. Every packet sent is counted once in `sent`
/// and ends as exactly one of: dropped (`dropped_mtu`, `dropped_queue`, `lost`),
/// delivered, or still in flight — plus one more delivery per `duplicated`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped_mtu: u64,
    pub dropped_queue: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

/// One packet on the wire: due time, then send order (so that packets due at the
/// same instant leave in the order they were sent), then the packet.
type InFlight = Reverse<(Instant, u64, Direction, Vec<u8>)>;

/// A seeded, two-way link model. See the module documentation.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: SplitMix64,
    wire: BinaryHeap<InFlight>,
    next_order: u64,
    in_flight: [usize; 2],
    stats: [LinkStats; 2],
}

impl Link {
    pub fn new(config: LinkConfig) -> Self {
        Link {
            rng: SplitMix64::new(config.seed),
            config,
            wire: BinaryHeap::new(),
            next_order: 0,
            in_flight: [0; 2],
            stats: [LinkStats::default(); 2],
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Change the link's behaviour from now on — start or end a partition
    /// (`loss: 1.0`), a burst of corruption, a slower path. Packets already in flight
    /// keep their due times; the random generator carries on (the new config's `seed`
    /// is ignored), so a run that reconfigures at the same moments stays reproducible.
    pub fn reconfigure(&mut self, config: LinkConfig) {
        self.config = LinkConfig { seed: self.config.seed, ..config };
    }

    /// What the link did to packets travelling `direction`.
    pub fn stats(&self, direction: Direction) -> &LinkStats {
        &self.stats[direction.index()]
    }

    /// Put `packet` on the link at `now`; it comes out of
    /// [`poll_delivery`](Link::poll_delivery) later, altered, twice, or never.
    pub fn send(&mut self, now: Instant, direction: Direction, mut packet: Vec<u8>) {
        let d = direction.index();
        self.stats[d].sent += 1;
        if packet.len() > self.config.mtu {
            self.stats[d].dropped_mtu += 1;
            return;
        }
        if self.in_flight[d] >= self.config.queue_limit {
            self.stats[d].dropped_queue += 1;
            return;
        }
        if self.rng.chance(self.config.loss) {
            self.stats[d].lost += 1;
            return;
        }
        if self.rng.chance(self.config.corrupt) && !packet.is_empty() {
            let bit = self.rng.next_u64() % (packet.len() as u64 * 8);
            packet[(bit / 8) as usize] ^= 1 << (bit % 8);
            self.stats[d].corrupted += 1;
        }
        let due = if self.rng.chance(self.config.reorder) {
            self.stats[d].reordered += 1;
            now
        } else {
            now + self.config.latency + self.jitter()
        };
        if self.rng.chance(self.config.duplicate) {
            self.stats[d].duplicated += 1;
            self.push(due, direction, packet.clone());
        }
        self.push(due, direction, packet);
    }

    /// When the next packet is due, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.wire.peek().map(|Reverse((due, ..))| *due)
    }

    /// The next packet due at or before `now`, and which way it was going.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<(Direction, Vec<u8>)> {
        if self.next_delivery()? > now {
            return None;
        }
        let Reverse((_, _, direction, packet)) = self.wire.pop()?;
        let d = direction.index();
        self.in_flight[d] -= 1;
        self.stats[d].delivered += 1;
        Some((direction, packet))
    }

    /// A uniform extra delay in `0..=jitter`, at microsecond resolution.
    fn jitter(&mut self) -> Duration {
        let max = u64::try_from(self.config.jitter.as_micros()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.rng.next_u64() % max.saturating_add(1))
    }

    fn push(&mut self, due: Instant, direction: Direction, packet: Vec<u8>) {
        self.in_flight[direction.index()] += 1;
        self.next_order += 1;
        self.wire.push(Reverse((due, self.next_order, direction, packet)));
    }
}
