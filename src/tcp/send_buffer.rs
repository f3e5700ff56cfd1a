//! The bounded send buffer: bytes the application wrote that the peer has not
//! yet acknowledged.
//!
//! RFC 9293 §3.3.1 draws the send sequence space as
//!
//! ```text
//!                1         2          3          4
//!           ----------|----------|----------|----------
//!                  SND.UNA    SND.NXT    SND.UNA
//!                                       +SND.WND
//!
//!     1 - old sequence numbers that have been acknowledged
//!     2 - sequence numbers of unacknowledged data
//!     3 - sequence numbers allowed for new data transmission
//!     4 - future sequence numbers that are not yet allowed
//! ```
//!
//! This buffer holds regions 2 *and* everything the application has written
//! beyond SND.NXT that has not been sent yet: byte `0` of the buffer is always
//! the byte at SND.UNA. Data must stay here until it is acknowledged because
//! any of it may have to be retransmitted (RFC 9293 §3.8.1). The buffer knows
//! nothing about sequence numbers; the connection converts with
//! `offset = seq − SND.UNA` (see [`SeqNumber::since`](super::seq::SeqNumber::since)).
//!
//! The buffer is bounded by the socket's send-buffer size (`SO_SNDBUF` in BSD
//! sockets). When it is full, [`SendBuffer::write`] takes only what fits and
//! the application must wait — that back-pressure is how a slow peer slows a
//! fast writer down.
//!
//! # Cost model
//!
//! Storage is a ring buffer ([`VecDeque<u8>`]), so every operation is O(1)
//! apart from the unavoidable copy of the bytes themselves: `write` copies the
//! application's bytes in, a segment's bytes are copied out of
//! [`slices_at`](SendBuffer::slices_at) straight into its packet, `ack` only
//! moves the ring's head. Memory is allocated lazily (an idle socket costs
//! nothing) and grows by doubling up to the configured capacity, after which a
//! steady-state connection never allocates again.

use std::collections::VecDeque;

/// Unacknowledged and unsent bytes, `[SND.UNA, SND.UNA + len)`, bounded by a
/// configurable capacity.
#[derive(Debug, Clone, Default)]
pub struct SendBuffer {
    buf: VecDeque<u8>,
    capacity: usize,
    /// How far [`grow_toward`](Self::grow_toward) may raise `capacity`.
    max: usize,
}

impl SendBuffer {
    /// An empty buffer that will hold at most `capacity` bytes. Nothing is
    /// allocated until the first write.
    pub fn new(capacity: usize) -> Self {
        SendBuffer { buf: VecDeque::new(), capacity, max: capacity }
    }

    /// Let [`grow_toward`](Self::grow_toward) raise the bound up to `max`.
    pub fn with_max(mut self, max: usize) -> Self {
        self.max = max.max(self.capacity);
        self
    }

    /// Send-buffer auto-tuning: the buffer must hold what the windows let be in
    /// flight plus as much again to send as ACKs free room (Linux's
    /// `tcp_sndbuf_expand` keeps about twice the congestion window), or the
    /// program, not the path, limits the flow. Raises the bound toward `want`,
    /// never past the configured maximum, never down.
    pub fn grow_toward(&mut self, want: usize) {
        if want > self.capacity {
            self.capacity = want.min(self.max).max(self.capacity);
        }
    }

    /// The configured bound, in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the bound (e.g. `setsockopt(SO_SNDBUF)`). Shrinking below the
    /// current length never discards data — those bytes may still need to be
    /// retransmitted — it only stops further writes until acknowledgements
    /// bring the length back under the new bound. Spare storage above the new
    /// bound is released.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.max = capacity;
        if self.buf.capacity() > capacity {
            // Keeps at least `len` bytes of storage; rare, so a reallocation is fine.
            self.buf.shrink_to(capacity);
        }
    }

    /// Bytes held: unacknowledged plus not yet sent.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether every written byte has been acknowledged.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// How many more bytes [`write`](Self::write) would accept now (zero when
    /// the buffer is over a capacity that was shrunk).
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.buf.len())
    }

    /// Appends as much of `data` as fits; returns the number of bytes taken
    /// (possibly zero, possibly less than `data.len()` — like a non-blocking
    /// `write(2)` on a socket whose send buffer is nearly full).
    pub fn write(&mut self, data: &[u8]) -> usize {
        let take = data.len().min(self.free());
        if take == 0 {
            return 0;
        }
        let needed = self.buf.len() + take; // ≤ capacity, cannot overflow
        if needed > self.buf.capacity() {
            // Grow by doubling (amortised O(1) per byte) but never reserve past
            // the configured bound, so a 64 KiB buffer does not cost 128 KiB.
            let target = self.buf.capacity().saturating_mul(2).clamp(needed, self.capacity.max(needed));
            self.buf.reserve_exact(target - self.buf.len());
        }
        // `VecDeque<u8>` extends from a slice with (at most two) memcpys.
        self.buf.extend(&data[..take]);
        take
    }

    /// The bytes `[offset, offset + len)` after SND.UNA (clamped to the buffer:
    /// fewer at its end, none from at or past it; never panics) as at most two
    /// borrowed slices, without copying: a segment, new or retransmitted, is
    /// written from them straight into its packet (`Tcb::emit`). The second
    /// slice is non-empty only when the range wraps around the ring's end.
    pub fn slices_at(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let total = self.buf.len();
        let start = offset.min(total);
        let end = start + len.min(total - start);
        let (front, back) = self.buf.as_slices();
        let f = front.len();
        if end <= f {
            (&front[start..end], &[])
        } else if start >= f {
            (&back[start - f..end - f], &[])
        } else {
            (&front[start..], &back[..end - f])
        }
    }

    /// The peer acknowledged `n` more bytes (SND.UNA advanced by `n`, RFC 9293
    /// §3.10.7.4 "If SND.UNA < SEG.ACK ≤ SND.NXT, then set SND.UNA ← SEG.ACK"
    /// and remove the acknowledged bytes from the retransmission queue): drop
    /// them from the front. `n` is clamped to [`len`](Self::len). O(1).
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        // Draining a prefix of a ring of `u8` only moves the head index.
        self.buf.drain(..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(b: &SendBuffer, offset: usize, len: usize) -> Vec<u8> {
        let (first, second) = b.slices_at(offset, len);
        [first, second].concat()
    }

    #[test]
    fn grows_toward_what_the_windows_allow_within_its_maximum() {
        let mut b = SendBuffer::new(100).with_max(300);
        b.grow_toward(50);
        assert_eq!(b.capacity(), 100, "never down");
        b.grow_toward(250);
        assert_eq!(b.capacity(), 250);
        b.grow_toward(1000);
        assert_eq!(b.capacity(), 300, "bounded");
        b.set_capacity(120);
        b.grow_toward(1000);
        assert_eq!(b.capacity(), 120, "a size the program chose is kept");
    }

    #[test]
    fn write_is_bounded_by_capacity() {
        let mut b = SendBuffer::new(10);
        assert!(b.is_empty());
        assert_eq!(b.write(b"hello"), 5);
        assert_eq!(b.write(b"worldwide"), 5, "only what fits is taken");
        assert_eq!(b.len(), 10);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        assert_eq!(read(&b, 0, 100), b"helloworld");
    }

    #[test]
    fn slices_at_clamp_and_never_panic() {
        let mut b = SendBuffer::new(16);
        b.write(b"abcdef");
        assert_eq!(read(&b, 2, 3), b"cde");
        assert_eq!(read(&b, 4, 10), b"ef", "short at the end");
        assert_eq!(read(&b, 6, 1), b"");
        assert_eq!(read(&b, usize::MAX, usize::MAX), b"");
        assert_eq!(read(&b, 1, usize::MAX), b"bcdef");
    }

    #[test]
    fn ack_drops_from_the_front_and_frees_room() {
        let mut b = SendBuffer::new(8);
        b.write(b"01234567");
        b.ack(3);
        assert_eq!(b.len(), 5);
        assert_eq!(b.free(), 3);
        assert_eq!(read(&b, 0, 2), b"34");
        assert_eq!(b.write(b"89abc"), 3);
        assert_eq!(read(&b, 0, 8), b"3456789a");
        b.ack(usize::MAX);
        assert!(b.is_empty());
    }

    #[test]
    fn reads_across_the_ring_wrap() {
        let mut b = SendBuffer::new(8);
        for round in 0..20u8 {
            let data: Vec<u8> = (0..5).map(|i| round.wrapping_mul(5).wrapping_add(i)).collect();
            assert_eq!(b.write(&data), 5);
            let (x, y) = b.slices_at(0, 5);
            assert_eq!([x, y].concat(), data);
            b.ack(5);
        }
    }

    #[test]
    fn shrinking_capacity_keeps_data_but_stops_writes() {
        let mut b = SendBuffer::new(10);
        b.write(b"0123456789");
        b.set_capacity(4);
        assert_eq!(b.capacity(), 4);
        assert_eq!(b.len(), 10, "unacknowledged data is never discarded");
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        b.ack(7);
        assert_eq!(b.free(), 1);
        assert_eq!(b.write(b"xy"), 1);
        assert_eq!(read(&b, 0, 10), b"789x");
        b.set_capacity(100);
        assert_eq!(b.write(&[0; 200]), 96);
    }

    #[test]
    fn zero_capacity_accepts_nothing() {
        let mut b = SendBuffer::new(0);
        assert_eq!(b.write(b"abc"), 0);
        b.ack(5);
        assert!(b.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(Vec<u8>),
        Ack(usize),
        Read(usize, usize),
        SetCapacity(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Write),
            3 => (0usize..400).prop_map(Op::Ack),
            3 => (0usize..500, 0usize..500).prop_map(|(o, l)| Op::Read(o, l)),
            1 => (0usize..600).prop_map(Op::SetCapacity),
        ]
    }

    proptest! {
        /// Random writes, acks, reads and capacity changes never diverge from a
        /// plain `Vec<u8>` model, and writes never push `len` past capacity.
        #[test]
        fn matches_a_vec_model(cap in 0usize..512, ops in proptest::collection::vec(op(), 0..80)) {
            let mut b = SendBuffer::new(cap);
            let mut model: Vec<u8> = Vec::new();
            let mut cap = cap;
            for op in ops {
                match op {
                    Op::Write(data) => {
                        let before = model.len();
                        let n = b.write(&data);
                        prop_assert_eq!(n, data.len().min(cap.saturating_sub(before)));
                        model.extend_from_slice(&data[..n]);
                        if n > 0 {
                            prop_assert!(b.len() <= cap);
                        }
                    }
                    Op::Ack(n) => {
                        let n = n.min(model.len());
                        model.drain(..n);
                        b.ack(n);
                    }
                    Op::Read(o, l) => {
                        let out = read(&b, o, l);
                        let n = out.len();
                        let start = o.min(model.len());
                        let end = (start + l).min(model.len());
                        prop_assert_eq!(n, end - start);
                        prop_assert_eq!(&out[..], &model[start..end]);
                    }
                    Op::SetCapacity(c) => {
                        cap = c;
                        b.set_capacity(c);
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                prop_assert_eq!(b.free(), cap.saturating_sub(model.len()));
                let (x, y) = b.slices_at(0, usize::MAX);
                prop_assert_eq!([x, y].concat(), model.clone());
            }
        }
    }
}
