//! The retransmission queue: one record per segment in flight, with when it was
//! last sent and what the peer said about it.
//!
//! Time-based loss detection (RACK, RFC 8985) needs to know, for every segment
//! between SND.UNA and SND.NXT, *when* it was sent; pipe-based recovery (RFC 6675
//! §4 `SetPipe`) needs to know which segments are SACKed and which are judged
//! lost. The bytes themselves stay in the [`SendBuffer`](super::send_buffer); a
//! record only names a sequence range.
//!
//! ```text
//!  SND.UNA                                                       SND.NXT
//!     |  seg  |  seg  |  seg  |  seg  |  seg  |  seg  |  seg  |  seg  |
//!     | lost  |       |SACKed |SACKed | lost, |       |       |       |
//!     |       |       |       |       | resent|       |       |       |
//!     +-------+-------+-------+-------+-------+-------+-------+-------+
//!  pipe = (SND.NXT − SND.UNA) − SACKed bytes − lost bytes not yet resent
//! ```
//!
//! Segments are recorded in sequence order as they are first sent, each at most
//! one MSS; a retransmission resends one record's range exactly and updates it
//! in place. So the queue holds at most `send buffer / MSS` records: it is
//! bounded by the send buffer, like the bytes it describes.

use std::collections::VecDeque;

use super::delivery_rate::TxSnapshot;
use super::seq::SeqNumber;
use crate::time::Instant;

/// One segment in flight: the sequence range `[start, end)` (its FIN, if any,
/// included) and what is known about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentSegment {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// When it was last (re)transmitted.
    pub sent_at: Instant,
    /// The delivery counters then, for the rate sample its ACK takes.
    pub tx: TxSnapshot,
    /// It has been sent more than once, so an ACK for it is ambiguous (Karn).
    pub retransmitted: bool,
    /// The peer reported it in a SACK block (RFC 2018).
    pub sacked: bool,
    /// Judged lost and not yet retransmitted since.
    pub lost: bool,
}

impl SentSegment {
    /// Sequence space it occupies (never zero: data or a FIN).
    pub fn len(&self) -> usize {
        self.end.since(self.start)
    }
}

/// The segments in `[SND.UNA, SND.NXT)` in sequence order. See the
/// [module documentation](self).
#[derive(Debug, Default)]
pub struct SentQueue {
    segments: VecDeque<SentSegment>,
    /// Bytes of SACKed segments.
    sacked_bytes: usize,
    /// Number of SACKed segments.
    sacked_segments: usize,
    /// Bytes of segments marked lost and not yet retransmitted.
    lost_bytes: usize,
}

impl SentQueue {
    pub fn new() -> Self {
        SentQueue::default()
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &SentSegment> {
        self.segments.iter()
    }

    pub fn get(&self, index: usize) -> Option<&SentSegment> {
        self.segments.get(index)
    }

    pub fn sacked_bytes(&self) -> usize {
        self.sacked_bytes
    }

    pub fn sacked_segments(&self) -> usize {
        self.sacked_segments
    }

    pub fn lost_bytes(&self) -> usize {
        self.lost_bytes
    }

    /// A new segment `[start, end)` went out for the first time at `now`, with
    /// the delivery counters `tx`. It must start where the previous one ended.
    pub fn push(&mut self, start: SeqNumber, end: SeqNumber, now: Instant, tx: TxSnapshot) {
        debug_assert!(self.segments.back().is_none_or(|s| s.end == start), "segments are contiguous");
        self.segments.push_back(SentSegment {
            start,
            end,
            sent_at: now,
            tx,
            retransmitted: false,
            sacked: false,
            lost: false,
        });
    }

    /// Index of the lowest segment marked lost, the next to retransmit (RFC 6675
    /// §4 `NextSeg()` rule 1, with RACK deciding what is lost).
    pub fn first_lost(&self) -> Option<usize> {
        if self.lost_bytes == 0 {
            return None;
        }
        self.segments.iter().position(|s| s.lost)
    }

    /// Segment `index` was retransmitted at `now`, with the delivery counters
    /// `tx`: it is in flight again.
    pub fn on_retransmit(&mut self, index: usize, now: Instant, tx: TxSnapshot) {
        if let Some(s) = self.segments.get_mut(index) {
            if s.lost {
                s.lost = false;
                self.lost_bytes -= s.len();
            }
            s.sent_at = now;
            s.tx = tx;
            s.retransmitted = true;
        }
    }

    /// Judge segment `index` lost (unless SACKed or already lost). Returns
    /// whether it was newly marked.
    pub fn mark_lost(&mut self, index: usize) -> bool {
        match self.segments.get_mut(index) {
            Some(s) if !s.sacked && !s.lost => {
                s.lost = true;
                self.lost_bytes += s.len();
                true
            }
            _ => false,
        }
    }

    /// A retransmission timeout: every segment not SACKed is lost (RFC 8985
    /// §6.3, RFC 6675 §5.1). Returns how many were newly marked.
    pub fn mark_all_lost(&mut self) -> usize {
        (0..self.segments.len()).filter(|&i| self.mark_lost(i)).count()
    }

    /// The path MTU went down (`pmtu.rs`): cut every record longer than `mss`
    /// into records of at most `mss`, each keeping its record's send time and
    /// marks, and judge lost (unless SACKed) the pieces of those that were too
    /// long — a router dropped them. Returns how many records were cut. O(n).
    pub fn resegment(&mut self, mss: usize) -> usize {
        let mss = mss.max(1);
        let mut cut = 0;
        let mut pieces = VecDeque::with_capacity(self.segments.len());
        for s in self.segments.drain(..) {
            if s.len() <= mss {
                pieces.push_back(s);
                continue;
            }
            cut += 1;
            let mut start = s.start;
            while start < s.end {
                let end = (start + mss).min(s.end);
                pieces.push_back(SentSegment { start, end, lost: s.lost || !s.sacked, ..s });
                start = end;
            }
        }
        self.segments = pieces;
        // Recount the totals the marks add up to.
        self.sacked_bytes = self.segments.iter().filter(|s| s.sacked).map(SentSegment::len).sum();
        self.sacked_segments = self.segments.iter().filter(|s| s.sacked).count();
        self.lost_bytes = self.segments.iter().filter(|s| s.lost).map(SentSegment::len).sum();
        cut
    }

    /// Forget every SACK mark, for when the receiver may have reneged (RFC 2018
    /// §8): the data will be sent again.
    pub fn clear_sacks(&mut self) {
        for s in self.segments.iter_mut() {
            s.sacked = false;
        }
        self.sacked_bytes = 0;
        self.sacked_segments = 0;
    }

    /// SND.UNA advanced to `ack`: drop the segments it covers, calling
    /// `delivered` with each one that had not been SACKed before (newly
    /// delivered, for RACK). A segment only partly covered is trimmed.
    pub fn on_cumulative_ack(&mut self, ack: SeqNumber, mut delivered: impl FnMut(&SentSegment)) {
        while let Some(front) = self.segments.front_mut() {
            if front.end <= ack {
                let s = *front;
                self.segments.pop_front();
                self.forget(&s);
                if !s.sacked {
                    delivered(&s);
                }
            } else {
                if front.start < ack {
                    let cut = ack.since(front.start);
                    front.start = ack;
                    if front.sacked {
                        self.sacked_bytes -= cut;
                    } else if front.lost {
                        self.lost_bytes -= cut;
                    }
                }
                break;
            }
        }
    }

    /// Mark SACKed every unSACKed segment that lies within `[left, right)` and
    /// that `covered` confirms (the scoreboard's merged view, so a segment
    /// covered by two adjoining blocks counts too). Calls `delivered` with each
    /// newly SACKed segment.
    pub fn on_sack_block(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        covered: impl Fn(SeqNumber, SeqNumber) -> bool,
        mut delivered: impl FnMut(&SentSegment),
    ) {
        let first = self.segments.partition_point(|s| s.end <= left);
        for i in first..self.segments.len() {
            let s = self.segments[i];
            if s.start >= right {
                break;
            }
            if s.sacked || !covered(s.start, s.end) {
                continue;
            }
            if s.lost {
                self.lost_bytes -= s.len();
            }
            self.sacked_bytes += s.len();
            self.sacked_segments += 1;
            let seg = &mut self.segments[i];
            seg.sacked = true;
            seg.lost = false;
            delivered(seg);
        }
    }

    /// Take a dropped segment out of the totals.
    fn forget(&mut self, s: &SentSegment) {
        if s.sacked {
            self.sacked_bytes -= s.len();
            self.sacked_segments -= 1;
        } else if s.lost {
            self.lost_bytes -= s.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(x: u32) -> SeqNumber {
        SeqNumber(x)
    }

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn queue(n: u32) -> SentQueue {
        let mut q = SentQueue::new();
        for i in 0..n {
            q.push(s(i * 100), s(i * 100 + 100), t(u64::from(i)), TxSnapshot::default());
        }
        q
    }

    #[test]
    fn resegmenting_cuts_long_records_and_marks_their_pieces_lost() {
        let mut q = SentQueue::new();
        let t = Instant::from_millis(1);
        q.push(SeqNumber(0), SeqNumber(1000), t, TxSnapshot::default());
        q.push(SeqNumber(1000), SeqNumber(1300), t, TxSnapshot::default());
        q.push(SeqNumber(1300), SeqNumber(2301), t, TxSnapshot::default()); // 1000 bytes and a FIN
        assert_eq!(q.resegment(400), 2);
        let ranges: Vec<(u32, u32, bool)> = q.iter().map(|s| (s.start.0, s.end.0, s.lost)).collect();
        assert_eq!(
            ranges,
            [
                (0, 400, true),
                (400, 800, true),
                (800, 1000, true),
                (1000, 1300, false),
                (1300, 1700, true),
                (1700, 2100, true),
                (2100, 2301, true)
            ]
        );
        assert_eq!(q.lost_bytes(), 2001);
        assert_eq!(q.first_lost(), Some(0));
    }

    #[test]
    fn sack_marks_whole_segments_only() {
        let mut q = queue(5);
        let mut got = Vec::new();
        q.on_sack_block(s(150), s(400), |l, r| l >= s(150) && r <= s(400), |seg| got.push(seg.start));
        assert_eq!(got, vec![s(200), s(300)], "[100,200) is only half covered");
        assert_eq!((q.sacked_bytes(), q.sacked_segments()), (200, 2));
    }

    #[test]
    fn cumulative_ack_delivers_unsacked_and_trims() {
        let mut q = queue(4);
        q.on_sack_block(s(100), s(200), |_, _| true, |_| {});
        let mut got = Vec::new();
        q.on_cumulative_ack(s(250), |seg| got.push(seg.start));
        assert_eq!(got, vec![s(0)], "the SACKed segment was delivered before");
        assert_eq!(q.get(0).map(|x| (x.start, x.end)), Some((s(250), s(300))));
        assert_eq!((q.sacked_bytes(), q.len()), (0, 2));
    }

    #[test]
    fn lost_then_retransmitted_is_in_flight_again() {
        let mut q = queue(3);
        assert!(q.mark_lost(1));
        assert!(!q.mark_lost(1), "already lost");
        assert_eq!((q.first_lost(), q.lost_bytes()), (Some(1), 100));
        q.on_retransmit(1, t(9), TxSnapshot::default());
        assert_eq!((q.first_lost(), q.lost_bytes()), (None, 0));
        assert!(q.get(1).is_some_and(|x| x.retransmitted && x.sent_at == t(9)));
    }

    #[test]
    fn timeout_marks_everything_but_sacked() {
        let mut q = queue(4);
        q.on_sack_block(s(200), s(300), |_, _| true, |_| {});
        assert_eq!(q.mark_all_lost(), 3);
        assert_eq!(q.lost_bytes(), 300);
        q.clear_sacks();
        assert_eq!(q.mark_all_lost(), 1);
        assert_eq!(q.lost_bytes(), 400);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Sack(u32, u32),
        Lost(usize),
        Rxt(usize),
        Ack(u32),
        Timeout,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..2000, 0u32..2000).prop_map(|(a, b)| Op::Sack(a.min(b), a.max(b))),
            (0usize..20).prop_map(Op::Lost),
            (0usize..20).prop_map(Op::Rxt),
            (0u32..2000).prop_map(Op::Ack),
            Just(Op::Timeout),
        ]
    }

    proptest! {
        /// The running totals always equal a recount of the flags.
        #[test]
        fn totals_match_a_recount(ops in proptest::collection::vec(op(), 0..40)) {
            let mut q = queue(20);
            for o in ops {
                match o {
                    Op::Sack(l, r) => q.on_sack_block(s(l), s(r), |a, b| a >= s(l) && b <= s(r), |_| {}),
                    Op::Lost(i) => { q.mark_lost(i); }
                    Op::Rxt(i) => q.on_retransmit(i, t(50), TxSnapshot::default()),
                    Op::Ack(a) => q.on_cumulative_ack(s(a), |_| {}),
                    Op::Timeout => { q.mark_all_lost(); }
                }
                let sacked: usize = q.iter().filter(|x| x.sacked).map(|x| x.len()).sum();
                let lost: usize = q.iter().filter(|x| x.lost).map(|x| x.len()).sum();
                prop_assert_eq!(q.sacked_bytes(), sacked);
                prop_assert_eq!(q.sacked_segments(), q.iter().filter(|x| x.sacked).count());
                prop_assert_eq!(q.lost_bytes(), lost);
                prop_assert!(q.iter().all(|x| !(x.sacked && x.lost)));
            }
        }
    }
}
