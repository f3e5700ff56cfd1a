//! A cheap hash for maps keyed by the stack's own handles.
//!
//! Handles (`TcpHandle`, `UdpHandle`, …, and events naming them) are numbers the
//! stack hands out in sequence — never chosen by a peer — so a hash table keyed
//! by them needs no defence against keys picked to collide, which is what
//! SipHash, std's default, pays for: a multiply-and-rotate mix is enough and
//! several times cheaper, and these maps are on the per-packet path (every
//! segment looks up its connection by handle and queues an event). Tables keyed
//! by what a peer sends — addresses and ports, as TCP's 4-tuple map — keep
//! SipHash with its per-process random key.
//!
//! The hash is also the same in every run, so iterating such a map visits the
//! handles in the same order every time: the simulator's replays stay
//! byte-exact.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map keyed by handles.
pub type HandleMap<K, V> = HashMap<K, V, BuildHasherDefault<HandleHasher>>;

/// A hash set of handles (or of events naming them).
pub type HandleSet<K> = HashSet<K, BuildHasherDefault<HandleHasher>>;

/// Multiply-and-rotate over the key's words.
#[derive(Default)]
pub struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::TcpHandle;

    #[test]
    fn handles_in_sequence_spread_and_the_map_works() {
        let mut map: HandleMap<TcpHandle, u64> = HandleMap::default();
        for n in 0..10_000 {
            map.insert(TcpHandle(n), n * 2);
        }
        assert!((0..10_000).all(|n| map.get(&TcpHandle(n)) == Some(&(n * 2))));
        let hash = |n| {
            let mut h = HandleHasher::default();
            h.write_u64(n);
            h.finish()
        };
        // Neighbouring handles land far apart in the high bits hashbrown uses.
        assert_ne!(hash(1) >> 57, hash(2) >> 57);
    }
}
