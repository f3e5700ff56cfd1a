//! A simulated link between two hosts: packets and virtual time in, delivered
//! packets out.
//!
//! [`Link`] is the pure cousin of the TUN fault injector
//! ([`FaultyDevice`](crate::device::faults::FaultyDevice)) and speaks the same
//! vocabulary — loss, duplicate, reorder, delay, corrupt, seed — but it owns no
//! thread and reads no clock. The caller hands it a packet with the virtual time it
//! was sent ([`Link::send`]), asks when the next one is due
//! ([`Link::next_delivery`]), and collects it at that time ([`Link::poll_delivery`]).
//! Every random decision comes from one `SplitMix64` generator seeded by
//! [`LinkConfig::seed`], so the same sends at the same times give the same deliveries.
//!
//! Each direction is a router's output port and a wire. What happens to one
//! packet, in order:
//!
//! 1. larger than [`LinkConfig::mtu`]: dropped (`dropped_mtu`);
//! 2. the link is partitioned at this instant ([`Partition`]): dropped
//!    (`partitioned`);
//! 3. with a [`LinkConfig::bandwidth`], the packet waits for the transmitter
//!    behind the packets queued before it; if [`LinkConfig::queue_limit`]
//!    packets are already queued (the one being transmitted included), it is
//!    dropped instead (`dropped_queue`) — drop-tail, as a full router buffer
//!    does. Its transmission then takes `len / bandwidth` (serialisation delay);
//!    without a bandwidth it takes no time and nothing ever queues;
//! 4. with probability `loss`: lost on the wire (`lost`); then, with a
//!    [`LinkConfig::burst`] model, lost if the direction's Gilbert–Elliott chain
//!    (good and bad spells in time) says so at the instant it was sent
//!    (`burst_lost`) — a lost packet still used the transmitter;
//! 5. with probability `corrupt`: one random bit flipped (`corrupted`) — the IP, TCP
//!    and UDP checksums must catch it;
//! 6. it arrives `latency` plus a uniform `0..=jitter` after its transmission
//!    ends, except that with probability `reorder` it skips that wait and is due
//!    at once (`reordered`), overtaking the packets ahead of it, as netem's
//!    `reorder` does;
//! 7. with probability `duplicate`: a second copy arrives at the same time
//!    (`duplicated`);
//! 8. a copy due while a partition cuts its direction is dropped on arrival
//!    (`partitioned`).
//!
//! Jitter alone reorders too: two packets sent 1 ms apart with 5 ms of jitter may
//! arrive in either order. Features left at zero draw nothing from the
//! generator, so adding one to a configuration never changes what the others do
//! with the same seed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use super::burst::{BurstLoss, Channel};
use super::partition::Partition;
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
    /// One-way delay of every packet that is not reordered, after its
    /// transmission ends.
    pub latency: Duration,
    /// Extra delay, uniform in `0..=jitter`, added to `latency`.
    pub jitter: Duration,
    /// Chance that a packet is lost, independently of every other.
    pub loss: f64,
    /// Losses in bursts (Gilbert–Elliott), on top of `loss`.
    pub burst: Option<BurstLoss>,
    pub duplicate: f64,
    /// Chance that a packet skips `latency` and `jitter` (needs a latency to matter).
    pub reorder: f64,
    /// Chance that one bit of the packet is flipped.
    pub corrupt: f64,
    /// Largest packet the link carries, in bytes.
    pub mtu: usize,
    /// Bytes per second each direction transmits; `None`: unlimited (packets
    /// take no time to send and never queue).
    pub bandwidth: Option<u64>,
    /// Most packets queued per direction for the transmitter, the one being
    /// transmitted included; a packet that finds the queue full is dropped
    /// (drop-tail). Only a `bandwidth` makes packets queue.
    pub queue_limit: usize,
    /// When the link is down (see [`Partition`]); more can be added while it
    /// runs with [`Link::partition`].
    pub partitions: Vec<Partition>,
    pub seed: u64,
}

impl Default for LinkConfig {
    /// A perfect 1500-byte link with 1 ms of latency and unlimited bandwidth.
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            mtu: 1500,
            bandwidth: None,
            queue_limit: 1000,
            partitions: Vec::new(),
            seed: 0,
        }
    }
}

impl LinkConfig {
    /// How long `bytes` take to transmit at the configured bandwidth (rounded up
    /// to the microsecond); zero without one.
    pub fn serialisation(&self, bytes: usize) -> Duration {
        match self.bandwidth {
            Some(rate) if rate > 0 => Duration::from_micros((bytes as u64 * 1_000_000).div_ceil(rate)),
            _ => Duration::ZERO,
        }
    }

    /// The longest a packet that is delivered can spend on the link: a full
    /// queue of MTU-sized packets ahead of it and its own transmission, then
    /// latency plus the largest jitter. Termination bounds add it for the
    /// packets still in flight when something stops.
    pub fn max_delay(&self) -> Duration {
        let queueing = if self.bandwidth.is_some() { self.queue_limit.max(1) } else { 0 };
        self.serialisation(self.mtu) * u32::try_from(queueing).unwrap_or(u32::MAX) + self.latency + self.jitter
    }
}

/// What the link did in one direction. Every packet sent, and every duplicate
/// the link made, ends as exactly one of: dropped (`dropped_mtu`,
/// `partitioned`, `dropped_queue`, `lost`, `burst_lost`), delivered, or still in
/// flight ([`Link::in_flight`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped_mtu: u64,
    /// Sent while the direction was cut, or due to arrive while it was.
    pub partitioned: u64,
    /// Found the transmit queue full (drop-tail).
    pub dropped_queue: u64,
    /// Lost at random (`loss`).
    pub lost: u64,
    /// Lost by the Gilbert–Elliott chain (`burst`).
    pub burst_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

/// One packet on the wire: due time, then send order (so that packets due at the
/// same instant leave in the order they were sent), then the packet.
type InFlight = Reverse<(Instant, u64, Direction, Vec<u8>)>;

/// The sending side of one direction: the transmitter and its queue.
#[derive(Debug, Default)]
struct Port {
    /// When each queued packet's transmission ends, oldest first; a packet
    /// leaves the queue when its transmission ends.
    queue: VecDeque<Instant>,
    /// The burst-loss chain of this direction.
    channel: Channel,
    /// Packets on the wire (or due), this direction.
    in_flight: usize,
}

/// A seeded, two-way link model. See the module documentation.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: SplitMix64,
    wire: BinaryHeap<InFlight>,
    next_order: u64,
    ports: [Port; 2],
    stats: [LinkStats; 2],
}

impl Link {
    pub fn new(config: LinkConfig) -> Self {
        Link {
            rng: SplitMix64::new(config.seed),
            config,
            wire: BinaryHeap::new(),
            next_order: 0,
            ports: Default::default(),
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

    /// Packets travelling `direction` that are on the wire: sent, not yet
    /// delivered or dropped.
    pub fn in_flight(&self, direction: Direction) -> usize {
        self.ports[direction.index()].in_flight
    }

    /// Take the link down in both directions during `[from, until)`.
    pub fn partition(&mut self, from: Instant, until: Instant) {
        self.config.partitions.push(Partition::healing(from, until));
    }

    /// Take the link down in both directions from `from` on, for good.
    pub fn cut(&mut self, from: Instant) {
        self.config.partitions.push(Partition::forever(from));
    }

    /// Whether the link is down for packets travelling `direction` at `at`.
    pub fn is_partitioned(&self, at: Instant, direction: Direction) -> bool {
        self.config.partitions.iter().any(|p| p.cuts(at, direction))
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
        if self.is_partitioned(now, direction) {
            self.stats[d].partitioned += 1;
            return;
        }
        let Some(sent) = self.transmit(now, direction, packet.len()) else {
            self.stats[d].dropped_queue += 1;
            return;
        };
        if self.rng.chance(self.config.loss) {
            self.stats[d].lost += 1;
            return;
        }
        if let Some(model) = &self.config.burst {
            if self.ports[d].channel.lose(model, now, &mut self.rng) {
                self.stats[d].burst_lost += 1;
                return;
            }
        }
        if self.rng.chance(self.config.corrupt) && !packet.is_empty() {
            let bit = self.rng.next_u64() % (packet.len() as u64 * 8);
            packet[(bit / 8) as usize] ^= 1 << (bit % 8);
            self.stats[d].corrupted += 1;
        }
        let due = if self.rng.chance(self.config.reorder) {
            self.stats[d].reordered += 1;
            sent
        } else {
            sent + self.config.latency + self.jitter()
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
    /// Packets due while their direction is partitioned are dropped on the way.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<(Direction, Vec<u8>)> {
        loop {
            if self.next_delivery()? > now {
                return None;
            }
            let Reverse((due, _, direction, packet)) = self.wire.pop()?;
            let d = direction.index();
            self.ports[d].in_flight -= 1;
            if self.is_partitioned(due, direction) {
                self.stats[d].partitioned += 1;
                continue;
            }
            self.stats[d].delivered += 1;
            return Some((direction, packet));
        }
    }

    /// Queue `len` bytes for the transmitter of `direction` at `now`: when their
    /// transmission ends, or `None` if the queue is full.
    fn transmit(&mut self, now: Instant, direction: Direction, len: usize) -> Option<Instant> {
        let serialisation = self.config.serialisation(len);
        let port = &mut self.ports[direction.index()];
        while port.queue.front().is_some_and(|&done| done <= now) {
            port.queue.pop_front();
        }
        if self.config.bandwidth.is_none() {
            return Some(now);
        }
        if port.queue.len() >= self.config.queue_limit {
            return None;
        }
        let start = port.queue.back().map_or(now, |&busy| busy.max(now));
        let done = start + serialisation;
        port.queue.push_back(done);
        Some(done)
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
        self.ports[direction.index()].in_flight += 1;
        self.next_order += 1;
        self.wire.push(Reverse((due, self.next_order, direction, packet)));
    }
}
