//! A seeded fault injector between the stack and a device: loss, duplication,
//! reordering, delay and corruption, in both directions, in netem's vocabulary.
//!
//! This kernel has no `netem`, so lossy-link tests get their faults here. Every
//! decision comes from one pseudo-random generator seeded by [`FaultConfig::seed`],
//! so a failing run can be repeated.
//!
//! As in netem, `reorder` needs `delay`: a reordered packet is sent at once while the
//! others wait `delay`, so it overtakes them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Device;
use crate::rng::SplitMix64;
use crate::RxChecksum;

/// What to do to packets, each a probability from 0.0 to 1.0 (delay in time).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    pub corrupt: f64,
    pub delay: Duration,
    pub seed: u64,
}

impl FaultConfig {
    /// Whether any fault is configured.
    pub fn is_active(&self) -> bool {
        self.loss > 0.0 || self.duplicate > 0.0 || self.reorder > 0.0 || self.corrupt > 0.0 || !self.delay.is_zero()
    }
}

/// What the injector did, per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    pub delayed: u64,
}

/// Packets held back in one direction, released in time order.
#[derive(Default)]
struct Held {
    heap: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    next: u64,
}

impl Held {
    fn push(&mut self, at: Instant, packet: Vec<u8>) {
        self.next += 1;
        self.heap.push(Reverse((at, self.next, packet)));
    }

    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.heap.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            return self.heap.pop().map(|Reverse((_, _, p))| p);
        }
        None
    }

    fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

struct State {
    rng: SplitMix64,
    rx: Held,
    tx: Held,
    stats: FaultStats,
}

impl State {
    fn next(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.chance(p)
    }

    /// Decide the fate of one packet: the copies to deliver and when.
    fn apply(&mut self, config: &FaultConfig, now: Instant, mut packet: Vec<u8>, held: fn(&mut State) -> &mut Held) {
        if self.chance(config.loss) {
            self.stats.dropped += 1;
            return;
        }
        if self.chance(config.corrupt) && !packet.is_empty() {
            let bit = (self.next() % (packet.len() as u64 * 8)) as usize;
            packet[bit / 8] ^= 1 << (bit % 8);
            self.stats.corrupted += 1;
        }
        let mut at = now + config.delay;
        if !config.delay.is_zero() {
            if self.chance(config.reorder) {
                at = now;
                self.stats.reordered += 1;
            } else {
                self.stats.delayed += 1;
            }
        }
        if self.chance(config.duplicate) {
            self.stats.duplicated += 1;
            held(self).push(at, packet.clone());
        }
        held(self).push(at, packet);
    }
}

/// A device wrapped in the fault injector.
pub struct FaultyDevice<D> {
    inner: D,
    config: FaultConfig,
    state: Mutex<State>,
}

impl<D: Device> FaultyDevice<D> {
    pub fn new(inner: D, config: FaultConfig) -> Self {
        let state = State {
            rng: SplitMix64::new(config.seed),
            rx: Held::default(),
            tx: Held::default(),
            stats: FaultStats::default(),
        };
        FaultyDevice { inner, config, state: Mutex::new(state) }
    }

    /// What has been done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.lock().stats
    }
}

impl<D: Device> Device for FaultyDevice<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // Without faults a packet passes straight through: no lock, no clock, no
        // copy (this is every `serve` without fault flags).
        if !self.config.is_active() {
            return self.inner.recv(buf);
        }
        let mut state = self.state.lock();
        loop {
            let now = Instant::now();
            if let Some(packet) = state.rx.pop_due(now) {
                let n = packet.len().min(buf.len());
                buf[..n].copy_from_slice(&packet[..n]);
                return Ok(Some(n));
            }
            match self.inner.recv(buf)? {
                Some(n) => {
                    let mut packet = buf[..n].to_vec();
                    // Faults may change it: the stack must verify it, so a
                    // checksum the device left unfinished is finished first.
                    if self.inner.rx_checksum() == RxChecksum::Vouched {
                        crate::wire::fill_transport_checksum(&mut packet);
                    }
                    state.apply(&self.config, now, packet, |s| &mut s.rx)
                }
                None => return Ok(None),
            }
        }
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        if !self.config.is_active() {
            return self.inner.send(packet);
        }
        let mut state = self.state.lock();
        let now = Instant::now();
        state.apply(&self.config, now, packet.to_vec(), |s| &mut s.tx);
        while let Some(p) = state.tx.pop_due(now) {
            self.inner.send(&p)?;
        }
        Ok(())
    }

    /// Without faults the batch passes through whole, so the device below can
    /// still merge it; with faults each packet meets them on its own.
    fn send_batch(&self, packets: &[Vec<u8>]) -> io::Result<()> {
        if self.config.is_active() {
            packets.iter().try_for_each(|p| self.send(p))
        } else {
            self.inner.send_batch(packets)
        }
    }

    /// Without faults, what the device below does; with faults, no: a segment
    /// corrupted on purpose must reach the peer with the checksum it was built
    /// with, or the device would checksum the corruption and hide it.
    fn offload_tx_checksum(&self) -> bool {
        !self.config.is_active() && self.inner.offload_tx_checksum()
    }

    /// Without faults, what the device below vouched for; with faults, nothing
    /// (a packet may have been corrupted on purpose).
    fn rx_checksum(&self) -> RxChecksum {
        if self.config.is_active() {
            RxChecksum::Verify
        } else {
            self.inner.rx_checksum()
        }
    }

    fn readable_fd(&self) -> RawFd {
        self.inner.readable_fd()
    }

    fn processed(&self, packet: &[u8], dropped: Option<crate::shared::DropReason>) {
        self.inner.processed(packet, dropped)
    }

    fn service(&self) -> Option<Instant> {
        let mut state = self.state.lock();
        let now = Instant::now();
        while let Some(p) = state.tx.pop_due(now) {
            if let Err(e) = self.inner.send(&p) {
                tracing::warn!(error = %e, "device send failed");
            }
        }
        [state.rx.next_due(), state.tx.next_due()].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::link;

    fn drain(d: &impl Device) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(Some(n)) = d.recv(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn same_seed_same_fate() {
        let run = |seed| {
            let (a, b) = link::pair(1500).expect("pair");
            let faulty = FaultyDevice::new(
                a,
                FaultConfig { loss: 0.3, duplicate: 0.2, corrupt: 0.1, seed, ..FaultConfig::default() },
            );
            for i in 0..200u8 {
                faulty.send(&[i; 20]).expect("send");
            }
            (drain(&b), faulty.stats())
        };
        let (first, stats) = run(7);
        assert_eq!(run(7).0, first);
        assert_ne!(run(8).0, first);
        assert_eq!(first.len() as u64, 200 - stats.dropped + stats.duplicated);
        assert!(stats.dropped > 30 && stats.duplicated > 10 && stats.corrupted > 5, "{stats:?}");
    }

    #[test]
    fn delay_holds_and_reorder_overtakes() {
        let (a, b) = link::pair(1500).expect("pair");
        let faulty = FaultyDevice::new(
            b,
            // Long enough that a busy machine does not let a held packet fall due
            // before the first drain (30 ms once did, under a parallel build).
            FaultConfig { reorder: 0.5, delay: Duration::from_millis(500), seed: 3, ..FaultConfig::default() },
        );
        for i in 0..20u8 {
            a.send(&[i]).expect("send");
        }
        let early = drain(&faulty);
        let stats = faulty.stats();
        assert_eq!(early.len() as u64, stats.reordered, "only reordered packets pass at once");
        let due = faulty.service().expect("held packets have a deadline");
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let late = drain(&faulty);
        assert_eq!(early.len() + late.len(), 20);
        assert_eq!(late.len() as u64, stats.delayed);
    }
}
