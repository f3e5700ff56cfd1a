//! IP fragment reassembly (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6),
//! sans-IO and bounded.
//!
//! A router may split an IPv4 datagram into *fragments*. Each fragment carries
//! the original datagram's key (source, destination, protocol, identification),
//! the byte offset of its data (the header field counts 8-byte units), and the
//! More-Fragments (MF) flag, which is clear only on the final fragment.
//!
//! The receiver collects fragments per key until every byte from 0 up to the
//! end of the final fragment is present. To know when that has happened we use
//! the *hole descriptor list* of RFC 815: start with one hole `0..=∞`; each
//! arriving fragment cuts the hole it lands in into at most two smaller holes;
//! the datagram is complete when the list is empty.
//!
//! Fragments that overlap data already held are a classic attack vector
//! (tiny/overlapping fragment attacks rewrite transport headers after a
//! firewall has checked them). Following RFC 5722 (written for IPv6, applied to
//! IPv4 by Linux since 2018), an overlap discards the whole datagram; only an
//! exact duplicate is tolerated and ignored.
//!
//! Memory is bounded: at most `max_datagrams` datagrams in progress and at most
//! `max_bytes` of buffered payload across all of them. Each buffer grows only
//! up to the highest byte received so far. Per-datagram bookkeeping (holes and
//! received pieces) has at most one entry per 8 buffered bytes, so it is
//! proportional to `bytes_held`.
//!
//! Both families use the same reassembler, told apart by their key type: an IPv4
//! [`FragmentKey`] (source, destination, protocol, 16-bit id) or IPv6's (source,
//! destination, 32-bit id; see `ip/ipv6/`). Only the fragmentable part is
//! reassembled here; IPv6's unfragmentable headers are the caller's.
//!
//! Time is never read here: callers pass `now`, call [`Reassembler::expire`]
//! when [`Reassembler::next_deadline`] is reached, and count what was dropped.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::time::Instant;

/// Largest possible IPv4 payload: the 16-bit Total Length (65,535) minus the
/// minimum 20-byte header. No fragment may place a byte at or beyond this.
const MAX_PAYLOAD: usize = 65_535 - 20;

/// RFC 815's "infinity" for the last byte of the initial hole. It is beyond
/// any byte a fragment can carry, so the trailing hole can only disappear when
/// the final fragment (MF = 0) tells us the real length.
const INFINITY: usize = MAX_PAYLOAD;

/// Limits for a [`Reassembler`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Maximum number of datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Maximum payload bytes buffered across all datagrams in progress.
    pub max_bytes: usize,
    /// How long after its first fragment a datagram may stay incomplete.
    /// RFC 791 suggests a 15 s initial timer; Linux uses 30 s (`ipfrag_time`).
    pub timeout: Duration,
}

impl Default for ReassemblyConfig {
    /// 64 datagrams, 1 MiB in total, 30 s timeout.
    fn default() -> Self {
        ReassemblyConfig { max_datagrams: 64, max_bytes: 1 << 20, timeout: Duration::from_secs(30) }
    }
}

/// Key of a datagram in progress (RFC 791: source, destination, protocol,
/// identification). Fragments of one datagram share all four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub id: u16,
}

/// One fragment as seen by IP input after header validation.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a, K = FragmentKey> {
    pub key: K,
    /// Offset of `payload` in the original datagram, in bytes (header field × 8).
    pub offset: usize,
    /// The MF flag: `false` only on the final fragment.
    pub more_fragments: bool,
    /// The fragment's data (everything after its IP header).
    pub payload: &'a [u8],
}

/// What [`Reassembler::insert`] did with a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentOutcome {
    /// Stored; the datagram is still incomplete.
    Pending,
    /// This fragment completed the datagram; its payload is returned.
    Complete,
    /// Exact duplicate of data already held: ignored.
    Duplicate,
    /// Overlaps held data with a different extent: the whole datagram is
    /// discarded (as Linux does since 2018, in the spirit of RFC 5722).
    Overlap,
    /// offset + len would exceed 65,535 − 20 bytes, or a fragment after the
    /// final one, or a final fragment that disagrees with an earlier final
    /// length, or a non-final fragment whose payload length is not a (non-zero)
    /// multiple of 8, or an offset that is not a multiple of 8: datagram
    /// discarded.
    Invalid,
    /// No room: max_datagrams or max_bytes would be exceeded (the new fragment
    /// is refused; existing datagrams are kept).
    NoRoom,
}

/// RFC 815 hole descriptor: bytes `first..=last` (inclusive) are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hole {
    first: usize,
    last: usize,
}

/// State of one datagram being reassembled.
#[derive(Debug)]
struct Partial {
    /// When the first fragment arrived; the timeout counts from here.
    first_arrival: Instant,
    /// Received bytes at their final positions; length = highest end so far.
    buffer: Vec<u8>,
    /// Missing ranges (RFC 815). Empty + `total_len` known = complete.
    holes: Vec<Hole>,
    /// `(offset, end)` of every fragment stored, to recognise exact duplicates.
    pieces: Vec<(usize, usize)>,
    /// Payload length, known once the final fragment (MF = 0) arrived.
    total_len: Option<usize>,
}

impl Partial {
    fn new(now: Instant) -> Self {
        Partial {
            first_arrival: now,
            buffer: Vec::new(),
            holes: vec![Hole { first: 0, last: INFINITY }],
            pieces: Vec::new(),
            total_len: None,
        }
    }

    /// Decide what a fragment `offset..end` means for this datagram, without
    /// changing anything. `Pending` means "new data, may be stored".
    fn classify(&self, offset: usize, end: usize, more: bool, payload: &[u8]) -> FragmentOutcome {
        let past_final = if more {
            self.total_len.is_some_and(|total| end > total)
        } else {
            // A final fragment must agree with an earlier one and must not
            // end before data we already hold.
            self.total_len.is_some_and(|total| total != end) || end < self.buffer.len()
        };
        if past_final {
            return FragmentOutcome::Invalid;
        }
        if offset == end {
            // An empty final fragment only announces the length.
            return match self.total_len {
                Some(_) => FragmentOutcome::Duplicate,
                None => FragmentOutcome::Pending,
            };
        }
        let last = end - 1;
        if self.holes.iter().any(|h| h.first <= offset && last <= h.last) {
            return FragmentOutcome::Pending; // lies entirely inside one hole
        }
        let same_piece = self.pieces.contains(&(offset, end));
        if same_piece && self.buffer.get(offset..end) == Some(payload) {
            FragmentOutcome::Duplicate
        } else {
            FragmentOutcome::Overlap
        }
    }

    /// Store a fragment already classified as new data and update the holes.
    fn store(&mut self, offset: usize, end: usize, more: bool, payload: &[u8]) {
        if end > self.buffer.len() {
            // Grow to exactly the highest byte received, no further.
            self.buffer.reserve_exact(end - self.buffer.len());
            self.buffer.resize(end, 0);
        }
        if let Some(dst) = self.buffer.get_mut(offset..end) {
            dst.copy_from_slice(payload);
        }
        self.pieces.push((offset, end));
        if !more {
            // The final fragment fixes the length: the "infinite" trailing
            // hole ends just before `end` (or vanishes).
            self.total_len = Some(end);
            self.holes.retain_mut(|h| {
                h.last = h.last.min(end.saturating_sub(1));
                h.first < end
            });
        }
        if offset == end {
            return;
        }
        let (frag_first, frag_last) = (offset, end - 1);
        let mut holes = Vec::with_capacity(self.holes.len() + 1);
        for hole in self.holes.drain(..) {
            // RFC 815 steps 2–3: a hole the fragment does not touch stays.
            if frag_first > hole.last || frag_last < hole.first {
                holes.push(hole);
                continue;
            }
            // Step 4: the hole is deleted; steps 5–6 add what is left of it.
            if frag_first > hole.first {
                holes.push(Hole { first: hole.first, last: frag_first - 1 });
            }
            if frag_last < hole.last && more {
                holes.push(Hole { first: frag_last + 1, last: hole.last });
            }
        }
        self.holes = holes;
    }

    fn is_complete(&self) -> bool {
        self.total_len.is_some() && self.holes.is_empty()
    }
}

/// Reassembles datagrams from fragments, within fixed memory bounds; `K` names a
/// datagram (IPv4's [`FragmentKey`] by default).
#[derive(Debug)]
pub struct Reassembler<K = FragmentKey> {
    config: ReassemblyConfig,
    datagrams: HashMap<K, Partial>,
    /// Sum of `buffer.len()` over all datagrams in progress.
    bytes_held: usize,
}

impl<K: Copy + Eq + std::hash::Hash> Reassembler<K> {
    pub fn new(config: ReassemblyConfig) -> Self {
        Reassembler { config, datagrams: HashMap::new(), bytes_held: 0 }
    }

    /// Offer a fragment. Returns the outcome and, when this fragment completes
    /// the datagram, the whole payload (the transport header + data, without IP
    /// header), in order. The `Option` is `Some` exactly for
    /// [`FragmentOutcome::Complete`].
    pub fn insert(&mut self, now: Instant, fragment: Fragment<'_, K>) -> (FragmentOutcome, Option<Vec<u8>>) {
        let (key, offset, payload) = (fragment.key, fragment.offset, fragment.payload);
        let more = fragment.more_fragments;
        let len = payload.len();

        // 1. Checks that need only the fragment itself (RFC 791: offsets
        //    count 8-byte units, so every non-final fragment carries a
        //    non-zero multiple of 8 bytes).
        let end = match offset.checked_add(len) {
            Some(end) if end <= MAX_PAYLOAD && offset % 8 == 0 => end,
            _ => return self.discard(key, FragmentOutcome::Invalid),
        };
        if more && (len == 0 || len % 8 != 0) {
            return self.discard(key, FragmentOutcome::Invalid);
        }

        // 2. Offset 0 with MF = 0 is a whole datagram: nothing to store.
        if offset == 0 && !more && !self.datagrams.contains_key(&key) {
            return (FragmentOutcome::Complete, Some(payload.to_vec()));
        }

        // 3. Checks against what we already hold for this key.
        let held = match self.datagrams.get(&key) {
            Some(dgram) => match dgram.classify(offset, end, more, payload) {
                FragmentOutcome::Pending => dgram.buffer.len(),
                FragmentOutcome::Duplicate => return (FragmentOutcome::Duplicate, None),
                bad => return self.discard(key, bad),
            },
            None if self.datagrams.len() >= self.config.max_datagrams => {
                return (FragmentOutcome::NoRoom, None);
            }
            None => 0,
        };

        // 4. Memory bound: only growth of the buffer costs new bytes.
        let growth = end.saturating_sub(held);
        if self.bytes_held.saturating_add(growth) > self.config.max_bytes {
            return (FragmentOutcome::NoRoom, None);
        }

        // 5. Store, then hand the datagram over if no hole is left.
        let dgram = self.datagrams.entry(key).or_insert_with(|| Partial::new(now));
        dgram.store(offset, end, more, payload);
        self.bytes_held = self.bytes_held.saturating_add(growth);
        if !dgram.is_complete() {
            return (FragmentOutcome::Pending, None);
        }
        match self.datagrams.remove(&key) {
            Some(done) => {
                self.bytes_held = self.bytes_held.saturating_sub(done.buffer.len());
                (FragmentOutcome::Complete, Some(done.buffer))
            }
            None => (FragmentOutcome::Pending, None),
        }
    }

    /// Drop datagrams whose first fragment arrived more than `timeout` ago
    /// (at `now >= first_arrival + timeout`); returns how many were dropped
    /// (for a counter). RFC 791 lets the host send ICMP Time Exceeded here;
    /// that is left to the caller.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.expire_each(now, |_| {})
    }

    /// [`expire`](Reassembler::expire), telling `expired` the key of each
    /// datagram dropped (IPv6 answers with Time Exceeded, RFC 8200 §4.5).
    pub fn expire_each(&mut self, now: Instant, mut expired: impl FnMut(&K)) -> usize {
        let timeout = self.config.timeout;
        let before = self.datagrams.len();
        let mut freed = 0usize;
        self.datagrams.retain(|key, dgram| {
            let keep = now < dgram.first_arrival + timeout;
            if !keep {
                freed = freed.saturating_add(dgram.buffer.len());
                expired(key);
            }
            keep
        });
        self.bytes_held = self.bytes_held.saturating_sub(freed);
        before - self.datagrams.len()
    }

    /// When `expire` next has work (earliest first-arrival + timeout), for the
    /// stack's poll_deadline. A linear scan: at most `max_datagrams` entries.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.datagrams.values().map(|d| d.first_arrival + self.config.timeout).min()
    }

    /// The bounds it was created with.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.datagrams.len()
    }

    /// Payload bytes buffered across all datagrams in progress.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Whether a datagram is in progress under `key`.
    pub fn holds(&self, key: &K) -> bool {
        self.datagrams.contains_key(key)
    }

    /// Forget the datagram for `key` (if any) and report `outcome`.
    fn discard(&mut self, key: K, outcome: FragmentOutcome) -> (FragmentOutcome, Option<Vec<u8>>) {
        if let Some(dgram) = self.datagrams.remove(&key) {
            self.bytes_held = self.bytes_held.saturating_sub(dgram.buffer.len());
        }
        (outcome, None)
    }
}

#[cfg(test)]
mod tests {
    use super::FragmentOutcome::*;
    use super::*;
    use proptest::prelude::*;

    fn key(id: u16) -> FragmentKey {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let protocol = 17;
        FragmentKey { src, dst, protocol, id }
    }
    fn secs(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }
    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }
    /// Fragment `s..e` of `d`; MF is set unless it reaches the end of `d`.
    fn fr(id: u16, d: &[u8], s: usize, e: usize) -> Fragment<'_> {
        let more_fragments = e < d.len();
        Fragment { key: key(id), offset: s, more_fragments, payload: &d[s..e] }
    }
    /// Insert at time 0 and return just the outcome.
    fn put(r: &mut Reassembler, f: Fragment<'_>) -> FragmentOutcome {
        r.insert(secs(0), f).0
    }
    /// Insert at time 0, expect completion and return the payload.
    fn done(r: &mut Reassembler, f: Fragment<'_>) -> Vec<u8> {
        match r.insert(secs(0), f) {
            (Complete, Some(payload)) => payload,
            other => panic!("expected completion, got {other:?}"),
        }
    }
    fn limits(max_datagrams: usize, max_bytes: usize) -> Reassembler {
        let timeout = Duration::from_secs(30);
        Reassembler::new(ReassemblyConfig { max_datagrams, max_bytes, timeout })
    }
    fn usage(r: &Reassembler) -> (usize, usize) {
        (r.in_progress(), r.bytes_held())
    }
    /// Fisher–Yates driven by xorshift64: deterministic, no extra crates.
    fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            v.swap(i, (seed % (i as u64 + 1)) as usize);
        }
    }
    /// Deliver `d` cut into `size`-byte fragments, in the order given by `perm`.
    fn deliver(r: &mut Reassembler, d: &[u8], size: usize, perm: impl Fn(&mut [usize])) {
        let mut starts: Vec<usize> = (0..d.len()).step_by(size).collect();
        perm(&mut starts);
        for (i, &s) in starts.iter().enumerate() {
            let (outcome, out) = r.insert(secs(0), fr(9, d, s, d.len().min(s + size)));
            if i + 1 < starts.len() {
                assert_eq!((outcome, out), (Pending, None), "fragment at {s}");
            } else {
                assert_eq!((outcome, out.as_deref()), (Complete, Some(d)));
            }
        }
        assert_eq!(usage(r), (0, 0));
    }

    #[test]
    fn in_order_reverse_and_shuffled() {
        let (d, mut r) = (data(3000), Reassembler::new(ReassemblyConfig::default()));
        deliver(&mut r, &d, 1480, |_| {});
        deliver(&mut r, &d, 1480, |v| v.reverse());
        for seed in 1..20 {
            deliver(&mut r, &d, 64, |v| shuffle(v, seed));
        }
    }

    #[test]
    fn unfragmented_datagram_is_not_stored() {
        let (d, mut r) = (data(100), limits(0, 0));
        assert_eq!(done(&mut r, fr(1, &d, 0, 100)), d);
        assert_eq!(done(&mut r, fr(1, &[], 0, 0)), Vec::<u8>::new());
        assert_eq!(usage(&r), (0, 0));
    }

    #[test]
    fn duplicates_are_ignored() {
        let (d, mut r) = (data(24), limits(64, 1 << 20));
        assert_eq!(put(&mut r, fr(1, &d, 8, 16)), Pending);
        assert_eq!(put(&mut r, fr(1, &d, 8, 16)), Duplicate);
        assert_eq!(put(&mut r, fr(1, &d, 16, 24)), Pending);
        assert_eq!(put(&mut r, fr(1, &d, 16, 24)), Duplicate);
        assert_eq!(usage(&r), (1, 24));
        assert_eq!(done(&mut r, fr(1, &d, 0, 8)), d);
    }

    #[test]
    fn overlaps_discard_the_datagram() {
        let (d, evil, mut r) = (data(32), vec![0xee; 32], limits(64, 1 << 20));
        assert_eq!(put(&mut r, fr(1, &d, 0, 16)), Pending);
        assert_eq!(put(&mut r, fr(1, &d, 8, 24)), Overlap); // partial overlap
        assert_eq!(usage(&r), (0, 0));
        assert_eq!(put(&mut r, fr(2, &d, 0, 16)), Pending);
        assert_eq!(put(&mut r, fr(2, &evil, 0, 16)), Overlap); // same extent, new bytes
        assert_eq!(put(&mut r, fr(3, &d, 0, 8)), Pending);
        assert_eq!(put(&mut r, fr(3, &d, 8, 16)), Pending);
        assert_eq!(put(&mut r, fr(3, &d, 0, 16)), Overlap); // spans two pieces
        assert_eq!(usage(&r), (0, 0));
    }

    #[test]
    fn timeout_expiry_and_next_deadline() {
        let (d, mut r) = (data(32), limits(64, 1 << 20));
        assert_eq!(r.next_deadline(), None);
        r.insert(secs(10), fr(1, &d, 0, 8));
        r.insert(secs(20), fr(2, &d, 0, 8));
        r.insert(secs(25), fr(1, &d, 8, 16)); // later fragments do not extend
        assert_eq!(r.next_deadline(), Some(secs(40)));
        assert_eq!(r.expire(secs(39)), 0);
        assert_eq!(r.expire(secs(40)), 1);
        assert_eq!((usage(&r), r.next_deadline()), ((1, 8), Some(secs(50))));
        assert_eq!(r.expire(secs(100)), 1);
        assert_eq!((usage(&r), r.next_deadline()), ((0, 0), None));
    }

    #[test]
    fn max_datagrams_bound() {
        let (d, mut r) = (data(16), limits(2, 1 << 20));
        assert_eq!(put(&mut r, fr(1, &d, 0, 8)), Pending);
        assert_eq!(r.insert(secs(1), fr(2, &d, 0, 8)).0, Pending);
        assert_eq!(put(&mut r, fr(3, &d, 0, 8)), NoRoom);
        assert_eq!(put(&mut r, fr(1, &d, 8, 16)), Complete); // frees a slot
        assert_eq!(put(&mut r, fr(3, &d, 0, 8)), Pending);
        assert_eq!(put(&mut r, fr(4, &d, 0, 8)), NoRoom);
        assert_eq!(r.expire(secs(30)), 1); // so does expiry
        assert_eq!(put(&mut r, fr(4, &d, 0, 8)), Pending);
    }

    #[test]
    fn max_bytes_bound() {
        let (d, mut r) = (data(1000), limits(64, 1024));
        assert_eq!(put(&mut r, fr(1, &d, 0, 8)), Pending);
        assert_eq!(put(&mut r, fr(2, &d, 992, 1000)), Pending);
        assert_eq!(usage(&r), (2, 1008)); // buffers grow only to the highest byte
        assert_eq!(put(&mut r, fr(1, &d, 8, 32)), NoRoom);
        assert_eq!(put(&mut r, fr(3, &d, 0, 24)), NoRoom);
        assert_eq!(put(&mut r, fr(2, &d, 0, 992)), Complete); // no growth needed
        assert_eq!(put(&mut r, fr(1, &d, 8, 32)), Pending);
        assert_eq!(put(&mut r, fr(3, &d, 8, 1000)), NoRoom);
        assert_eq!(r.expire(secs(30)), 1);
        assert_eq!(put(&mut r, fr(3, &d, 8, 1000)), Pending);
        assert_eq!(usage(&r), (1, 1000));
    }

    #[test]
    fn invalid_offsets() {
        let (p, mut r) = ([0u8; 16], limits(64, 1 << 20));
        let f = |offset, more, payload| Fragment { offset, more_fragments: more, payload, ..fr(1, &[], 0, 0) };
        assert_eq!(put(&mut r, f(0, true, &p[..8])), Pending);
        assert_eq!(put(&mut r, f(65_512, true, &p[..8])), Invalid);
        assert_eq!(usage(&r), (0, 0), "the datagram is discarded");
        assert_eq!(put(&mut r, f(65_512, false, &p[..4])), Invalid);
        assert_eq!(put(&mut r, f(usize::MAX - 7, false, &p)), Invalid);
        assert_eq!(put(&mut r, f(4, true, &p[..8])), Invalid); // unaligned
        assert_eq!(put(&mut r, f(65_512, false, &p[..3])), Pending); // ends at 65,515
    }

    #[test]
    fn fragment_after_final_and_conflicting_finals() {
        let (d, mut r) = (data(48), limits(64, 1 << 20));
        assert_eq!(put(&mut r, fr(1, &d[..24], 16, 24)), Pending);
        assert_eq!(put(&mut r, fr(1, &d, 24, 32)), Invalid); // beyond the final
        assert_eq!(put(&mut r, fr(2, &d[..24], 16, 24)), Pending);
        assert_eq!(put(&mut r, fr(2, &d[..32], 24, 32)), Invalid); // another length
        assert_eq!(put(&mut r, fr(3, &d, 32, 40)), Pending);
        assert_eq!(put(&mut r, fr(3, &d[..16], 8, 16)), Invalid); // ends before data
        assert_eq!(usage(&r), (0, 0));
    }

    #[test]
    fn middle_fragment_must_be_a_multiple_of_8() {
        let (d, mut r) = (data(40), limits(64, 1 << 20));
        assert_eq!(put(&mut r, fr(1, &d, 0, 8)), Pending);
        assert_eq!(put(&mut r, fr(1, &d, 8, 20)), Invalid);
        assert_eq!(usage(&r), (0, 0));
        assert_eq!(put(&mut r, fr(1, &d, 8, 8)), Invalid); // empty non-final
    }

    #[test]
    fn empty_final_fragment() {
        let (d, mut r) = (data(16), limits(64, 1 << 20));
        let last = |id| fr(id, &d, 16, 16); // offset 16, no data, MF = 0
        assert_eq!(put(&mut r, fr(1, &d, 0, 8)), Pending);
        assert_eq!(put(&mut r, last(1)), Pending);
        assert_eq!(put(&mut r, last(1)), Duplicate);
        assert_eq!(done(&mut r, fr(1, &d, 8, 16)), d);
        // Arriving last, it completes the datagram.
        assert_eq!(put(&mut r, fr(2, &d, 0, 8)), Pending);
        let mut middle = fr(2, &d, 8, 16);
        middle.more_fragments = true;
        assert_eq!(put(&mut r, middle), Pending);
        assert_eq!(done(&mut r, last(2)), d);
    }

    #[test]
    fn interleaved_datagrams() {
        let (a, b, mut r) = (data(64), vec![0x55; 40], limits(64, 1 << 20));
        let mut other_protocol = fr(1, &b, 0, 8);
        other_protocol.key.protocol = 6;
        assert_eq!(put(&mut r, fr(1, &a, 32, 64)), Pending);
        assert_eq!(put(&mut r, fr(2, &b, 0, 16)), Pending);
        assert_eq!(put(&mut r, other_protocol), Pending);
        assert_eq!(done(&mut r, fr(2, &b, 16, 40)), b);
        assert_eq!(done(&mut r, fr(1, &a, 0, 32)), a);
        assert_eq!(usage(&r), (1, 8));
    }

    proptest! {
        #[test]
        fn any_split_any_order_reassembles_once(
            payload in proptest::collection::vec(any::<u8>(), 1..=9000),
            cuts in proptest::collection::vec(any::<u16>(), 0..40),
            dups in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..20),
            seed in 1..u64::MAX,
        ) {
            // 8-byte-aligned cut points inside the payload, plus both ends.
            let units = payload.len().div_ceil(8);
            let mut points: Vec<usize> = cuts.iter().map(|&c| (c as usize % units) * 8).collect();
            points.extend([0, payload.len()]);
            points.sort_unstable();
            points.dedup();
            let ranges: Vec<_> = points.windows(2).map(|w| (w[0], w[1])).collect();
            // Shuffle, then add duplicates after their original but before the
            // last fragment, which is the one that completes the datagram.
            let mut order: Vec<usize> = (0..ranges.len()).collect();
            shuffle(&mut order, seed);
            for &(which, at) in &dups {
                let which = which as usize % ranges.len();
                let Some(pos) = order.iter().position(|&i| i == which) else { continue };
                let last = order.len() - 1;
                if pos < last {
                    order.insert(pos + 1 + at as usize % (last - pos), which);
                }
            }
            let mut r = Reassembler::new(ReassemblyConfig::default());
            let mut seen = vec![false; ranges.len()];
            let mut completions = 0;
            for &i in &order {
                let (s, e) = ranges[i];
                let (outcome, out) = r.insert(secs(0), fr(7, &payload, s, e));
                if !seen[i] && seen.iter().filter(|&&x| !x).count() == 1 {
                    prop_assert_eq!((outcome, out.as_deref()), (Complete, Some(&payload[..])));
                    completions += 1;
                } else {
                    prop_assert_eq!((outcome, out), (if seen[i] { Duplicate } else { Pending }, None));
                }
                seen[i] = true;
                prop_assert!(r.bytes_held() <= payload.len());
            }
            prop_assert_eq!(completions, 1);
            prop_assert_eq!(usage(&r), (0, 0));
        }
    }
}
