//! The IPv6 path MTU of each destination we heard about (RFC 8201): what
//! Linux keeps as route-cache exceptions, here a small bounded table.
//!
//! IPv6 routers never fragment (RFC 8200 §5). A router whose next link is too
//! small for one of our packets drops it and answers ICMPv6 Packet Too Big with
//! that link's MTU. Once the stack has checked that the quoted packet is one we
//! could have sent (RFC 5927's spirit; `stack/v6.rs` does it with the transport
//! that sent it), [`PathMtuCache::learn`] records the smaller size for the quoted
//! destination, and every later UDP, raw or ICMPv6 datagram to it is fragmented
//! at the source to that size (`output.rs`). TCP sizes its segments itself, from
//! its own per-connection path MTU (`tcp/pmtu.rs`), which the same messages
//! lower.
//!
//! * **Bounds on a value** (RFC 8201 §4): an entry is never above the link MTU
//!   and never below 1,280, IPv6's minimum link MTU — a Packet Too Big reporting
//!   less is taken as 1,280 (RFC 8021: no atomic fragments are sent in answer).
//!   A Packet Too Big only lowers a path MTU: a larger value is stale or forged.
//! * **Bound on the table**: at most `max_entries` destinations; learning one
//!   more evicts the oldest-learned (`ip6_pmtu_evicted`).
//! * **Aging** (RFC 8201 §4: try a larger path MTU no sooner than 5 minutes
//!   after learning a smaller one, 10 recommended): an entry is forgotten
//!   `aging` after it was learned, and the destination is back at the link MTU
//!   — if the path is still narrow, the next Packet Too Big says so again. The
//!   cache reads no clock: `learn` is told `now`, [`next_deadline`] is part of
//!   the stack's `poll_deadline`, and [`expire`] runs in `handle_timeout`.
//!
//! [`next_deadline`]: PathMtuCache::next_deadline
//! [`expire`]: PathMtuCache::expire

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use tracing::debug;

use crate::counters::Counters;
use crate::time::Instant;
use crate::wire::ipv6::MIN_MTU;

/// Bounds of the path MTU cache (`StackConfig::path_mtu`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathMtuConfig {
    /// Most destinations remembered; one more evicts the oldest.
    pub max_entries: usize,
    /// How long a learned path MTU holds before the link MTU is tried again
    /// (RFC 8201 §4: at least 5 minutes, 10 recommended).
    pub aging: Duration,
}

impl Default for PathMtuConfig {
    /// 256 destinations, 10 minutes.
    fn default() -> Self {
        PathMtuConfig { max_entries: 256, aging: Duration::from_secs(600) }
    }
}

/// A path MTU learned for one destination, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    mtu: usize,
    learned: Instant,
}

/// What [`PathMtuCache::learn`] did with a Packet Too Big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Learned {
    /// The destination's path MTU is now this smaller size.
    Lowered(usize),
    /// The path MTU already was this size or smaller: nothing changed.
    Unchanged(usize),
}

/// Destination → path MTU, bounded and aging.
#[derive(Debug)]
pub(crate) struct PathMtuCache {
    config: PathMtuConfig,
    /// The link MTU: every path MTU's ceiling, and the answer for a destination
    /// not in the table.
    link_mtu: usize,
    entries: HashMap<Ipv6Addr, Entry>,
}

impl PathMtuCache {
    pub fn new(config: PathMtuConfig, link_mtu: usize) -> Self {
        PathMtuCache { config, link_mtu: link_mtu.max(MIN_MTU), entries: HashMap::new() }
    }

    /// The largest packet to send to `dst`.
    pub fn get(&self, dst: Ipv6Addr) -> usize {
        self.entries.get(&dst).map_or(self.link_mtu, |e| e.mtu)
    }

    /// A validated Packet Too Big for `dst` reporting `reported` bytes, at `now`:
    /// lower the destination's path MTU to it, clamped to [1280, link MTU].
    pub fn learn(&mut self, counters: &mut Counters, now: Instant, dst: Ipv6Addr, reported: u32) -> Learned {
        let mtu = usize::try_from(reported).unwrap_or(usize::MAX).clamp(MIN_MTU, self.link_mtu);
        let before = self.get(dst);
        if mtu >= before {
            return Learned::Unchanged(before);
        }
        if !self.entries.contains_key(&dst) && self.entries.len() >= self.config.max_entries {
            self.evict_oldest(counters);
        }
        if self.config.max_entries == 0 {
            return Learned::Unchanged(before);
        }
        self.entries.insert(dst, Entry { mtu, learned: now });
        counters.ip6_pmtu_updates += 1;
        debug!(target: "tunstack::ip6::pmtu", %dst, from = before, to = mtu, reported, "path MTU lowered");
        Learned::Lowered(mtu)
    }

    /// Make room: forget the entry learned longest ago.
    fn evict_oldest(&mut self, counters: &mut Counters) {
        let oldest = self.entries.iter().min_by_key(|(_, e)| e.learned).map(|(dst, e)| (*dst, *e));
        if let Some((dst, entry)) = oldest {
            self.entries.remove(&dst);
            counters.ip6_pmtu_evicted += 1;
            debug!(target: "tunstack::ip6::pmtu", %dst, mtu = entry.mtu, "path MTU cache full: oldest evicted");
        }
    }

    /// When the oldest entry ages out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.learned + self.config.aging).min()
    }

    /// Forget every entry learned `aging` or longer before `now`: those
    /// destinations are back at the link MTU (RFC 8201 §4).
    pub fn expire(&mut self, counters: &mut Counters, now: Instant) {
        let aging = self.config.aging;
        self.entries.retain(|dst, e| {
            let keep = e.learned + aging > now;
            if !keep {
                counters.ip6_pmtu_expired += 1;
                debug!(target: "tunstack::ip6::pmtu", %dst, mtu = e.mtu, "path MTU aged out: link MTU again");
            }
            keep
        });
    }

    /// The table's bounds hold: at most `max_entries`, each in [1280, link MTU).
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.entries.len() > self.config.max_entries {
            return Err(format!("{} path MTUs cached, bound {}", self.entries.len(), self.config.max_entries));
        }
        match self.entries.iter().find(|(_, e)| e.mtu < MIN_MTU || e.mtu >= self.link_mtu) {
            Some((dst, e)) => Err(format!("path MTU {} for {dst} outside [{MIN_MTU}, {})", e.mtu, self.link_mtu)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xd);

    fn host(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 1, n)
    }

    fn cache(max_entries: usize) -> PathMtuCache {
        PathMtuCache::new(PathMtuConfig { max_entries, aging: Duration::from_secs(600) }, 1500)
    }

    #[test]
    fn a_packet_too_big_only_lowers_and_stays_within_1280_and_the_link_mtu() {
        let (mut c, mut counters) = (cache(4), Counters::default());
        let t = Instant::from_millis(5);
        assert_eq!(c.get(D), 1500, "unknown: the link MTU");
        assert_eq!(c.learn(&mut counters, t, D, 9000), Learned::Unchanged(1500), "above the link MTU");
        assert_eq!(c.learn(&mut counters, t, D, 1400), Learned::Lowered(1400));
        assert_eq!(c.learn(&mut counters, t, D, 1450), Learned::Unchanged(1400), "never raised by an error");
        assert_eq!(c.learn(&mut counters, t, D, 600), Learned::Lowered(1280), "RFC 8201 §4: not below 1280");
        assert_eq!(c.learn(&mut counters, t, D, 0), Learned::Unchanged(1280));
        assert_eq!((c.get(D), c.get(host(1))), (1280, 1500));
        assert_eq!(counters.ip6_pmtu_updates, 2);
        c.check_invariants().expect("bounds hold");
    }

    #[test]
    fn the_table_is_bounded_and_overflow_evicts_the_oldest() {
        let (mut c, mut counters) = (cache(2), Counters::default());
        c.learn(&mut counters, Instant::from_millis(1), host(1), 1400);
        c.learn(&mut counters, Instant::from_millis(2), host(2), 1300);
        c.learn(&mut counters, Instant::from_millis(3), host(1), 1350);
        c.learn(&mut counters, Instant::from_millis(4), host(3), 1280);
        assert_eq!((c.get(host(1)), c.get(host(2)), c.get(host(3))), (1350, 1500, 1280), "2 was learned longest ago");
        assert_eq!((counters.ip6_pmtu_evicted, counters.ip6_pmtu_updates), (1, 4));
        c.check_invariants().expect("bounds hold");
        let (mut none, mut counters) = (cache(0), Counters::default());
        assert_eq!(none.learn(&mut counters, Instant::ZERO, D, 1280), Learned::Unchanged(1500), "a cache of 0");
        none.check_invariants().expect("empty");
    }

    #[test]
    fn an_entry_ages_out_after_the_aging_time() {
        let (mut c, mut counters) = (cache(4), Counters::default());
        let learned = Instant::from_millis(1_000);
        c.learn(&mut counters, learned, D, 1300);
        c.learn(&mut counters, learned + Duration::from_secs(60), host(1), 1300);
        assert_eq!(c.next_deadline(), Some(learned + Duration::from_secs(600)));
        c.expire(&mut counters, learned + Duration::from_secs(599));
        assert_eq!((c.get(D), counters.ip6_pmtu_expired), (1300, 0), "RFC 8201 §4: not before");
        c.expire(&mut counters, learned + Duration::from_secs(600));
        assert_eq!((c.get(D), c.get(host(1)), counters.ip6_pmtu_expired), (1500, 1300, 1));
        assert_eq!(c.next_deadline(), Some(learned + Duration::from_secs(660)));
    }
}
