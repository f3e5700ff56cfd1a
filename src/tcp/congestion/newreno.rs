//! NewReno: the standard TCP congestion control of RFC 5681, with the improved fast
//! recovery of RFC 6582 and the byte counting of RFC 3465.
//!
//! The window lives in one of three regimes:
//!
//! * **Slow start** (`cwnd < ssthresh`, RFC 5681 §3.1): every ACK grows `cwnd` by the
//!   bytes it acknowledges, at most `L = 2·SMSS` per ACK (RFC 3465 §2.2; RFC 5681
//!   allows 1 SMSS, RFC 3465 experimentally 2). One RTT acknowledges a whole window,
//!   so the window roughly *doubles* every round trip — "slow" only compared with
//!   blasting the whole receive window at once, as pre-1988 TCPs did.
//! * **Congestion avoidance** (`cwnd ≥ ssthresh`): `cwnd` grows by one SMSS each time a
//!   full window's worth of bytes has been acknowledged (RFC 3465 §2.1 appropriate
//!   byte counting, one of the options of RFC 5681 §3.1) — about one segment per
//!   round trip. That is the "additive increase" of AIMD.
//! * **Fast recovery** (RFC 5681 §3.2, RFC 6675 §5): once a segment is known lost,
//!   `ssthresh` and `cwnd` become half the flight size (the "multiplicative
//!   decrease"). The connection then sends while its estimate of the bytes in the
//!   network (`pipe`) is below `cwnd`, so there is no need for RFC 5681's artificial
//!   inflation of `cwnd` by one SMSS per duplicate ACK: the duplicate ACKs (or SACK
//!   blocks) shrink `pipe` instead. Recovery ends when everything outstanding at its
//!   start is acknowledged (RFC 6582's recovery point).
//!
//! A retransmission timeout is the strongest congestion signal: `cwnd` collapses to
//! one segment and slow start begins again (RFC 5681 §3.1).
//!
//! NewReno ignores `now` (it is clocked by ACKs, not time) and the flight size given
//! with ordinary ACKs: it does not implement the experimental congestion-window
//! validation of RFC 7661, so an application-limited sender still grows its window.

use crate::time::Instant;

use super::{initial_window, windows_for_new_mss, CongestionControl};

/// RFC 3465 §2.2: the most slow start may grow `cwnd` per ACK, in segments ("L").
const SLOW_START_LIMIT_SEGMENTS: usize = 2;

/// The NewReno congestion controller of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReno {
    /// Congestion window, bytes. Never below `mss`.
    cwnd: usize,
    /// Slow-start threshold, bytes. Starts "arbitrarily high" (RFC 5681 §3.1), here
    /// `usize::MAX`; once set by a loss it is never below `2·mss`.
    ssthresh: usize,
    /// Sender maximum segment size (SMSS), bytes; at least 1.
    mss: usize,
    /// Bytes acknowledged in congestion avoidance and not yet "spent" on a window
    /// increase (RFC 3465 §2.1).
    bytes_acked: usize,
    /// Set by a retransmission timeout, cleared when new data is acknowledged. While
    /// set, further timeouts leave `ssthresh` alone (RFC 5681 §3.1: eq. 4 applies only
    /// if "the given segment has not yet been resent by way of the retransmission
    /// timer") — otherwise each back-off would halve the already tiny flight again.
    after_rto: bool,
    /// No event has happened yet: the window is still the initial window, so a new MSS
    /// recomputes it (see [`set_mss`](CongestionControl::set_mss)).
    untouched: bool,
}

impl NewReno {
    /// A controller for a connection with sender MSS `mss`: `cwnd` is the initial
    /// window of RFC 6928 (see [`initial_window`]) and `ssthresh` is arbitrarily high.
    /// An MSS of 0 is treated as 1 so that every window stays positive.
    pub fn new(mss: usize) -> Self {
        let mss = mss.max(1);
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            mss,
            bytes_acked: 0,
            after_rto: false,
            untouched: true,
        }
    }

    /// The sender MSS in use.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Whether the controller is in slow start (`cwnd < ssthresh`). At equality
    /// RFC 5681 §3.1 allows either; we use congestion avoidance.
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// RFC 5681 §3.1 eq. 4: `ssthresh = max(FlightSize / 2, 2·SMSS)`.
    fn halved_flight(&self, bytes_in_flight: usize) -> usize {
        (bytes_in_flight / 2).max(self.mss.saturating_mul(2))
    }

    /// Enforces the invariant `cwnd ≥ 1·SMSS`: below one segment nothing could be
    /// sent at all.
    fn floor_cwnd(&mut self) {
        self.cwnd = self.cwnd.max(self.mss);
    }

    /// Something happened to the connection: leave the "fresh" state.
    fn touch(&mut self) {
        self.untouched = false;
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// Slow start or congestion avoidance, by byte counting.
    ///
    /// If slow start reaches `ssthresh` part-way through an ACK, `cwnd` stops exactly
    /// at `ssthresh` and the rest of the acknowledged bytes count towards congestion
    /// avoidance (as Linux does), so no acknowledged byte is lost or counted twice.
    fn on_ack(&mut self, _now: Instant, acked: usize, _bytes_in_flight: usize) {
        if acked == 0 {
            return;
        }
        self.touch();
        // New data acknowledged: the segment retransmitted by a timeout got through.
        self.after_rto = false;

        let mut acked = acked;
        if self.in_slow_start() {
            // RFC 5681 §3.1 eq. 2 with RFC 3465's L = 2·SMSS:
            // cwnd += min(N, L), but not past ssthresh.
            let limit = self.mss.saturating_mul(SLOW_START_LIMIT_SEGMENTS);
            let grown = self.cwnd.saturating_add(acked.min(limit)).min(self.ssthresh);
            let used = grown.saturating_sub(self.cwnd);
            self.cwnd = grown;
            if self.in_slow_start() {
                return;
            }
            // Reached ssthresh: the remainder feeds congestion avoidance.
            acked = acked.saturating_sub(used);
        }

        // Congestion avoidance, RFC 3465 §2.1: count acknowledged bytes; once a full
        // window has been acknowledged, take one window's worth off the count and grow
        // cwnd by one SMSS.
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    /// RFC 5681 §3.2 step 2: `ssthresh = max(FlightSize/2, 2·SMSS)` (eq. 4); RFC 6675
    /// §5 step 4.2: `cwnd = ssthresh` (the segments that left the network are
    /// accounted for by `pipe`, not by inflating `cwnd`).
    fn on_fast_retransmit(&mut self, _now: Instant, bytes_in_flight: usize) {
        self.touch();
        self.after_rto = false;
        self.ssthresh = self.halved_flight(bytes_in_flight);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    /// RFC 6582 §3.2 step 6, option (1): `cwnd = min(ssthresh, max(FlightSize, SMSS) +
    /// SMSS)`. Option (2), `cwnd = ssthresh`, could release a burst of up to ssthresh
    /// bytes at once when little is in flight; option (1) avoids that.
    fn on_recovery_end(&mut self, bytes_in_flight: usize) {
        self.touch();
        self.after_rto = false;
        let flight_plus_one = bytes_in_flight.max(self.mss).saturating_add(self.mss);
        self.cwnd = self.ssthresh.min(flight_plus_one);
        self.floor_cwnd();
        self.bytes_acked = 0;
    }

    /// RFC 5681 §3.1: on a timeout, `ssthresh = max(FlightSize/2, 2·SMSS)` (eq. 4) —
    /// but only for the first timeout of a segment, see `after_rto` — and
    /// `cwnd = LW = 1·SMSS`, the loss window. RFC 3465 §2.1 also resets the byte count.
    fn on_rto(&mut self, bytes_in_flight: usize) {
        self.touch();
        if !self.after_rto {
            self.ssthresh = self.halved_flight(bytes_in_flight);
        }
        self.after_rto = true;
        self.cwnd = self.mss;
        self.bytes_acked = 0;
    }

    /// RFC 5681 §4.1: after an idle period longer than the RTO, ACK clocking is lost,
    /// so sending a whole old window at once would be a burst. `cwnd` becomes the
    /// restart window `RW = min(IW, cwnd)`; `ssthresh` is kept, so slow start quickly
    /// climbs back to it.
    fn on_idle_restart(&mut self) {
        self.touch();
        self.cwnd = self.cwnd.min(initial_window(self.mss));
        self.floor_cwnd();
        self.bytes_acked = 0;
    }

    /// A new SMSS (0 is treated as 1).
    ///
    /// * Before any event the window is still the initial window, so it is recomputed
    ///   for the new MSS (RFC 6928 defines IW from the MSS actually used, typically
    ///   only known once the handshake is over).
    /// * Afterwards `cwnd` is kept in bytes, raised to at least one new SMSS, and
    ///   `ssthresh` raised to at least two, so the invariants of RFC 5681 hold for the
    ///   new size.
    fn set_mss(&mut self, mss: usize) {
        self.mss = mss.max(1);
        windows_for_new_mss(&mut self.cwnd, &mut self.ssthresh, self.mss, self.untouched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MSS: usize = 1460;
    const T: Instant = Instant::ZERO;

    /// A controller that has just timed out with `segments` segments in flight:
    /// ssthresh = segments/2 · MSS, cwnd = 1 MSS.
    fn after_timeout(segments: usize) -> NewReno {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(segments * MSS);
        cc
    }

    #[test]
    fn starts_with_the_initial_window_and_high_ssthresh() {
        let cc = NewReno::new(MSS);
        assert_eq!(cc.cwnd(), 14_600);
        assert_eq!(cc.ssthresh(), usize::MAX);
        assert_eq!(cc.name(), "newreno");
        assert_eq!(NewReno::new(536).cwnd(), 5360);
        assert_eq!(NewReno::new(8960).cwnd(), 17_920);
        // A zero MSS is treated as 1 byte rather than producing a zero window.
        assert_eq!(NewReno::new(0).mss(), 1);
        assert_eq!(NewReno::new(0).cwnd(), 10);
    }

    #[test]
    fn slow_start_grows_by_acked_bytes_up_to_two_segments_per_ack() {
        let mut cc = NewReno::new(MSS);
        cc.on_ack(T, MSS, 0);
        assert_eq!(cc.cwnd(), 14_600 + 1460);
        cc.on_ack(T, 2 * MSS, 0);
        assert_eq!(cc.cwnd(), 14_600 + 3 * 1460);
        // A stretch ACK for 5 segments still only adds L = 2 SMSS (RFC 3465).
        cc.on_ack(T, 5 * MSS, 0);
        assert_eq!(cc.cwnd(), 14_600 + 5 * 1460);
        // Partial segments count byte by byte.
        cc.on_ack(T, 100, 0);
        assert_eq!(cc.cwnd(), 14_600 + 5 * 1460 + 100);
        // An ACK of nothing new changes nothing.
        cc.on_ack(T, 0, 0);
        assert_eq!(cc.cwnd(), 14_600 + 5 * 1460 + 100);
    }

    #[test]
    fn slow_start_doubles_per_round_trip() {
        let mut cc = NewReno::new(MSS);
        // One round trip: every segment of the window is acknowledged.
        for _ in 0..10 {
            cc.on_ack(T, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 2 * 14_600);
    }

    #[test]
    fn switches_to_congestion_avoidance_at_ssthresh() {
        let mut cc = after_timeout(8); // ssthresh 5840, cwnd 1460
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1460, 5840));
        cc.on_ack(T, MSS, 0);
        cc.on_ack(T, MSS, 0);
        assert!(cc.in_slow_start());
        cc.on_ack(T, MSS, 0);
        assert_eq!(cc.cwnd(), 5840);
        assert!(!cc.in_slow_start(), "cwnd == ssthresh is congestion avoidance");
        // Congestion avoidance: a whole window (5840 bytes = 4 segments) must be
        // acknowledged for one more segment.
        for _ in 0..3 {
            cc.on_ack(T, MSS, 0);
            assert_eq!(cc.cwnd(), 5840);
        }
        cc.on_ack(T, MSS, 0);
        assert_eq!(cc.cwnd(), 5840 + 1460);
        // The next increase needs a full 7300 bytes (5 segments).
        for _ in 0..4 {
            cc.on_ack(T, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 7300);
        cc.on_ack(T, MSS, 0);
        assert_eq!(cc.cwnd(), 8760);
    }

    #[test]
    fn crossing_ssthresh_mid_ack_carries_the_rest_into_avoidance() {
        let mut cc = after_timeout(8); // ssthresh 5840
        cc.on_ack(T, MSS, 0);
        cc.on_ack(T, MSS, 0); // cwnd 4380
        cc.on_ack(T, 2 * MSS, 0); // 1460 to reach 5840, 1460 left over
        assert_eq!(cc.cwnd(), 5840);
        // 1460 already counted: three more segments complete the window.
        cc.on_ack(T, 2 * MSS, 0);
        assert_eq!(cc.cwnd(), 5840);
        cc.on_ack(T, MSS, 0);
        assert_eq!(cc.cwnd(), 7300);
    }

    #[test]
    fn fast_retransmit_halves_the_flight() {
        let mut cc = NewReno::new(MSS);
        cc.on_fast_retransmit(T, 20 * MSS);
        assert_eq!(cc.ssthresh(), 10 * 1460);
        assert_eq!(cc.cwnd(), 10 * 1460);

        // Small flights are floored at 2 SMSS (RFC 5681 eq. 4).
        let mut cc = NewReno::new(MSS);
        cc.on_fast_retransmit(T, 3 * MSS);
        assert_eq!(cc.ssthresh(), 2920);
        assert_eq!(cc.cwnd(), 2920);
    }

    #[test]
    fn recovery_end_sets_cwnd_to_min_of_ssthresh_and_flight_plus_one() {
        let mut cc = NewReno::new(MSS);
        cc.on_fast_retransmit(T, 20 * MSS); // ssthresh 10 MSS
        cc.on_recovery_end(12 * MSS);
        assert_eq!(cc.cwnd(), 10 * 1460, "capped at ssthresh");

        let mut cc = NewReno::new(MSS);
        cc.on_fast_retransmit(T, 20 * MSS);
        cc.on_recovery_end(3 * MSS);
        assert_eq!(cc.cwnd(), 4 * 1460, "little in flight: flight + 1 SMSS, no burst");

        let mut cc = NewReno::new(MSS);
        cc.on_fast_retransmit(T, 20 * MSS);
        cc.on_recovery_end(0);
        assert_eq!(cc.cwnd(), 2 * 1460, "max(FlightSize, SMSS) + SMSS");
        // Back in slow start (cwnd < ssthresh) from here.
        assert!(cc.in_slow_start());
    }

    #[test]
    fn rto_collapses_to_one_segment() {
        let mut cc = NewReno::new(MSS);
        for _ in 0..10 {
            cc.on_ack(T, MSS, 0);
        }
        cc.on_rto(20 * MSS);
        assert_eq!(cc.cwnd(), 1460);
        assert_eq!(cc.ssthresh(), 10 * 1460);

        let mut cc = NewReno::new(MSS);
        cc.on_rto(MSS);
        assert_eq!(cc.ssthresh(), 2920, "floored at 2 SMSS");
        assert_eq!(cc.cwnd(), 1460);
    }

    #[test]
    fn repeated_rto_of_the_same_segment_keeps_ssthresh() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(20 * MSS);
        assert_eq!(cc.ssthresh(), 14_600);
        // The retransmission is lost too; the flight is now one segment.
        cc.on_rto(MSS);
        assert_eq!(cc.ssthresh(), 14_600, "RFC 5681 §3.1: not recomputed");
        assert_eq!(cc.cwnd(), 1460);
        // Once new data is acknowledged, a later timeout is a new loss.
        cc.on_ack(T, MSS, 0);
        cc.on_rto(4 * MSS);
        assert_eq!(cc.ssthresh(), 2920);
    }

    #[test]
    fn rto_resets_byte_counting() {
        let mut cc = after_timeout(4); // ssthresh 2920
        cc.on_ack(T, MSS, 0); // cwnd 2920, CA
        cc.on_ack(T, MSS, 0); // bytes_acked 1460
        cc.on_rto(2 * MSS);
        assert_eq!(cc.ssthresh(), 2920);
        cc.on_ack(T, MSS, 0); // slow start back to 2920
        cc.on_ack(T, MSS, 0); // CA: 1460 counted, not 2920
        assert_eq!(cc.cwnd(), 2920);
    }

    #[test]
    fn idle_restart_uses_min_of_initial_window_and_cwnd() {
        let mut cc = NewReno::new(MSS);
        for _ in 0..10 {
            cc.on_ack(T, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 29_200);
        cc.on_idle_restart();
        assert_eq!(cc.cwnd(), 14_600);
        assert_eq!(cc.ssthresh(), usize::MAX, "ssthresh is kept");

        let mut cc = after_timeout(20);
        cc.on_idle_restart();
        assert_eq!(cc.cwnd(), 1460, "a window below IW is not raised");
    }

    #[test]
    fn set_mss_recomputes_the_untouched_initial_window() {
        let mut cc = NewReno::new(536);
        assert_eq!(cc.cwnd(), 5360);
        cc.set_mss(1460);
        assert_eq!(cc.cwnd(), 14_600);
        assert_eq!(cc.mss(), 1460);
    }

    #[test]
    fn set_mss_later_keeps_bytes_but_respects_the_floors() {
        let mut cc = NewReno::new(536);
        cc.on_rto(0); // SYN lost: ssthresh 1072, cwnd 536
        cc.set_mss(1460);
        assert_eq!(cc.cwnd(), 1460, "at least one segment");
        assert_eq!(cc.ssthresh(), 2920, "at least two segments");

        let mut cc = NewReno::new(MSS);
        cc.on_ack(T, MSS, 0);
        cc.set_mss(536);
        assert_eq!(cc.cwnd(), 16_060, "a smaller MSS keeps the byte window");
        cc.set_mss(0);
        assert_eq!(cc.mss(), 1);
    }

    #[test]
    fn huge_values_saturate() {
        let mut cc = NewReno::new(usize::MAX);
        assert_eq!(cc.cwnd(), usize::MAX);
        cc.on_ack(T, usize::MAX, usize::MAX);
        cc.on_fast_retransmit(T, usize::MAX);
        assert_eq!(cc.cwnd(), usize::MAX, "2·SMSS saturates");
        cc.on_rto(usize::MAX);
        assert_eq!(cc.ssthresh(), usize::MAX);
    }

    #[derive(Clone, Debug)]
    enum Event {
        Ack(usize, usize),
        FastRetransmit(usize),
        RecoveryEnd(usize),
        Rto(usize),
        IdleRestart,
        SetMss(usize),
    }

    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![
            4 => 0usize..200_000,
            1 => any::<usize>(),
        ]
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            4 => (size(), size()).prop_map(|(a, f)| Event::Ack(a, f)),
            1 => size().prop_map(Event::FastRetransmit),
            1 => size().prop_map(Event::RecoveryEnd),
            1 => size().prop_map(Event::Rto),
            1 => Just(Event::IdleRestart),
            1 => prop_oneof![0usize..10_000, any::<usize>()].prop_map(Event::SetMss),
        ]
    }

    proptest! {
        #[test]
        fn windows_stay_within_their_floors(
            mss in prop_oneof![1usize..10_000, any::<usize>()],
            events in proptest::collection::vec(event(), 0..200),
        ) {
            let mut cc = NewReno::new(mss);
            for e in events {
                match e {
                    Event::Ack(a, f) => cc.on_ack(T, a, f),
                    Event::FastRetransmit(f) => cc.on_fast_retransmit(T, f),
                    Event::RecoveryEnd(f) => cc.on_recovery_end(f),
                    Event::Rto(f) => cc.on_rto(f),
                    Event::IdleRestart => cc.on_idle_restart(),
                    Event::SetMss(m) => cc.set_mss(m),
                }
                let mss = cc.mss();
                prop_assert!(mss >= 1);
                prop_assert!(cc.cwnd() >= mss, "cwnd {} < mss {}", cc.cwnd(), mss);
                // Either still "arbitrarily high" or set by a loss: ≥ 2·SMSS.
                prop_assert!(
                    cc.ssthresh() >= mss.saturating_mul(2),
                    "ssthresh {} < 2·mss {}", cc.ssthresh(), mss
                );
            }
        }
    }
}
