//! The receiver's out-of-order queue, and the SACK blocks it reports.
//!
//! TCP delivers a byte stream in order, but IP delivers segments in any order,
//! duplicated or not at all. RFC 9293 §3.10.7.4 processes the segment that
//! starts at RCV.NXT and says segments with higher beginning sequence numbers
//! are *held for later processing*. This module is that holding area: segments
//! that arrive beyond RCV.NXT wait here until the gap before them is filled,
//! and then come out, in order, through [`Assembler::take_contiguous`].
//!
//! ```text
//!   RCV.NXT
//!      |  hole   | held  |  hole  |   held    |
//!   ---+---------+=======+--------+===========+------>  sequence space
//!                 block 2            block 1  ← most recent arrival
//! ```
//!
//! # Selective acknowledgement (RFC 2018)
//!
//! The held ranges are exactly what a SACK option reports: each *block* is a
//! maximal run of held bytes, `[left, right)` where `right` is "the sequence
//! number immediately following the last sequence number of this block"
//! (RFC 2018 §3). RFC 2018 §4 orders them: the first block MUST contain the
//! segment that triggered this ACK, and the rest SHOULD repeat the most
//! recently reported blocks. [`Assembler::sack_blocks`] follows that with a
//! small recency list of the most recent arrivals.
//!
//! # Overlaps: the first copy wins
//!
//! A retransmission may overlap bytes already held. RFC 9293 does not say which
//! copy to keep; this queue keeps the bytes it already has and stores only the
//! new parts of the arriving segment. That is cheaper (held data is never
//! rewritten or split) and mirrors the safer choice in IP reassembly (RFC 5722):
//! once accepted, bytes cannot be overwritten by a later, possibly forged,
//! segment. A segment that brings nothing new is reported as
//! [`InsertOutcome::Duplicate`].
//!
//! # Bounds
//!
//! At most `max_bytes` payload bytes and at most `max_ranges` discontiguous
//! ranges are held. A segment whose new bytes would exceed either bound is
//! refused whole ([`InsertOutcome::NoRoom`], for a drop counter); it is not a
//! protocol error — the sender will retransmit it. So is a segment ending more
//! than 2³⁰ bytes (the largest possible window, RFC 7323 §2.3) past RCV.NXT:
//! no valid window reaches that far, and refusing it keeps every held byte
//! within 2³¹ of RCV.NXT, where sequence-number comparison is meaningful.
//!
//! The bytes are [`Bytes`] handles, stored without copying. A handle keeps its
//! whole backing allocation alive: a 1-byte segment sliced from a 64 KiB
//! receive buffer pins 64 KiB. `max_bytes` counts payload, not pinned memory,
//! so callers that receive into large shared buffers may want to copy small
//! segments (`Bytes::copy_from_slice`) before inserting them.
//!
//! # Representation
//!
//! Sequence numbers wrap at 2³², and their order is only meaningful within
//! 2³¹ of each other — unfit as keys of an ordered map. Inside, every sequence
//! number is therefore *unwrapped* into a 64-bit stream position: positions
//! are an affine image of sequence space (`pos = base_pos + (seq − base_seq)`),
//! re-anchored at every call, so they never wrap. Two maps are kept:
//!
//! * `ranges`: start → end of each maximal run of held bytes (the SACK blocks;
//!   what the bounds count);
//! * `chunks`: start → [`Bytes`] of the stored pieces. Pieces never overlap and
//!   adjacent pieces are not merged (that would mean copying), so a run may
//!   consist of many pieces.
//!
//! Every operation is O(log n) map work per range or piece it touches — never
//! a scan over bytes.

use std::collections::BTreeMap;
use std::ops::Deref;

use bytes::{Buf, Bytes};

use super::seq::SeqNumber;

/// At most four SACK blocks fit in TCP's 40 bytes of option space
/// (2 + 4 × 8 = 34; RFC 2018 §3) — three when timestamps are also sent.
pub const MAX_SACK_BLOCKS: usize = 4;

/// How many recent arrivals are remembered for ordering SACK blocks. More than
/// [`MAX_SACK_BLOCKS`] so that, when recent arrivals have merged into one
/// block, older distinct blocks can still be repeated.
const RECENT: usize = 8;

/// The largest receive window: 65,535 << 14 < 2³⁰ (RFC 7323 §2.3).
const MAX_WINDOW: u64 = 1 << 30;

/// Position given to the anchor when the queue is (re)anchored. Far from both
/// 0 and 2⁶⁴, so position arithmetic can never overflow.
const ORIGIN: u64 = 1 << 62;

/// If the anchor ever drifts this far from [`ORIGIN`] (after ~2⁶¹ bytes of
/// sequence space without the queue ever emptying), every key is shifted back.
/// Tests use a small value so that this path runs.
const MAX_DRIFT: u64 = if cfg!(test) { 1 << 33 } else { 1 << 61 };

/// What [`Assembler::insert`] did with a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// At least one new byte was stored.
    Stored,
    /// Nothing new: every byte was already held or already delivered (lies
    /// before RCV.NXT), or the segment was empty.
    Duplicate,
    /// Refused whole: storing its new bytes would exceed `max_bytes` or
    /// `max_ranges`, or it ends more than 2³⁰ bytes past RCV.NXT.
    NoRoom,
}

/// Up to [`MAX_SACK_BLOCKS`] SACK blocks `[left, right)`, in the order they go
/// into the option. A fixed-size value, so building one never allocates;
/// dereferences to a slice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SackBlocks {
    blocks: [(SeqNumber, SeqNumber); MAX_SACK_BLOCKS],
    len: usize,
}

impl SackBlocks {
    fn push(&mut self, block: (SeqNumber, SeqNumber)) {
        if let Some(slot) = self.blocks.get_mut(self.len) {
            *slot = block;
            self.len += 1;
        }
    }

    fn contains_left_edge(&self, left: SeqNumber) -> bool {
        self.iter().any(|&(l, _)| l == left)
    }
}

impl IntoIterator for SackBlocks {
    type Item = (SeqNumber, SeqNumber);
    type IntoIter = std::iter::Take<std::array::IntoIter<(SeqNumber, SeqNumber), MAX_SACK_BLOCKS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.blocks.into_iter().take(self.len)
    }
}

impl<'a> IntoIterator for &'a SackBlocks {
    type Item = &'a (SeqNumber, SeqNumber);
    type IntoIter = std::slice::Iter<'a, (SeqNumber, SeqNumber)>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Deref for SackBlocks {
    type Target = [(SeqNumber, SeqNumber)];
    fn deref(&self) -> &Self::Target {
        &self.blocks[..self.len]
    }
}

/// The out-of-order queue. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Assembler {
    max_bytes: usize,
    max_ranges: usize,
    /// The anchor of the seq → position map: `base_seq` is at `base_pos`.
    /// It is moved to RCV.NXT on every call.
    base_seq: SeqNumber,
    base_pos: u64,
    /// Maximal runs of held bytes: start position → end position (exclusive).
    /// Non-overlapping and non-adjacent.
    ranges: BTreeMap<u64, u64>,
    /// The stored pieces: start position → bytes. Non-overlapping; their union
    /// is exactly the union of `ranges`.
    chunks: BTreeMap<u64, Bytes>,
    /// Sum of the pieces' lengths.
    bytes_held: usize,
    /// Positions of the most recent arrivals, most recent first; at most one
    /// per block at the time it was recorded.
    recent: [u64; RECENT],
    recent_len: usize,
}

impl Assembler {
    /// An empty queue holding at most `max_bytes` bytes in at most
    /// `max_ranges` discontiguous ranges. Allocates nothing until data arrives.
    pub fn new(max_bytes: usize, max_ranges: usize) -> Self {
        Assembler {
            max_bytes,
            max_ranges,
            base_seq: SeqNumber(0),
            base_pos: ORIGIN,
            ranges: BTreeMap::new(),
            chunks: BTreeMap::new(),
            bytes_held: 0,
            recent: [0; RECENT],
            recent_len: 0,
        }
    }

    /// Payload bytes held.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Allow up to `max_bytes` (never lowers the bound).
    pub fn raise_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = self.max_bytes.max(max_bytes);
    }

    /// The bounds given to [`new`](Self::new): `(max_bytes, max_ranges)`.
    pub fn limits(&self) -> (usize, usize) {
        (self.max_bytes, self.max_ranges)
    }

    /// Number of discontiguous ranges held (= SACK blocks available).
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Drops everything held (e.g. when the connection is reset).
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.chunks.clear();
        self.bytes_held = 0;
        self.recent_len = 0;
    }

    /// Stores `data`, which starts at sequence number `seq`, given that
    /// `rcv_nxt` (RCV.NXT) is the next in-order byte expected.
    ///
    /// The caller has already trimmed the segment to the receive window
    /// (RFC 9293 §3.10.7.4, "first check sequence number"). Bytes before
    /// `rcv_nxt` are trimmed here too ("if a segment's contents straddle the
    /// boundary between old and new, only the new parts are processed"), and
    /// so are bytes already held (the first copy wins — see the module docs).
    ///
    /// A segment that starts at or before `rcv_nxt` is accepted like any other
    /// (then [`take_contiguous`](Self::take_contiguous) returns it at once),
    /// but is subject to the same bounds; a connection usually appends such
    /// in-order data to its receive buffer directly and only queues the rest.
    ///
    /// Every outcome except `NoRoom` (and a segment wholly before `rcv_nxt`)
    /// makes the block holding this segment the first SACK block (RFC 2018 §4).
    pub fn insert(&mut self, rcv_nxt: SeqNumber, seq: SeqNumber, mut data: Bytes) -> InsertOutcome {
        let rcv_pos = self.sync(rcv_nxt);

        // Place the segment in position space, trimming what precedes RCV.NXT.
        let offset = seq - rcv_nxt; // signed, |offset| ≤ 2³¹
        let start = if offset < 0 {
            let old = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            if old >= data.len() {
                return InsertOutcome::Duplicate; // wholly old: already delivered
            }
            data.advance(old);
            rcv_pos
        } else {
            rcv_pos + offset.unsigned_abs()
        };
        if data.is_empty() {
            return InsertOutcome::Duplicate;
        }
        let len = data.len() as u64;
        if (start - rcv_pos).saturating_add(len) > MAX_WINDOW {
            return InsertOutcome::NoRoom;
        }
        let end = start + len;

        // Pass 1 (no changes yet): which held ranges overlap or touch
        // [start, end], and how many of our bytes do they already hold?
        // `first` is the start of the range containing or abutting `start`.
        let first = match self.ranges.range(..=start).next_back() {
            Some((&s, &e)) if e >= start => s,
            _ => start,
        };
        let mut already_held = 0;
        let mut touched = 0;
        for (&s, &e) in self.ranges.range(first..=end) {
            already_held += e.min(end).saturating_sub(s.max(start));
            touched += 1;
        }
        let new_bytes = (len - already_held) as usize; // ≤ data.len()
        if new_bytes == 0 {
            self.note_recent(start);
            return InsertOutcome::Duplicate;
        }
        // The touched ranges and the segment merge into one range.
        let ranges_after = self.ranges.len() - touched + 1;
        let bytes_after = self.bytes_held.saturating_add(new_bytes);
        if bytes_after > self.max_bytes || ranges_after > self.max_ranges {
            return InsertOutcome::NoRoom;
        }

        // Pass 2: store the pieces of `data` that fall in the gaps between the
        // touched ranges, and replace those ranges by their union with ours.
        let (mut lo, mut hi, mut cursor) = (start, end, start);
        while let Some((&s, &e)) = self.ranges.range(first..=end).next() {
            self.ranges.remove(&s);
            if s > cursor {
                let piece = data.slice((cursor - start) as usize..(s - start) as usize);
                self.chunks.insert(cursor, piece);
            }
            cursor = cursor.max(e);
            lo = lo.min(s);
            hi = hi.max(e);
        }
        if cursor < end {
            let piece = if cursor == start {
                data // the whole segment is new: store it as is
            } else {
                data.slice((cursor - start) as usize..)
            };
            self.chunks.insert(cursor, piece);
        }
        self.ranges.insert(lo, hi);
        self.bytes_held = bytes_after;
        self.note_recent(start);
        InsertOutcome::Stored
    }

    /// Moves every held byte that is now contiguous from `rcv_nxt` onto the
    /// end of `out` (appended, not cleared), in order, and returns how many
    /// bytes that was. The caller appends the chunks to the receive buffer and
    /// advances RCV.NXT by the returned count (RFC 9293 §3.10.7.4: RCV.NXT "is
    /// advanced over the data accepted"). Held bytes that now lie before
    /// `rcv_nxt` (delivered by an in-order segment that overlapped them) are
    /// discarded first.
    ///
    /// Call it whenever RCV.NXT advances. `out` is the caller's: a reused
    /// `Vec` makes this allocation-free, and a fresh `Vec::new()` allocates
    /// only if something is returned.
    pub fn take_contiguous(&mut self, rcv_nxt: SeqNumber, out: &mut Vec<Bytes>) -> usize {
        let rcv_pos = self.sync(rcv_nxt);
        let Some(entry) = self.ranges.first_entry() else {
            return 0;
        };
        if *entry.key() != rcv_pos {
            return 0; // a hole remains at RCV.NXT
        }
        let end = entry.remove();
        let mut taken = 0;
        while let Some(entry) = self.chunks.first_entry() {
            if *entry.key() >= end {
                break;
            }
            let chunk = entry.remove();
            taken += chunk.len();
            out.push(chunk);
        }
        self.bytes_held = self.bytes_held.saturating_sub(taken);
        self.forget_recent_below(end);
        taken
    }

    /// The SACK blocks to send (RFC 2018 §4): at most `max` (itself at most
    /// [`MAX_SACK_BLOCKS`]) distinct blocks `[left, right)`. First the block
    /// holding the most recently arrived segment, then blocks holding earlier
    /// arrivals, most recent first; if fewer than `max` blocks were found that
    /// way, the remaining ones nearest RCV.NXT fill the option.
    ///
    /// Reflects RCV.NXT as of the last [`insert`](Self::insert) or
    /// [`take_contiguous`](Self::take_contiguous), so call it after those.
    /// The result is a small `Copy` value (no allocation); iterate it or use
    /// it as a slice.
    pub fn sack_blocks(&self, max: usize) -> SackBlocks {
        let max = max.min(MAX_SACK_BLOCKS);
        let mut out = SackBlocks::default();
        let recent = self.recent.iter().take(self.recent_len);
        let lowest = self.ranges.iter().map(|(&s, &e)| (s, e));
        for (s, e) in recent.filter_map(|&p| self.range_containing(p)).chain(lowest) {
            if out.len >= max {
                break;
            }
            let left = self.seq_of(s);
            if !out.contains_left_edge(left) {
                out.push((left, self.seq_of(e)));
            }
        }
        out
    }

    /// Re-anchors the position map at `rcv_nxt` and returns RCV.NXT's
    /// position; discards held data that now lies before it.
    fn sync(&mut self, rcv_nxt: SeqNumber) -> u64 {
        if self.ranges.is_empty() {
            // Nothing held: start afresh (this is the common case).
            self.base_seq = rcv_nxt;
            self.base_pos = ORIGIN;
            self.recent_len = 0;
            return ORIGIN;
        }
        // RCV.NXT only moves forward in TCP, by less than 2³¹ between calls;
        // a backward move is tolerated (positions stay consistent).
        self.base_pos = self.base_pos.saturating_add_signed(rcv_nxt - self.base_seq);
        self.base_seq = rcv_nxt;
        if self.base_pos.abs_diff(ORIGIN) > MAX_DRIFT {
            self.rebase();
        }
        let rcv_pos = self.base_pos;
        self.discard_before(rcv_pos);
        rcv_pos
    }

    /// Shifts every position so the anchor is back at [`ORIGIN`]. O(n log n),
    /// at most once per 2⁶¹ bytes of sequence space.
    fn rebase(&mut self) {
        let shift = |p: u64, base: u64| p.wrapping_sub(base).wrapping_add(ORIGIN);
        let base = self.base_pos;
        self.ranges =
            std::mem::take(&mut self.ranges).into_iter().map(|(s, e)| (shift(s, base), shift(e, base))).collect();
        self.chunks = std::mem::take(&mut self.chunks).into_iter().map(|(s, c)| (shift(s, base), c)).collect();
        for p in &mut self.recent {
            *p = shift(*p, base);
        }
        self.base_pos = ORIGIN;
    }

    /// Discards held bytes before position `pos` (cutting a range or piece
    /// that straddles it).
    fn discard_before(&mut self, pos: u64) {
        while let Some(entry) = self.ranges.first_entry() {
            if *entry.key() >= pos {
                break;
            }
            let end = entry.remove();
            if end > pos {
                self.ranges.insert(pos, end);
                break;
            }
        }
        while let Some(entry) = self.chunks.first_entry() {
            let start = *entry.key();
            if start >= pos {
                break;
            }
            let mut chunk = entry.remove();
            let old = usize::try_from(pos - start).unwrap_or(usize::MAX);
            if old < chunk.len() {
                chunk.advance(old);
                self.bytes_held = self.bytes_held.saturating_sub(old);
                self.chunks.insert(pos, chunk);
                break;
            }
            self.bytes_held = self.bytes_held.saturating_sub(chunk.len());
        }
        self.forget_recent_below(pos);
    }

    /// The held range containing position `pos`, if any.
    fn range_containing(&self, pos: u64) -> Option<(u64, u64)> {
        match self.ranges.range(..=pos).next_back() {
            Some((&s, &e)) if e > pos => Some((s, e)),
            _ => None,
        }
    }

    /// The sequence number at position `pos`.
    fn seq_of(&self, pos: u64) -> SeqNumber {
        SeqNumber(self.base_seq.0.wrapping_add(pos.wrapping_sub(self.base_pos) as u32))
    }

    /// Records an arrival at `pos` as the most recent; drops older entries
    /// that lie in the same block (a block is reported once, at its most
    /// recent position).
    fn note_recent(&mut self, pos: u64) {
        let Some((s, e)) = self.range_containing(pos) else {
            return;
        };
        self.retain_recent(|p| p < s || p >= e);
        let keep = self.recent_len.min(RECENT - 1);
        self.recent.copy_within(0..keep, 1);
        self.recent[0] = pos;
        self.recent_len = keep + 1;
    }

    fn forget_recent_below(&mut self, pos: u64) {
        self.retain_recent(|p| p >= pos);
    }

    /// Keeps the recency entries satisfying `keep`, in order. O([`RECENT`]).
    fn retain_recent(&mut self, keep: impl Fn(u64) -> bool) {
        let mut n = 0;
        for i in 0..self.recent_len {
            let p = self.recent[i];
            if keep(p) {
                self.recent[n] = p;
                n += 1;
            }
        }
        self.recent_len = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BIG: usize = 1 << 20;

    fn seg(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Takes what is contiguous and returns it as a string, advancing `rcv_nxt`.
    fn take(a: &mut Assembler, rcv_nxt: &mut SeqNumber) -> String {
        let mut out = Vec::new();
        let n = a.take_contiguous(*rcv_nxt, &mut out);
        *rcv_nxt += n;
        let bytes: Vec<u8> = out.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(bytes.len(), n);
        String::from_utf8(bytes).expect("ascii")
    }

    fn blocks(a: &Assembler, max: usize) -> Vec<(u32, u32)> {
        a.sack_blocks(max).iter().map(|&(l, r)| (l.0, r.0)).collect()
    }

    #[test]
    fn in_order_fill() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(100);
        assert_eq!(a.insert(nxt, SeqNumber(100), seg("abc")), InsertOutcome::Stored);
        assert_eq!(take(&mut a, &mut nxt), "abc");
        assert_eq!(a.insert(nxt, SeqNumber(103), seg("def")), InsertOutcome::Stored);
        assert_eq!(take(&mut a, &mut nxt), "def");
        assert_eq!(nxt, SeqNumber(106));
        assert!(a.is_empty());
        assert_eq!(a.bytes_held(), 0);
    }

    #[test]
    fn reverse_fill() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(0);
        for i in (1..5u32).rev() {
            let s = char::from(b'a' + i as u8).to_string().repeat(10);
            assert_eq!(a.insert(nxt, SeqNumber(i * 10), seg(&s)), InsertOutcome::Stored);
            assert_eq!(take(&mut a, &mut nxt), "", "hole at RCV.NXT");
            assert_eq!(a.ranges(), 1, "adjacent arrivals form one block");
        }
        assert_eq!(a.bytes_held(), 40);
        assert_eq!(blocks(&a, 4), vec![(10, 50)]);
        assert_eq!(a.insert(nxt, SeqNumber(0), seg("aaaaaaaaaa")), InsertOutcome::Stored);
        assert_eq!(take(&mut a, &mut nxt), "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee");
        assert!(a.is_empty());
    }

    #[test]
    fn overlaps_keep_the_bytes_already_held() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(0);
        a.insert(nxt, SeqNumber(4), seg("EFGH"));
        a.insert(nxt, SeqNumber(10), seg("KL"));
        // Covers both held ranges and the gaps around and between them.
        assert_eq!(a.insert(nxt, SeqNumber(2), seg("cdefghijklmn")), InsertOutcome::Stored);
        assert_eq!(a.ranges(), 1);
        assert_eq!(a.bytes_held(), 12);
        assert_eq!(a.insert(nxt, SeqNumber(0), seg("ab")), InsertOutcome::Stored);
        assert_eq!(take(&mut a, &mut nxt), "abcdEFGHijKLmn");
    }

    #[test]
    fn bytes_before_rcv_nxt_are_trimmed() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(10);
        assert_eq!(a.insert(nxt, SeqNumber(5), seg("0123456789")), InsertOutcome::Stored);
        assert_eq!(a.bytes_held(), 5);
        assert_eq!(take(&mut a, &mut nxt), "56789");
        assert_eq!(a.insert(nxt, SeqNumber(3), seg("old")), InsertOutcome::Duplicate);
        assert_eq!(a.insert(nxt, SeqNumber(30), Bytes::new()), InsertOutcome::Duplicate);
    }

    #[test]
    fn held_data_overtaken_by_rcv_nxt_is_discarded() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(0);
        a.insert(nxt, SeqNumber(5), seg("fghij"));
        a.insert(nxt, SeqNumber(20), seg("uvw"));
        // The connection appended bytes 0..8 to its receive buffer directly.
        nxt += 8;
        assert_eq!(take(&mut a, &mut nxt), "ij");
        assert_eq!(a.bytes_held(), 3);
        nxt = SeqNumber(30);
        assert_eq!(take(&mut a, &mut nxt), "");
        assert!(a.is_empty());
        assert_eq!(a.bytes_held(), 0);
    }

    #[test]
    fn duplicates() {
        let mut a = Assembler::new(BIG, 8);
        let nxt = SeqNumber(0);
        assert_eq!(a.insert(nxt, SeqNumber(10), seg("abcdef")), InsertOutcome::Stored);
        assert_eq!(a.insert(nxt, SeqNumber(10), seg("abcdef")), InsertOutcome::Duplicate);
        assert_eq!(a.insert(nxt, SeqNumber(12), seg("cd")), InsertOutcome::Duplicate);
        assert_eq!(a.insert(nxt, SeqNumber(12), seg("cdefg")), InsertOutcome::Stored);
        assert_eq!(a.bytes_held(), 7);
    }

    #[test]
    fn byte_bound_refuses_whole_segments() {
        let mut a = Assembler::new(10, 8);
        let nxt = SeqNumber(0);
        assert_eq!(a.insert(nxt, SeqNumber(10), seg("abcdefgh")), InsertOutcome::Stored);
        assert_eq!(a.insert(nxt, SeqNumber(30), seg("xyz")), InsertOutcome::NoRoom);
        assert_eq!(a.bytes_held(), 8);
        // Only *new* bytes count: overlapping 6 held bytes plus 2 new ones fits.
        assert_eq!(a.insert(nxt, SeqNumber(12), seg("cdefghij")), InsertOutcome::Stored);
        assert_eq!(a.bytes_held(), 10);
        assert_eq!(a.insert(nxt, SeqNumber(0), seg("0")), InsertOutcome::NoRoom);
    }

    #[test]
    fn range_bound_refuses_new_ranges_but_not_gap_fillers() {
        let mut a = Assembler::new(BIG, 2);
        let nxt = SeqNumber(0);
        assert_eq!(a.insert(nxt, SeqNumber(10), seg("a")), InsertOutcome::Stored);
        assert_eq!(a.insert(nxt, SeqNumber(20), seg("b")), InsertOutcome::Stored);
        assert_eq!(a.insert(nxt, SeqNumber(30), seg("c")), InsertOutcome::NoRoom);
        assert_eq!(a.insert(nxt, SeqNumber(11), seg("a")), InsertOutcome::Stored, "extends a range");
        assert_eq!(a.insert(nxt, SeqNumber(12), seg("aaaaaaaa")), InsertOutcome::Stored, "joins two");
        assert_eq!(a.ranges(), 1);
        assert_eq!(a.insert(nxt, SeqNumber(30), seg("c")), InsertOutcome::Stored);
        assert_eq!(Assembler::new(BIG, 0).insert(nxt, SeqNumber(1), seg("x")), InsertOutcome::NoRoom);
    }

    #[test]
    fn absurd_offsets_are_refused() {
        let mut a = Assembler::new(usize::MAX, usize::MAX);
        let nxt = SeqNumber(7);
        assert_eq!(a.insert(nxt, nxt + (1 << 30), seg("x")), InsertOutcome::NoRoom);
        assert_eq!(a.insert(nxt, nxt + ((1 << 30) - 1), seg("x")), InsertOutcome::Stored);
        // 2³¹ − 1 ahead, or 2³¹ "behind": never stored, never a panic.
        assert_eq!(a.insert(nxt, nxt + ((1 << 31) - 1), seg("x")), InsertOutcome::NoRoom);
        assert_eq!(a.insert(nxt, nxt + (1 << 31), seg("x")), InsertOutcome::Duplicate);
        assert_eq!(a.bytes_held(), 1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(u32::MAX - 3);
        assert_eq!(a.insert(nxt, SeqNumber(2), seg("cd")), InsertOutcome::Stored);
        assert_eq!(a.insert(nxt, SeqNumber(u32::MAX - 1), seg("yz01")), InsertOutcome::Stored);
        assert_eq!(blocks(&a, 4), vec![(u32::MAX - 1, 4)]);
        assert_eq!(a.insert(nxt, SeqNumber(u32::MAX - 5), seg("uvwx")), InsertOutcome::Stored);
        assert_eq!(take(&mut a, &mut nxt), "wxyz01cd");
        assert_eq!(nxt, SeqNumber(4));
    }

    #[test]
    fn anchor_moves_with_rcv_nxt_while_data_is_held() {
        // RCV.NXT crosses 2³² many times while the queue is never empty, so
        // the anchor drifts past MAX_DRIFT and the keys are rebased.
        let mut a = Assembler::new(BIG, 8);
        let mut nxt = SeqNumber(0);
        a.insert(nxt, SeqNumber(1000), seg("z"));
        for _ in 0..40 {
            nxt += 1 << 29;
            a.insert(nxt, nxt + 10, seg("k"));
            assert_eq!(a.ranges(), 1, "the older byte was overtaken");
            assert_eq!(blocks(&a, 4), vec![((nxt + 10).0, (nxt + 11).0)]);
        }
        assert!(a.base_pos.abs_diff(ORIGIN) <= MAX_DRIFT, "rebased (drift was 20·2³⁰)");
    }

    #[test]
    fn sack_blocks_most_recent_first() {
        let mut a = Assembler::new(BIG, 16);
        let nxt = SeqNumber(0);
        for s in [10u32, 30, 50, 70, 90, 110] {
            a.insert(nxt, SeqNumber(s), seg("xxxxx"));
        }
        assert_eq!(blocks(&a, 4), vec![(110, 115), (90, 95), (70, 75), (50, 55)]);
        assert_eq!(blocks(&a, 3), vec![(110, 115), (90, 95), (70, 75)]);
        assert_eq!(blocks(&a, 99).len(), MAX_SACK_BLOCKS);
        assert!(blocks(&a, 0).is_empty());
        // A retransmission into an old block makes it first again (RFC 2018 §4:
        // "the block containing the segment which triggered this ACK").
        assert_eq!(a.insert(nxt, SeqNumber(31), seg("x")), InsertOutcome::Duplicate);
        assert_eq!(blocks(&a, 4), vec![(30, 35), (110, 115), (90, 95), (70, 75)]);
        // Growing a block moves it to the front, once.
        a.insert(nxt, SeqNumber(95), seg("y"));
        assert_eq!(blocks(&a, 4), vec![(90, 96), (30, 35), (110, 115), (70, 75)]);
        // Joining two blocks reports the union once.
        a.insert(nxt, SeqNumber(96), seg("yyyyyyyyyyyyyy"));
        assert_eq!(blocks(&a, 4), vec![(90, 115), (30, 35), (70, 75), (50, 55)]);
    }

    #[test]
    fn sack_blocks_fill_from_the_lowest_when_recency_runs_out() {
        let mut a = Assembler::new(BIG, 16);
        let mut nxt = SeqNumber(0);
        for s in [10u32, 20, 30] {
            a.insert(nxt, SeqNumber(s), seg("xx"));
        }
        a.insert(nxt, SeqNumber(0), seg("0123456789"));
        assert_eq!(take(&mut a, &mut nxt), "0123456789xx");
        assert_eq!(blocks(&a, 4), vec![(30, 32), (20, 22)]);

        // Ten one-byte blocks; the eight newest are remembered. One segment
        // then joins those eight into a single block, leaving two blocks no
        // recent arrival points to: they are reported lowest first.
        let mut a = Assembler::new(BIG, 16);
        for s in 1..=10u32 {
            a.insert(SeqNumber(0), SeqNumber(s * 10), seg("x"));
        }
        a.insert(SeqNumber(0), SeqNumber(30), Bytes::from(vec![b'y'; 71]));
        assert_eq!(a.ranges(), 3);
        assert_eq!(blocks(&a, 4), vec![(30, 101), (10, 11), (20, 21)]);
        assert_eq!(blocks(&a, 2), vec![(30, 101), (10, 11)]);

        let mut many = Assembler::new(BIG, 32);
        for s in 1..=12u32 {
            many.insert(SeqNumber(0), SeqNumber(s * 10), seg("x"));
        }
        // Every arrival went into its own block; the newest 4 are reported.
        assert_eq!(blocks(&many, 4), vec![(120, 121), (110, 111), (100, 101), (90, 91)]);
    }

    #[test]
    fn take_contiguous_returns_chunks_in_order() {
        let mut a = Assembler::new(BIG, 8);
        a.insert(SeqNumber(0), SeqNumber(3), seg("def"));
        a.insert(SeqNumber(0), SeqNumber(6), seg("ghi"));
        let mut chunks = vec![seg("kept")];
        assert_eq!(a.take_contiguous(SeqNumber(0), &mut chunks), 0);
        a.insert(SeqNumber(0), SeqNumber(0), seg("abc"));
        assert_eq!(a.take_contiguous(SeqNumber(0), &mut chunks), 9);
        assert_eq!(chunks, vec![seg("kept"), seg("abc"), seg("def"), seg("ghi")]);
        // SackBlocks iterates by value, like the Vec it replaces.
        a.insert(SeqNumber(9), SeqNumber(20), seg("x"));
        let v: Vec<_> = a.sack_blocks(4).into_iter().collect();
        assert_eq!(v, vec![(SeqNumber(20), SeqNumber(21))]);
    }

    #[test]
    fn clear_empties() {
        let mut a = Assembler::new(BIG, 8);
        a.insert(SeqNumber(0), SeqNumber(5), seg("abc"));
        a.clear();
        assert!(a.is_empty());
        assert_eq!(a.bytes_held(), 0);
        assert!(blocks(&a, 4).is_empty());
    }

    /// A random stream, an initial sequence number (anywhere, so the stream
    /// often crosses 2³²), and segments of it: a full cover plus random extra
    /// (overlapping, duplicate) pieces, shuffled.
    fn scenario() -> impl Strategy<Value = (Vec<u8>, u32, Vec<(usize, usize)>)> {
        (1usize..1500, any::<u32>()).prop_flat_map(|(len, isn)| {
            let stream = proptest::collection::vec(any::<u8>(), len);
            let cuts = proptest::collection::vec(1usize..200, 1..40);
            let extra = proptest::collection::vec((0..len, 1usize..300), 0..30);
            (stream, Just(isn), cuts, extra).prop_flat_map(move |(stream, isn, cuts, extra)| {
                let mut segs = Vec::new();
                let (mut at, mut i) = (0, 0);
                while at < len {
                    let l = cuts[i % cuts.len()].min(len - at);
                    segs.push((at, l));
                    at += l;
                    i += 1;
                }
                segs.extend(extra.into_iter().map(|(s, l)| (s, l.min(len - s))));
                (Just(stream), Just(isn), Just(segs).prop_shuffle())
            })
        })
    }

    /// The model: which stream offsets are held.
    fn runs(held: &[bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < held.len() {
            if held[i] {
                let s = i;
                while i < held.len() && held[i] {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    proptest! {
        #![proptest_config(crate::testutil::proptest_cases(512))]

        /// Any segments of a stream, in any order, with duplicates and
        /// overlaps, reassemble to the stream; the queue agrees with a
        /// byte-set model at every step (outcome, bytes held, range count,
        /// SACK blocks) and never exceeds its bounds. In "bypass" mode the
        /// receiver appends in-order data itself, as a connection would; at
        /// the end every segment is redelivered in order (the sender's
        /// retransmissions), which must complete the stream whatever was
        /// refused.
        #[test]
        fn reassembles_any_delivery_order(
            (stream, isn, segs) in scenario(),
            max_bytes in prop_oneof![Just(usize::MAX), 0usize..1000],
            max_ranges in prop_oneof![Just(usize::MAX), 0usize..12],
            bypass in any::<bool>(),
            sack_max in 0usize..6,
        ) {
            let isn = SeqNumber(isn);
            let mut a = Assembler::new(max_bytes, max_ranges);
            let mut held = vec![false; stream.len()];
            let mut got: Vec<u8> = Vec::new();
            let mut out = Vec::new();
            let mut in_order: Vec<(usize, usize)> = segs.clone();
            in_order.sort_unstable();
            let phase2 = in_order.into_iter().map(|s| (s, true));
            for ((s, l), phase2) in segs.iter().map(|&s| (s, false)).chain(phase2) {
                let e = s + l;
                let delivered = got.len();
                let data = Bytes::copy_from_slice(&stream[s..e]);
                let outcome;
                if (bypass || phase2) && s <= delivered && e > delivered {
                    // The connection's fast path: append in-order bytes.
                    got.extend_from_slice(&stream[delivered..e]);
                    held[..e].iter_mut().for_each(|h| *h = false);
                    outcome = None;
                } else {
                    // Model outcome first.
                    let lo = s.max(delivered);
                    let new = (lo..e).filter(|&i| !held[i]).count();
                    let mut after = held.clone();
                    (lo..e).for_each(|i| after[i] = true);
                    let expect = if lo >= e || new == 0 {
                        InsertOutcome::Duplicate
                    } else if a.bytes_held() + new > max_bytes || runs(&after).len() > max_ranges {
                        InsertOutcome::NoRoom
                    } else {
                        held = after;
                        InsertOutcome::Stored
                    };
                    let rcv_nxt = isn + delivered;
                    let got_outcome = a.insert(rcv_nxt, isn + s, data);
                    prop_assert_eq!(got_outcome, expect);
                    outcome = Some((got_outcome, lo));
                }
                out.clear();
                let before = got.len();
                let n = a.take_contiguous(isn + before, &mut out);
                for c in &out {
                    got.extend_from_slice(c);
                }
                prop_assert_eq!(n, got.len() - before);
                held[..got.len()].iter_mut().for_each(|h| *h = false);

                // Invariants against the model.
                prop_assert_eq!(&got[..], &stream[..got.len()]);
                prop_assert!(a.bytes_held() <= max_bytes);
                prop_assert!(a.ranges() <= max_ranges);
                prop_assert_eq!(a.bytes_held(), held.iter().filter(|&&h| h).count());
                let model_runs = runs(&held);
                prop_assert_eq!(a.ranges(), model_runs.len());
                let sack = a.sack_blocks(sack_max);
                prop_assert_eq!(sack.len(), model_runs.len().min(sack_max).min(MAX_SACK_BLOCKS));
                for (i, &(l, r)) in sack.iter().enumerate() {
                    let (ls, rs) = ((l - isn) as usize, (r - isn) as usize);
                    prop_assert!(model_runs.contains(&(ls, rs)), "block is a maximal run");
                    prop_assert!(!sack[..i].contains(&(l, r)), "blocks are distinct");
                }
                // RFC 2018 §4: the first block holds the segment just received.
                if let (Some((InsertOutcome::Stored | InsertOutcome::Duplicate, lo)), Some(&(l, r))) =
                    (outcome, sack.first())
                {
                    if lo < e && lo >= got.len() {
                        let (ls, rs) = ((l - isn) as usize, (r - isn) as usize);
                        prop_assert!(ls <= lo && lo < rs, "first block holds the new arrival");
                    }
                }
            }
            prop_assert_eq!(got, stream);
            prop_assert!(a.is_empty());
            prop_assert_eq!(a.bytes_held(), 0);
        }
    }
}
