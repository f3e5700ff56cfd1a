//! The sender's SACK scoreboard (RFC 6675 §3): which bytes above SND.UNA the
//! peer has reported holding.
//!
//! With SACK (RFC 2018) each ACK can tell the sender, besides the cumulative
//! acknowledgement SND.UNA, up to four blocks of data that arrived *above* a
//! hole. The blocks of successive ACKs overlap, arrive out of order, and may be
//! bogus; the scoreboard validates them and merges them into disjoint ranges.
//! The retransmission queue ([`SentQueue`](super::sent_queue::SentQueue)) asks
//! it whether a whole segment is covered ([`Scoreboard::covers`]), and RACK
//! ([`rack`](super::rack)) turns those deliveries into loss decisions.
//!
//! ```text
//!   SND.UNA                                                    SND.NXT
//!      | hole |##SACKed##| hole |#####SACKed#####| hole  |#| not yet |
//!      +------+----------+------+----------------+-------+-+---------+
//! ```
//!
//! # Representation and bounds
//!
//! A sorted array of at most [`MAX_RANGES`] non-overlapping, non-adjacent
//! SACKed ranges `[left, right)`, all inside `[SND.UNA, SND.NXT)`, plus their
//! total length. Fixed size, so nothing is ever allocated; every operation is
//! O([`MAX_RANGES`]) — linear in the number of ranges, never in bytes.
//!
//! When a new block would make a 33rd range, the *highest* range is forgotten
//! (which may be the new block itself). Forgetting SACK information is always
//! safe: at worst the sender retransmits bytes that had arrived, or waits a
//! little longer to call a hole lost. Merging two ranges instead would claim
//! that the bytes between them arrived, and they would never be retransmitted
//! until the retransmission timer fired. The highest range is the one to drop
//! because recovery proceeds from SND.UNA upwards, and a receiver keeps
//! repeating its most recent blocks (RFC 2018 §4), so it will be re-learned.
//!
//! All ranges lie within the flight `[SND.UNA, SND.NXT)`, which is less than
//! 2³¹ bytes (a window is at most 2³⁰, RFC 7323 §2.3), so comparing them with
//! [`SeqNumber`]'s serial order is sound.

use super::seq::SeqNumber;

/// How many SACKed ranges the scoreboard remembers.
pub const MAX_RANGES: usize = 32;

/// RFC 6675 §2 DupThresh: the number of duplicate ACKs (or SACKed segments)
/// taken as evidence of loss rather than reordering, RFC 5681's three.
pub const DUP_THRESH: usize = 3;

/// No valid SACK block is wider than the largest window (RFC 7323 §2.3).
const MAX_BLOCK: i64 = 1 << 30;

/// The SACKed ranges above SND.UNA. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoreboard {
    /// Sorted, non-overlapping, non-adjacent `[left, right)` ranges; only the
    /// first `len` are meaningful.
    ranges: [(SeqNumber, SeqNumber); MAX_RANGES],
    len: usize,
    /// Sum of the lengths of the ranges.
    sacked: usize,
}

impl Default for Scoreboard {
    fn default() -> Self {
        Self::new()
    }
}

/// The length of `[l, r)`.
fn width((l, r): (SeqNumber, SeqNumber)) -> usize {
    r.since(l)
}

impl Scoreboard {
    /// An empty scoreboard.
    pub fn new() -> Self {
        Scoreboard { ranges: [(SeqNumber(0), SeqNumber(0)); MAX_RANGES], len: 0, sacked: 0 }
    }

    /// The SACKed ranges, lowest first.
    pub fn ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.ranges[..self.len]
    }

    /// Total SACKed bytes above SND.UNA.
    #[cfg(test)]
    pub fn sacked_bytes(&self) -> usize {
        self.sacked
    }

    /// The end of the highest SACKed range — RFC 6675's "highest octet covered
    /// by any received SACK" plus one; `None` if nothing is SACKed.
    #[cfg(test)]
    pub fn highest_sacked(&self) -> Option<SeqNumber> {
        self.ranges().last().map(|&(_, r)| r)
    }

    /// Forgets all SACK information. RFC 2018 §8: after a retransmission
    /// timeout the sender should forget what was SACKed, because the receiver
    /// may have *reneged* (discarded data it had SACKed but not yet ACKed).
    pub fn clear(&mut self) {
        self.len = 0;
        self.sacked = 0;
    }

    /// Records the SACK blocks of one ACK (RFC 6675 §4 `Update()`), given the
    /// connection's SND.UNA and SND.NXT (the highest sequence number sent,
    /// RFC 6675's HighData). It may be called before or after
    /// [`on_cumulative_ack`](Self::on_cumulative_ack) for the same ACK: bytes
    /// the cumulative ACK covers are forgotten either way.
    ///
    /// A block counts only for its bytes inside `[snd_una, snd_nxt)`:
    ///
    /// * a block wholly at or below SND.UNA is ignored — it is either stale
    ///   or a D-SACK (RFC 2883 §4: a first block below the cumulative ACK
    ///   reports a duplicate, not new data);
    /// * a block reaching past SND.NXT, or with `right ≤ left`, is ignored:
    ///   it claims bytes that were never sent, so it is bogus (Linux's
    ///   `tcp_is_sackblock_valid` refuses those too);
    /// * a block wider than the largest possible window (2³⁰, RFC 7323 §2.3)
    ///   is ignored as absurd;
    /// * a block straddling SND.UNA counts for its part above SND.UNA (an ACK
    ///   overtaken by a newer one can carry such a block; the bytes it reports
    ///   above SND.UNA did arrive).
    pub fn on_sack(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber, blocks: &[(SeqNumber, SeqNumber)]) {
        let flight = snd_nxt.since(snd_una) as i64;
        for &(left, right) in blocks {
            let (l, r) = (left - snd_una, right - snd_una);
            if l >= r || r <= 0 || r > flight || r - l > MAX_BLOCK {
                continue;
            }
            let left = if l < 0 { snd_una } else { left };
            self.insert(left, right);
        }
    }

    /// Adds `[l, r)` (non-empty, inside the flight), merging with every range
    /// it overlaps or touches.
    fn insert(&mut self, l: SeqNumber, r: SeqNumber) {
        // Ranges i..j overlap or touch [l, r]: i is the first ending at or
        // after l, j the first starting after r.
        let i = self.ranges().iter().position(|&(_, e)| e >= l).unwrap_or(self.len);
        let j = self.ranges()[i..].iter().position(|&(s, _)| s > r).map_or(self.len, |k| i + k);
        if i < j {
            // Merge them into slot i and close up the gap.
            let merged = (l.min(self.ranges[i].0), r.max(self.ranges[j - 1].1));
            let removed: usize = self.ranges[i..j].iter().map(|&x| width(x)).sum();
            self.ranges[i] = merged;
            self.ranges.copy_within(j..self.len, i + 1);
            self.len -= j - i - 1;
            self.sacked = self.sacked + width(merged) - removed;
            return;
        }
        // A new, separate range at index i.
        if self.len == MAX_RANGES {
            if i == MAX_RANGES {
                return; // it would be the highest: forget it
            }
            self.len -= 1; // forget the highest to make room
            self.sacked -= width(self.ranges[self.len]);
        }
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = (l, r);
        self.len += 1;
        self.sacked += width((l, r));
    }

    /// SND.UNA advanced to `snd_una`: forget what lies below it (those bytes
    /// are now cumulatively acknowledged).
    pub fn on_cumulative_ack(&mut self, snd_una: SeqNumber) {
        let gone = self.ranges().iter().take_while(|&&(_, r)| r <= snd_una).count();
        let forgotten: usize = self.ranges[..gone].iter().map(|&x| width(x)).sum();
        self.ranges.copy_within(gone..self.len, 0);
        self.len -= gone;
        self.sacked -= forgotten;
        if let Some(first) = self.ranges[..self.len].first_mut() {
            if first.0 < snd_una {
                self.sacked -= snd_una.since(first.0);
                first.0 = snd_una;
            }
        }
    }

    /// Whether the byte at `seq` has been SACKed.
    #[cfg(test)]
    pub fn is_sacked(&self, seq: SeqNumber) -> bool {
        self.ranges().iter().any(|&(l, r)| seq.in_window(l, r))
    }

    /// Whether every byte of `[l, r)` has been SACKed (by one merged range).
    pub fn covers(&self, l: SeqNumber, r: SeqNumber) -> bool {
        self.ranges().iter().any(|&(sl, sr)| sl <= l && r <= sr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(x: u32) -> SeqNumber {
        SeqNumber(x)
    }

    #[test]
    fn records_and_merges_blocks() {
        let mut sb = Scoreboard::new();
        sb.on_sack(s(0), s(1000), &[(s(100), s(200)), (s(300), s(400))]);
        assert_eq!(sb.ranges(), &[(s(100), s(200)), (s(300), s(400))]);
        assert_eq!(sb.sacked_bytes(), 200);
        sb.on_sack(s(0), s(1000), &[(s(150), s(300))]);
        assert_eq!(sb.ranges(), &[(s(100), s(400))], "overlap and adjacency merge");
        assert_eq!(sb.sacked_bytes(), 300);
        sb.on_sack(s(0), s(1000), &[(s(100), s(400))]);
        assert_eq!(sb.sacked_bytes(), 300, "a repeated block changes nothing");
        assert!(sb.is_sacked(s(100)) && sb.is_sacked(s(399)));
        assert!(!sb.is_sacked(s(99)) && !sb.is_sacked(s(400)));
        assert_eq!(sb.highest_sacked(), Some(s(400)));
    }

    #[test]
    fn invalid_blocks_are_ignored() {
        let mut sb = Scoreboard::new();
        let (una, nxt) = (s(1000), s(2000));
        sb.on_sack(
            una,
            nxt,
            &[
                (s(500), s(1000)),                    // D-SACK / stale: wholly below SND.UNA
                (s(1500), s(2001)),                   // past SND.NXT: never sent
                (s(1600), s(1600)),                   // empty
                (s(1700), s(1650)),                   // reversed
                (s(3_000_000_000), s(3_000_000_100)), // nowhere near
                (una + (1 << 31) + 10, s(1100)),      // "straddles", but 2³¹ wide
            ],
        );
        assert_eq!(sb.sacked_bytes(), 0);
        sb.on_sack(una, nxt, &[(s(900), s(1100)), (s(1900), s(2000))]);
        assert_eq!(sb.ranges(), &[(s(1000), s(1100)), (s(1900), s(2000))], "straddler clamped");
    }

    #[test]
    fn cumulative_ack_forgets_below() {
        let mut sb = Scoreboard::new();
        sb.on_sack(s(0), s(1000), &[(s(100), s(200)), (s(300), s(400)), (s(500), s(600))]);
        sb.on_cumulative_ack(s(350));
        assert_eq!(sb.ranges(), &[(s(350), s(400)), (s(500), s(600))]);
        assert_eq!(sb.sacked_bytes(), 150);
        sb.on_cumulative_ack(s(1000));
        assert_eq!(sb.sacked_bytes(), 0);
        assert!(sb.ranges().is_empty());
    }

    #[test]
    fn bounded_by_forgetting_the_highest() {
        let mut sb = Scoreboard::new();
        let nxt = s(10_000);
        for k in 0..MAX_RANGES as u32 {
            sb.on_sack(s(0), nxt, &[(s(10 + 20 * k), s(20 + 20 * k))]);
        }
        assert_eq!(sb.ranges().len(), MAX_RANGES);
        let highest = *sb.ranges().last().expect("a range");
        // A new highest block is itself forgotten...
        sb.on_sack(s(0), nxt, &[(s(5000), s(5010))]);
        assert_eq!(sb.ranges().len(), MAX_RANGES);
        assert!(!sb.is_sacked(s(5000)));
        // ...a lower one displaces the highest...
        sb.on_sack(s(0), nxt, &[(s(0), s(5))]);
        assert!(sb.is_sacked(s(0)));
        assert!(!sb.is_sacked(highest.0));
        assert_eq!(sb.sacked_bytes(), 5 + 10 * (MAX_RANGES - 1));
        // ...and a block that merges with existing ranges needs no room.
        sb.on_sack(s(0), nxt, &[(s(5), s(10))]);
        assert_eq!(sb.ranges()[0], (s(0), s(20)));
        assert_eq!(sb.ranges().len(), MAX_RANGES - 1);
    }

    #[test]
    fn wraps_around_2_pow_32() {
        let una = s(u32::MAX - 99);
        let nxt = una + 400;
        let mut sb = Scoreboard::new();
        sb.on_sack(una, nxt, &[(una + 50, una + 150), (una + 200, una + 210), (una + 300, una + 310)]);
        assert_eq!(sb.sacked_bytes(), 120);
        assert!(sb.is_sacked(s(0)) && sb.is_sacked(s(49)) && !sb.is_sacked(s(50)));
        assert!(sb.covers(una + 50, s(50)) && !sb.covers(una + 49, s(50)) && !sb.covers(una + 100, una + 210));
        sb.on_cumulative_ack(s(10));
        assert_eq!(sb.ranges()[0], (s(10), s(50)));
        assert_eq!(sb.sacked_bytes(), 60);
        sb.clear();
        assert_eq!(sb.sacked_bytes(), 0);
        assert!(!sb.covers(s(10), s(50)));
    }

    // ---- model-based property test -------------------------------------

    /// A byte-per-byte model, positions counted from the ISN (no wrap).
    struct Model {
        sacked: Vec<bool>,
    }

    impl Model {
        fn runs(&self, from: usize) -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let mut i = from;
            while i < self.sacked.len() {
                if self.sacked[i] {
                    let st = i;
                    while i < self.sacked.len() && self.sacked[i] {
                        i += 1;
                    }
                    out.push((st, i));
                } else {
                    i += 1;
                }
            }
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Blocks as (left, right) offsets from SND.UNA, possibly invalid.
        Sack(Vec<(i64, i64)>),
        Ack(usize),
        Send(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let block = (-40i64..440, -5i64..40).prop_map(|(l, w)| (l, l + w));
        // Many narrow, evenly spaced blocks: enough ranges to hit MAX_RANGES.
        let comb = (0i64..60, 1i64..4, 1i64..6, 10usize..50).prop_map(|(at, width, gap, n)| {
            (0..n as i64).map(|k| (at + k * (width + gap), at + k * (width + gap) + width)).collect()
        });
        prop_oneof![
            6 => proptest::collection::vec(block, 1..5).prop_map(Op::Sack),
            1 => comb.prop_map(Op::Sack),
            1 => (0usize..60).prop_map(Op::Ack),
            1 => (0usize..100).prop_map(Op::Send),
        ]
    }

    proptest! {
        #![proptest_config(crate::testutil::proptest_cases(512))]

        /// The scoreboard agrees with a byte-set model that applies the same
        /// validity rules and the same "forget the highest range" bound:
        /// sacked_bytes equals the model's union size, and is_sacked and
        /// covers agree with it byte by byte.
        #[test]
        fn matches_a_byte_model(
            isn in any::<u32>(),
            ops in proptest::collection::vec(op(), 1..40),
            probe in 0usize..500,
        ) {
            let isn = SeqNumber(isn);
            let mut sb = Scoreboard::new();
            let mut m = Model { sacked: vec![false; 2000] };
            let (mut una, mut nxt) = (0usize, 400usize);
            for op in ops {
                match op {
                    Op::Sack(blocks) => {
                        let seqs: Vec<_> = blocks.iter()
                            .map(|&(l, r)| (isn + (una as i64 + l) as usize, isn + (una as i64 + r) as usize))
                            .collect();
                        sb.on_sack(isn + una, isn + nxt, &seqs);
                        for (l, r) in blocks {
                            let flight = (nxt - una) as i64;
                            if l >= r || r <= 0 || r > flight {
                                continue;
                            }
                            let (l, r) = (una + l.max(0) as usize, una + r as usize);
                            m.sacked[l..r].iter_mut().for_each(|b| *b = true);
                            let runs = m.runs(una);
                            if runs.len() > MAX_RANGES {
                                let (hl, hr) = runs[runs.len() - 1];
                                m.sacked[hl..hr].iter_mut().for_each(|b| *b = false);
                            }
                        }
                    }
                    Op::Ack(k) => {
                        una = (una + k).min(nxt);
                        sb.on_cumulative_ack(isn + una);
                        m.sacked[..una].iter_mut().for_each(|b| *b = false);
                    }
                    Op::Send(k) => nxt = (nxt + k).min(m.sacked.len() - 1),
                }
                let runs = m.runs(una);
                prop_assert!(sb.ranges().len() <= MAX_RANGES);
                prop_assert_eq!(sb.ranges().len(), runs.len());
                prop_assert_eq!(sb.sacked_bytes(), m.sacked.iter().filter(|&&b| b).count());
                for b in una..nxt {
                    prop_assert_eq!(sb.is_sacked(isn + b), m.sacked[b], "is_sacked({})", b);
                }
                // covers() of a probe range, per octet.
                let l = una + probe % (nxt - una + 1);
                let r = (l + probe % 37 + 1).min(nxt);
                if l < r {
                    prop_assert_eq!(sb.covers(isn + l, isn + r), m.sacked[l..r].iter().all(|&b| b), "covers({}, {})", l, r);
                }
            }
        }
    }
}
