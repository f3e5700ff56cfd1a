//! The receiving half of a connection (RFC 9293 §3.8.6.2.2, §3.10.7.4): what has
//! arrived in order, what waits out of order, and which window to advertise.

use std::collections::VecDeque;

use super::assembler::Assembler;
use super::autotune::AutoTune;
use super::seq::SeqNumber;
use crate::time::Instant;

/// When the next ACK should go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckState {
    /// Nothing to acknowledge.
    Idle,
    /// Data arrived; an ACK may wait until the connection's delayed-ACK timer
    /// fires (RFC 1122 4.2.3.2).
    Delayed,
    /// Send an ACK with the next segment out, now.
    Now,
    /// Due now, but sent when the host next runs the timers — which it does right
    /// after the batch of packets it is feeding in — so that one ACK covers every
    /// segment of the connection in that batch. See [`Receiver::schedule_ack`].
    EndOfBatch,
}

/// How soon in-order data must be acknowledged ([`Receiver::schedule_ack`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckDue {
    Now,
    EndOfBatch,
    Delayed,
}

/// Receive sequence variables and buffers.
#[derive(Debug)]
pub struct Receiver {
    /// Initial receive sequence number: the peer's ISN.
    pub irs: SeqNumber,
    /// RCV.NXT: the next sequence number expected.
    pub rcv_nxt: SeqNumber,
    /// The right edge of the window we last advertised (RCV.NXT + RCV.WND at that
    /// time). It never moves left (RFC 9293 §3.8.6.2.2: don't shrink the window).
    pub rcv_adv: SeqNumber,
    /// Our window-scale shift (RFC 7323 §2.2), 0 when scaling was not agreed.
    pub rcv_wscale: u8,
    /// In-order bytes the program has not read yet, bounded by `capacity`.
    pub buffer: VecDeque<u8>,
    /// The socket's receive-buffer size: the largest window we offer now.
    pub capacity: usize,
    /// Grows `capacity` when the window limits the flow (`tcp::autotune`).
    pub tune: AutoTune,
    /// Out-of-order segments waiting for the gap before them to fill.
    pub assembler: Assembler,
    /// The sequence number of the peer's FIN once seen (possibly ahead of RCV.NXT).
    pub fin_seq: Option<SeqNumber>,
    pub ack: AckState,
    /// Full-sized segments received since our last ACK (ACK at least every second
    /// one, RFC 1122 4.2.3.2 / RFC 5681 §4.2).
    pub unacked_segments: u32,
    /// RCV.NXT as sent in our last ACK ("Last.ACK.sent", RFC 7323 §4.3).
    pub last_ack_sent: SeqNumber,
    /// TS.Recent (RFC 7323 §4.3): the peer's timestamp to echo.
    pub ts_recent: u32,
    /// The peer's segment size, for "full-sized segment" and window thresholds.
    pub peer_mss: usize,
    /// A duplicate segment to report as the first SACK block of the next ACK
    /// (D-SACK, RFC 2883 §4), so the sender learns its retransmission was spurious.
    pub dsack: Option<(SeqNumber, SeqNumber)>,
    /// The program read since we last advertised a window: only then may a
    /// window update be due.
    pub read_since_advertised: bool,
    /// When we last answered a segment without data that we could not use (see
    /// `Tcb::ack_unusable`): such answers are rate-limited to break ACK loops.
    pub last_unusable_ack: Option<Instant>,
}

impl Receiver {
    /// A receiver whose buffer starts at `capacity` and may be auto-tuned up to
    /// `max` (no tuning when `max <= capacity`).
    pub fn new(irs: SeqNumber, capacity: usize, max: usize, assembler: Assembler) -> Self {
        let rcv_nxt = irs + 1;
        Receiver {
            irs,
            rcv_nxt,
            rcv_adv: rcv_nxt,
            rcv_wscale: 0,
            buffer: VecDeque::new(),
            capacity,
            tune: AutoTune::new(max.max(capacity)),
            assembler,
            fin_seq: None,
            ack: AckState::Idle,
            unacked_segments: 0,
            last_ack_sent: rcv_nxt,
            ts_recent: 0,
            peer_mss: 536,
            dsack: None,
            read_since_advertised: false,
            last_unusable_ack: None,
        }
    }

    /// Free space in the receive buffer: the most we could advertise.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.buffer.len())
    }

    /// RCV.WND as last advertised, measured from RCV.NXT.
    pub fn rcv_wnd(&self) -> usize {
        self.rcv_adv.since(self.rcv_nxt)
    }

    /// The window to put in the next segment, and moves `rcv_adv` accordingly.
    ///
    /// Receiver-side silly-window avoidance (RFC 9293 §3.8.6.2.2): the right edge
    /// only moves when it can move by at least min(buffer/2, MSS); otherwise we keep
    /// offering what we already promised. With `full` (FreeBSD's way), every
    /// segment offers all the free space it can — SWS avoidance then only decides
    /// when a window update is worth a segment of its own
    /// ([`window_update_due`](Receiver::window_update_due)).
    pub fn advertise(&mut self, full: bool) -> u16 {
        let promised = self.rcv_wnd();
        let free = self.free();
        let threshold = if full { 1 } else { (self.capacity / 2).min(self.peer_mss).max(1) };
        let wnd = if free >= promised + threshold { free } else { promised };
        let field = (wnd >> self.rcv_wscale).min(usize::from(u16::MAX));
        let edge = self.rcv_nxt + (field << self.rcv_wscale);
        self.rcv_adv = self.rcv_adv.max(edge);
        self.last_ack_sent = self.rcv_nxt;
        self.read_since_advertised = false;
        field as u16
    }

    /// Whether reading has opened the window enough that the peer should hear it now
    /// (it may be waiting on a zero or tiny window). Only a read can make an update
    /// due (RFC 1122 4.2.3.3, and Linux's tcp_cleanup_rbuf): a window that is merely
    /// larger than the last one we could express — after the handshake, whose SYN
    /// window is never scaled — waits for the next segment we send anyway.
    pub fn window_update_due(&self) -> bool {
        if !self.read_since_advertised {
            return false;
        }
        let promised = self.rcv_wnd();
        let threshold = (self.capacity / 2).min(self.peer_mss).max(1);
        // Only what the 16-bit field can say counts (RFC 7323 §2.3): without
        // scaling a buffer beyond 64 KiB would otherwise look like an update that
        // every ACK fails to deliver, and each event would send another.
        let free = self.free().min(usize::from(u16::MAX) << self.rcv_wscale);
        free >= promised + threshold && (promised < self.peer_mss || free >= promised * 2)
    }

    /// Copy up to `buf.len()` in-order bytes to the program.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.buffer.len());
        // The ring buffer holds the bytes in at most two runs: copy them as two
        // slices (a byte-by-byte drain took most of a bulk receiver's time).
        let (front, back) = self.buffer.as_slices();
        let from_front = n.min(front.len());
        buf[..from_front].copy_from_slice(&front[..from_front]);
        buf[from_front..n].copy_from_slice(&back[..n - from_front]);
        self.discard(n)
    }

    /// Consume up to `max` bytes without copying them anywhere (what Linux's
    /// `recv` does with `MSG_TRUNC` on TCP): they count as read, so the window
    /// reopens as after [`read`](Self::read). Returns how many.
    pub fn discard(&mut self, max: usize) -> usize {
        let n = max.min(self.buffer.len());
        self.read_since_advertised |= n > 0;
        self.buffer.drain(..n);
        n
    }

    /// The program read `n` bytes: let the auto-tuner grow the buffer (and the
    /// out-of-order bound with it) if the window was what limited the flow.
    pub fn after_read(&mut self, now: Instant, n: usize, rtt: Option<std::time::Duration>) {
        if let Some(grown) = self.tune.on_read(now, n, rtt, self.capacity) {
            self.capacity = grown;
            self.assembler.raise_max_bytes(grown);
        }
    }

    /// Append in-order bytes and pull whatever the assembler now has contiguous.
    /// Returns true if the segment filled a hole (the peer should hear at once).
    pub fn accept_in_order(&mut self, data: &[u8]) -> bool {
        let take = data.len().min(self.free());
        self.buffer.extend(&data[..take]);
        self.rcv_nxt += take;
        let had_ooo = !self.assembler.is_empty();
        if !had_ooo {
            return false;
        }
        let mut chunks = Vec::new();
        self.assembler.take_contiguous(self.rcv_nxt, &mut chunks);
        for chunk in chunks {
            let take = chunk.len().min(self.free());
            self.buffer.extend(&chunk[..take]);
            self.rcv_nxt += take;
        }
        had_ooo
    }

    /// Schedule an ACK for in-order data: at once, at the end of the input batch,
    /// or delayed by `delay` unless one is already due sooner. Returns when the
    /// delayed-ACK timer must fire, if this started the delay.
    ///
    /// RFC 1122 4.2.3.2 / RFC 5681 §4.2 ask for an ACK at least every second
    /// full-sized segment. Segments that arrive together — the runtime reads up to
    /// a few hundred packets from the TUN before it runs the timers — get one ACK
    /// for all of them, as Linux's receive path does for a GRO batch: the
    /// `EndOfBatch` ACK goes out when the timers run, right after the batch.
    /// Out-of-order segments, filled holes and everything else that must be heard
    /// at once still go out at once (`Now`).
    #[must_use]
    pub fn schedule_ack(&mut self, now: Instant, delay: std::time::Duration, due: AckDue) -> Option<Instant> {
        match due {
            AckDue::Now => self.ack = AckState::Now,
            AckDue::EndOfBatch if self.ack != AckState::Now => self.ack = AckState::EndOfBatch,
            AckDue::EndOfBatch => {}
            AckDue::Delayed if delay.is_zero() => self.ack = AckState::Now,
            AckDue::Delayed => {
                if self.ack == AckState::Idle {
                    self.ack = AckState::Delayed;
                    return Some(now + delay);
                }
            }
        }
        None
    }
}
