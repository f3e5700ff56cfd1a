//! CUBIC (RFC 9438): the congestion control of Linux, FreeBSD, Windows and macOS.
//!
//! Reno grows its window by one segment per round trip, so on a path with a large
//! bandwidth-delay product it takes thousands of round trips to refill the window
//! a loss halved. CUBIC grows the window as a function of the *time* since the
//! last reduction, not of the ACK count, along a cubic curve centred on `W_max`,
//! the window where the loss happened (RFC 9438 §4.1–4.2):
//!
//! ```text
//!   W_cubic(t) = C·(t − K)³ + W_max          K = ∛((W_max − cwnd_epoch) / C)
//!
//!   cwnd                                   convex (§4.5): probing
//!     │                               ╱    beyond the old W_max
//!     │ W_max ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─╱─ ─ ─
//!     │              ╭──────────────╯      concave (§4.4): fast up to
//!     │           ╭──╯                     W_max, then a plateau
//!     │  β·W_max ╱
//!     └─────────┴──────────────────┴─────── t
//!            loss                  K
//! ```
//!
//! After a loss the window drops to `β_cubic = 0.7` of the flight (§4.6), rises
//! steeply, flattens as it nears `W_max` — the level that caused trouble last
//! time — and, if no loss comes, accelerates past it to probe for new capacity.
//! Because the curve depends on time, flows with different RTTs converge to
//! similar windows. Where Reno would do better (short RTTs, small windows) CUBIC
//! follows Reno's average rate instead, with `W_est`, an AIMD(α_cubic, β_cubic)
//! estimate that matches Reno's throughput (the Reno-friendly region, §4.3).
//! Fast convergence (§4.7) releases bandwidth to new flows by remembering a lower
//! `W_max` when the window is shrinking from one loss to the next.
//!
//! # Representation
//!
//! `cwnd` and `ssthresh` are bytes, as the [`CongestionControl`] trait has them.
//! The curve works in segments and seconds, as the RFC writes it, in `f64`:
//! `W_max`, `K`, `W_est` and `cwnd_prior`. Floating point is exact enough and
//! deterministic (IEEE 754, same inputs → same outputs); the fraction of a byte a
//! per-ACK increase leaves over is carried to the next ACK, so growth is not
//! truncated away.
//!
//! Slow start is RFC 5681's (with RFC 3465's L = 2·SMSS) after a timeout, and
//! HyStart++ (RFC 9406, `hystart.rs`) in the initial one.
//!
//! # Bounds and cost
//!
//! `cwnd ≥ 1·SMSS` and, once set by a loss, `ssthresh ≥ 2·SMSS`, whatever the
//! inputs (they come from the network); every conversion from `f64` saturates.
//! O(1) per event: one cube and, per congestion epoch, one cube root.

use std::time::Duration;

use crate::time::Instant;

use super::hystart::HyStart;
use super::{initial_window, windows_for_new_mss, AckSample, CongestionControl};

/// RFC 9438 §5.1: the constant C of `W_cubic`, segments per second³.
const C: f64 = 0.4;

/// RFC 9438 §4.6: the multiplicative decrease factor β_cubic.
const BETA_CUBIC: f64 = 0.7;

/// RFC 9438 §4.3: α_cubic = 3·(1 − β_cubic)/(1 + β_cubic), the additive increase
/// of `W_est` per round trip that gives Reno's average throughput.
const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);

/// RFC 9438 §4.2: the window may at most grow to 1.5·cwnd within one round trip.
const MAX_GROWTH: f64 = 1.5;

/// RFC 3465 §2.2: the most slow start may grow `cwnd` per ACK, in segments ("L").
const SLOW_START_LIMIT_SEGMENTS: usize = 2;

/// K = ∛((W_max − cwnd_epoch)/C) (RFC 9438 §4.2 Figure 2): the seconds the curve
/// takes from `cwnd_epoch` back to `W_max`; 0 when the epoch starts at or above
/// `W_max`. Windows in segments.
pub fn k(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch).max(0.0) / C).cbrt()
}

/// W_cubic(t) = C·(t − K)³ + W_max (RFC 9438 §4.2 Figure 1), in segments, `t` in
/// seconds since the epoch began.
pub fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    C * (t - k).powi(3) + w_max
}

/// One congestion avoidance stage (an "epoch", RFC 9438 §4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Epoch {
    /// t_epoch: when it began, moved later by application-limited time (§5.8).
    start: Instant,
    /// K, seconds.
    k: f64,
    /// W_max of the curve, segments.
    w_max: f64,
    /// W_est (§4.3), segments.
    w_est: f64,
    /// The last ACK it saw, to leave out application-limited stretches.
    last_ack: Instant,
}

/// The CUBIC congestion controller of one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Cubic {
    /// Congestion window, bytes. Never below `mss`.
    cwnd: usize,
    /// Slow-start threshold, bytes: `usize::MAX` until the first loss, then at
    /// least `2·mss`.
    ssthresh: usize,
    /// Sender maximum segment size (SMSS), bytes; at least 1.
    mss: usize,
    /// W_max (§4.2, after fast convergence §4.7), segments; 0 before any loss.
    w_max: f64,
    /// cwnd_prior (§4.6): cwnd just before the last reduction, segments.
    cwnd_prior: f64,
    /// The congestion avoidance stage in progress; `None` in slow start and
    /// recovery, and after a reduction until the next ACK in avoidance.
    epoch: Option<Epoch>,
    /// A timeout happened since the last epoch: the next one starts with K = 0 and
    /// W_max = cwnd_epoch (§4.8).
    after_rto: bool,
    /// A timeout happened and no new data was acknowledged since: further
    /// timeouts leave `ssthresh` alone (RFC 5681 §3.1, as for NewReno).
    rto_pending: bool,
    /// SRTT from the last RTT sample (zero before one): the RTT of §4.2's
    /// `W_cubic(t + RTT)`.
    srtt: Duration,
    /// The sender is application-limited (§5.8): the window does not grow.
    app_limited: bool,
    /// Fraction of a byte of growth not yet in `cwnd`.
    carry: f64,
    /// No event has happened yet: a new MSS recomputes the initial window.
    untouched: bool,
    /// HyStart++ for the initial slow start (RFC 9406).
    hystart: HyStart,
}

impl Cubic {
    /// A controller for a connection with sender MSS `mss` (0 is taken as 1):
    /// the initial window of RFC 6928, `ssthresh` arbitrarily high.
    pub fn new(mss: usize) -> Self {
        let mss = mss.max(1);
        Cubic {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            mss,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            after_rto: false,
            rto_pending: false,
            srtt: Duration::ZERO,
            app_limited: false,
            carry: 0.0,
            untouched: true,
            hystart: HyStart::default(),
        }
    }

    /// The sender MSS in use.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Whether the controller is in slow start (`cwnd < ssthresh`).
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// Whether HyStart++ has the initial slow start in its conservative phase.
    pub fn in_css(&self) -> bool {
        self.hystart.in_css()
    }

    /// W_max, segments (0 before the first loss).
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// K of the epoch in progress, seconds.
    pub fn k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }

    /// W_est of the epoch in progress, segments.
    pub fn w_est(&self) -> Option<f64> {
        self.epoch.map(|e| e.w_est)
    }

    /// `bytes` as segments.
    fn segments(&self, bytes: usize) -> f64 {
        bytes as f64 / self.mss as f64
    }

    /// Raise `cwnd` to `target` bytes (never lower it), carrying the fraction.
    fn grow_to(&mut self, target: f64) {
        let increase = target - self.cwnd as f64 + self.carry;
        if increase > 0.0 {
            let whole = increase.floor();
            self.cwnd = self.cwnd.saturating_add(whole as usize);
            self.carry = increase - whole;
        }
    }

    /// The epoch that begins with this ACK (§4.2; §4.8 after a timeout): `K`
    /// from `W_max` and the window now, and `W_est = cwnd_epoch` (§4.3).
    fn begin_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd_epoch = self.segments(self.cwnd);
        if self.after_rto || self.w_max < cwnd_epoch {
            // §4.8: after a timeout K = 0 and W_max = cwnd_epoch; likewise when the
            // window already passed W_max (slow start to a higher ssthresh).
            self.w_max = cwnd_epoch;
        }
        self.after_rto = false;
        self.carry = 0.0;
        Epoch { start: now, k: k(self.w_max, cwnd_epoch), w_max: self.w_max, w_est: cwnd_epoch, last_ack: now }
    }

    /// Congestion avoidance for `acked` bytes (§4.2–4.5).
    fn avoid_congestion(&mut self, now: Instant, acked: usize) {
        let mut epoch = match self.epoch {
            Some(epoch) => epoch,
            None => self.begin_epoch(now),
        };
        if self.app_limited {
            // §5.8: no growth, and t leaves the limited time out.
            epoch.start = epoch.start + now.saturating_duration_since(epoch.last_ack);
            epoch.last_ack = now;
            self.epoch = Some(epoch);
            return;
        }
        epoch.last_ack = now;
        let cwnd = self.segments(self.cwnd);
        let acked = self.segments(acked);
        // §4.3: W_est grows α_cubic per window acknowledged; α_cubic becomes 1
        // once W_est reaches cwnd_prior, Reno's own rate.
        let alpha = if epoch.w_est >= self.cwnd_prior { 1.0 } else { ALPHA_CUBIC };
        epoch.w_est += alpha * acked / cwnd;
        let t = now.saturating_duration_since(epoch.start).as_secs_f64();
        let target = if w_cubic(t, epoch.k, epoch.w_max) < epoch.w_est {
            // §4.3, the Reno-friendly region: cwnd = W_est.
            epoch.w_est
        } else {
            // §4.4 concave / §4.5 convex: aim at W_cubic one RTT ahead, between
            // cwnd and 1.5·cwnd, and close the gap (target − cwnd)/cwnd per
            // segment acknowledged.
            let rtt = self.srtt.as_secs_f64();
            let aim = w_cubic(t + rtt, epoch.k, epoch.w_max).min(MAX_GROWTH * cwnd).max(cwnd);
            cwnd + (aim - cwnd) / cwnd * acked
        };
        self.epoch = Some(epoch);
        self.grow_to(target * self.mss as f64);
    }

    /// The multiplicative decrease of §4.6 with fast convergence (§4.7), shared
    /// by a loss and a timeout: W_max and cwnd_prior from cwnd, `ssthresh =
    /// max(β_cubic·flight_size, 2·SMSS)`. flight_size is RFC 5681's FlightSize,
    /// as NewReno gets it (§4.6 allows cwnd instead, as Linux does, only with
    /// other measures against growth while the flight is smaller than cwnd).
    fn reduce(&mut self, bytes_in_flight: usize) {
        let cwnd = self.segments(self.cwnd);
        // §4.7: a window smaller than the last W_max means another flow took a
        // share; remember less, to release bandwidth sooner.
        self.w_max = if cwnd < self.w_max { cwnd * (1.0 + BETA_CUBIC) / 2.0 } else { cwnd };
        self.cwnd_prior = cwnd;
        let reduced = (bytes_in_flight as f64 * BETA_CUBIC) as usize;
        self.ssthresh = reduced.max(self.mss.saturating_mul(2));
        self.epoch = None;
        self.carry = 0.0;
    }

    /// Enforces `cwnd ≥ 1·SMSS`.
    fn floor_cwnd(&mut self) {
        self.cwnd = self.cwnd.max(self.mss);
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    /// The RTT for `W_cubic(t + RTT)`, whether the sender is
    /// application-limited, and HyStart++'s rounds and delay checks in slow
    /// start: after its CSS rounds, congestion avoidance (`ssthresh = cwnd`).
    fn on_ack_sample(&mut self, _now: Instant, sample: &AckSample) {
        if let Some(rtt) = sample.rtt {
            self.srtt = rtt.smoothed;
        }
        self.app_limited = sample.app_limited;
        if self.in_slow_start() && self.hystart.on_ack_sample(sample) {
            self.ssthresh = self.cwnd.max(self.mss.saturating_mul(2));
        }
    }

    /// Slow start — HyStart++'s in the initial one (RFC 9406), RFC 5681 §3.1
    /// with RFC 3465's L after a timeout — or the cubic window (RFC 9438
    /// §4.2–4.5) once `cwnd ≥ ssthresh`.
    fn on_ack(&mut self, now: Instant, acked: usize, _bytes_in_flight: usize) {
        if acked == 0 {
            return;
        }
        self.untouched = false;
        self.rto_pending = false;
        if self.in_slow_start() {
            let increase = if self.hystart.is_active() {
                self.hystart.increase(acked, self.mss)
            } else {
                acked.min(self.mss.saturating_mul(SLOW_START_LIMIT_SEGMENTS))
            };
            self.cwnd = self.cwnd.saturating_add(increase).min(self.ssthresh);
            return;
        }
        self.avoid_congestion(now, acked);
    }

    /// RFC 9438 §4.6: `ssthresh = β_cubic·FlightSize` (at least 2·SMSS) and
    /// `cwnd = max(ssthresh, 2·SMSS)`; W_max with fast convergence (§4.7).
    fn on_fast_retransmit(&mut self, _now: Instant, bytes_in_flight: usize) {
        self.untouched = false;
        self.hystart.on_congestion();
        self.rto_pending = false;
        self.reduce(bytes_in_flight);
        self.cwnd = self.ssthresh;
    }

    /// As NewReno (RFC 6582 §3.2 step 6 option 1): `cwnd = min(ssthresh,
    /// max(FlightSize, SMSS) + SMSS)`, so that leaving recovery releases no burst.
    /// The next ACK in congestion avoidance starts the epoch.
    fn on_recovery_end(&mut self, bytes_in_flight: usize) {
        self.untouched = false;
        let flight_plus_one = bytes_in_flight.max(self.mss).saturating_add(self.mss);
        self.cwnd = self.ssthresh.min(flight_plus_one);
        self.floor_cwnd();
        self.epoch = None;
    }

    /// RFC 9438 §4.8: Reno's `cwnd = 1·SMSS` with CUBIC's `ssthresh` (β_cubic),
    /// computed only for the first timeout of a segment (RFC 5681 §3.1); the
    /// next epoch starts with K = 0 and W_max = cwnd_epoch.
    fn on_rto(&mut self, bytes_in_flight: usize) {
        self.untouched = false;
        self.hystart.on_congestion();
        if !self.rto_pending {
            self.reduce(bytes_in_flight);
        }
        self.rto_pending = true;
        self.after_rto = true;
        self.epoch = None;
        self.cwnd = self.mss;
    }

    /// RFC 5681 §4.1's restart window `min(IW, cwnd)`; the epoch ends, so the
    /// idle time does not count in `t` (RFC 9438 §5.8).
    fn on_idle_restart(&mut self) {
        self.untouched = false;
        self.cwnd = self.cwnd.min(initial_window(self.mss));
        self.floor_cwnd();
        self.epoch = None;
    }

    /// A new SMSS (0 is treated as 1), as for NewReno: the untouched initial
    /// window is recomputed, later windows keep their bytes within the floors.
    fn set_mss(&mut self, mss: usize) {
        self.mss = mss.max(1);
        windows_for_new_mss(&mut self.cwnd, &mut self.ssthresh, self.mss, self.untouched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::RttSample;
    use proptest::prelude::*;

    const MSS: usize = 1000;
    const T: Instant = Instant::ZERO;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// An ACK sample carrying an RTT whose SRTT is `srtt`.
    fn rtt(srtt: Duration) -> AckSample {
        AckSample {
            newly_delivered: MSS,
            delivered: 0,
            prior_delivered: 0,
            rtt: Some(RttSample { latest: srtt, min: srtt, smoothed: srtt }),
            rate: None,
            app_limited: false,
            bytes_in_flight: 0,
        }
    }

    /// Slow start to `segments` segments (from the initial 10, two per ACK).
    fn grown_to(segments: usize) -> Cubic {
        let mut cc = Cubic::new(MSS);
        while cc.cwnd() < segments * MSS {
            cc.on_ack(T, 2 * MSS, 0);
        }
        assert_eq!(cc.cwnd(), segments * MSS);
        cc
    }

    /// A loss at a full window of `segments`, recovered: cwnd = ssthresh = 0.7 of it.
    fn after_loss_at(segments: usize) -> Cubic {
        let mut cc = grown_to(segments);
        cc.on_fast_retransmit(T, segments * MSS);
        cc.on_recovery_end(segments * MSS);
        cc
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn the_curve_follows_rfc_9438_figures_1_and_2() {
        // K = ∛((W_max − cwnd_epoch)/C): W_max 100, cwnd_epoch 70 → ∛75.
        let k = k(100.0, 70.0);
        assert!(close(k, 4.217_163_3, 1e-6), "K = {k}");
        assert_eq!(super::k(100.0, 120.0), 0.0, "an epoch above W_max has K = 0");
        // W_cubic(0) = cwnd_epoch, W_cubic(K) = W_max, symmetric around K.
        assert!(close(w_cubic(0.0, k, 100.0), 70.0, 1e-9));
        assert!(close(w_cubic(k, k, 100.0), 100.0, 1e-12));
        assert!(close(w_cubic(k + 1.0, k, 100.0), 100.4, 1e-9));
        assert!(close(w_cubic(k - 1.0, k, 100.0), 99.6, 1e-9));
        // W_cubic(1 s) = 0.4·(1 − 4.2172)³ + 100 = 86.680…
        assert!(close(w_cubic(1.0, k, 100.0), 86.680_8, 1e-3));
        // β_cubic and α_cubic (§4.3: 3·0.3/1.7).
        assert!(close(ALPHA_CUBIC, 0.529_411_76, 1e-8));
    }

    #[test]
    fn a_loss_keeps_seven_tenths_and_remembers_w_max() {
        let mut cc = grown_to(100);
        assert_eq!(cc.name(), "cubic");
        cc.on_fast_retransmit(T, 100 * MSS);
        assert_eq!(cc.ssthresh(), 70 * MSS, "β_cubic · FlightSize (§4.6)");
        assert_eq!(cc.cwnd(), 70 * MSS);
        assert_eq!(cc.w_max(), 100.0);
        // Small flights are floored at 2 SMSS.
        let mut cc = Cubic::new(MSS);
        cc.on_fast_retransmit(T, 2 * MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (2 * MSS, 2 * MSS));
    }

    #[test]
    fn the_epoch_starts_with_k_from_w_max_and_the_window() {
        let mut cc = after_loss_at(100);
        assert_eq!(cc.cwnd(), 70 * MSS);
        cc.on_ack_sample(T, &rtt(Duration::from_millis(100)));
        cc.on_ack(at(0), MSS, 0);
        assert!(close(cc.k().expect("in avoidance"), 4.217_163_3, 1e-6));
    }

    #[test]
    fn concave_growth_aims_at_w_cubic_one_rtt_ahead() {
        let mut cc = after_loss_at(100);
        cc.on_ack_sample(T, &rtt(Duration::from_millis(100)));
        cc.on_ack(at(0), MSS, 0); // the epoch begins at t = 0
        let before = cc.cwnd() as f64 / MSS as f64;
        // One segment acknowledged at t = 1 s: W_cubic(1.1 s) = 87.885 lies within
        // [cwnd, 1.5·cwnd], so cwnd += (87.885 − cwnd)/cwnd (§4.4).
        cc.on_ack(at(1000), MSS, 0);
        let k = k(100.0, 70.0);
        let target = w_cubic(1.1, k, 100.0);
        assert!(close(target, 87.884_6, 1e-3));
        let expected = before + (target - before) / before;
        let got = cc.cwnd() as f64 / MSS as f64;
        assert!(close(got, expected, 1.0 / MSS as f64), "cwnd {got} segments, expected {expected}");
        assert!(got < 100.0, "concave: below W_max");
    }

    #[test]
    fn growth_is_capped_at_half_the_window_per_rtt() {
        let mut cc = after_loss_at(100);
        cc.on_ack_sample(T, &rtt(Duration::from_millis(100)));
        cc.on_ack(at(0), MSS, 0);
        // Far past K, W_cubic(t + RTT) is huge: the target is 1.5·cwnd (§4.2).
        let before = cc.cwnd() as f64 / MSS as f64;
        cc.on_ack(at(60_000), MSS, 0);
        let got = cc.cwnd() as f64 / MSS as f64;
        assert!(close(got, before + 0.5, 1.0 / MSS as f64), "{before} → {got}");
    }

    #[test]
    fn the_window_crosses_w_max_into_the_convex_region() {
        let mut cc = after_loss_at(100);
        cc.on_ack_sample(T, &rtt(Duration::from_millis(100)));
        // A window of ACKs every 100 ms for 6 s (K = 4.2 s).
        let mut now = 0;
        while now <= 6000 {
            for _ in 0..cc.cwnd() / MSS {
                cc.on_ack(at(now), MSS, 0);
            }
            now += 100;
        }
        let got = cc.cwnd() as f64 / MSS as f64;
        let k = k(100.0, 70.0);
        // Per-ACK steps aim one RTT ahead, so the window runs close to the curve.
        let curve = w_cubic(6.0, k, 100.0);
        assert!(got > 100.0, "past W_max: {got}");
        assert!(close(got, curve, 3.0), "cwnd {got} vs W_cubic(6 s) = {curve}");
    }

    #[test]
    fn the_reno_friendly_region_follows_w_est() {
        // Short RTT: 1 ms. In 10 ms W_cubic barely moves (its slope at t = 0 is
        // 3·C·K² ≈ 21 segments/s), while W_est grows α_cubic ≈ 0.53 per window.
        let mut cc = after_loss_at(100);
        cc.on_ack_sample(T, &rtt(Duration::from_millis(1)));
        for ms in 0..10 {
            for _ in 0..70 {
                cc.on_ack(at(ms), MSS, 0);
            }
        }
        let w_est = cc.w_est().expect("in avoidance");
        // Ten windows of ~70 segments: W_est = 70 + Σ α·70/cwnd ≈ 70 + 10·0.529·(70/72.6).
        assert!(w_est > 70.0 + 10.0 * ALPHA_CUBIC * 70.0 / 76.0, "W_est {w_est}");
        assert!(w_est < 70.0 + 10.0 * ALPHA_CUBIC, "W_est {w_est}");
        let k = k(100.0, 70.0);
        assert!(w_cubic(0.009, k, 100.0) < w_est, "Reno-friendly region");
        let cwnd = cc.cwnd() as f64 / MSS as f64;
        assert!(close(cwnd, w_est, 1.0 / MSS as f64), "cwnd {cwnd} = W_est {w_est} (§4.3)");
    }

    #[test]
    fn w_est_grows_at_reno_speed_once_it_reaches_cwnd_prior() {
        // After a timeout the next epoch starts at ssthresh with K = 0 and W_max =
        // cwnd_epoch (§4.8), W_est = cwnd_epoch. Here cwnd_prior (20) is below the
        // epoch's window only if the epoch starts above it: slow start to 20.
        let mut cc = grown_to(20);
        cc.on_rto(20 * MSS); // ssthresh 14, cwnd_prior 20
        cc.on_ack_sample(T, &rtt(Duration::from_millis(1)));
        while cc.in_slow_start() {
            cc.on_ack(T, MSS, 0);
        }
        assert_eq!(cc.cwnd(), 14 * MSS);
        cc.on_ack(at(0), MSS, 0);
        assert_eq!(cc.k(), Some(0.0), "§4.8: K = 0 after a timeout");
        assert_eq!(cc.w_max(), 14.0, "§4.8: W_max = cwnd_epoch");
        // W_est climbs from 14 to 20 at α_cubic per window, then at 1.
        let mut w_est = cc.w_est().unwrap_or(0.0);
        let mut windows = 0;
        while w_est < 20.0 {
            for _ in 0..cc.cwnd() / MSS {
                cc.on_ack(at(0), MSS, 0);
            }
            w_est = cc.w_est().unwrap_or(0.0);
            windows += 1;
        }
        // (20 − 14)/0.53 ≈ 11.3 windows (a little more: cwnd grows as W_est does).
        assert!((11..=14).contains(&windows), "{windows} windows at α_cubic");
        let before = w_est;
        for _ in 0..cc.cwnd() / MSS {
            cc.on_ack(at(0), MSS, 0);
        }
        let step = cc.w_est().unwrap_or(0.0) - before;
        assert!(close(step, 1.0, 0.06), "one segment per window past cwnd_prior: {step}");
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_the_window_shrinks() {
        // First loss at 100 segments: W_max = 100.
        let mut cc = grown_to(100);
        cc.on_fast_retransmit(T, 100 * MSS);
        assert_eq!(cc.w_max(), 100.0);
        // A second loss at 80 < W_max: W_max = 80·(1 + β_cubic)/2 = 68 (§4.7).
        cc.on_recovery_end(70 * MSS);
        cc.on_ack(at(0), MSS, 0);
        while cc.cwnd() < 80 * MSS {
            cc.on_ack(at(1000), MSS, 0);
        }
        let cwnd = cc.cwnd() as f64 / MSS as f64;
        cc.on_fast_retransmit(at(1000), cc.cwnd());
        assert!(close(cc.w_max(), cwnd * 1.7 / 2.0, 1e-9), "W_max {} from cwnd {cwnd}", cc.w_max());
        assert_eq!(cc.ssthresh(), (cwnd * MSS as f64 * 0.7) as usize);
        // A loss at or above W_max keeps W_max = cwnd.
        let mut cc = grown_to(50);
        cc.on_fast_retransmit(T, 50 * MSS);
        assert_eq!(cc.w_max(), 50.0);
    }

    #[test]
    fn a_timeout_collapses_to_one_segment_with_cubic_ssthresh() {
        let mut cc = grown_to(40);
        cc.on_rto(40 * MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 28 * MSS, "β_cubic, §4.8");
        // The retransmission times out too: ssthresh is kept (RFC 5681 §3.1).
        cc.on_rto(MSS);
        assert_eq!(cc.ssthresh(), 28 * MSS);
        // Slow start back to ssthresh with L = 2 SMSS.
        cc.on_ack(T, 5 * MSS, 0);
        assert_eq!(cc.cwnd(), 3 * MSS);
    }

    #[test]
    fn an_application_limited_sender_does_not_grow() {
        let mut cc = after_loss_at(100);
        let mut limited = rtt(Duration::from_millis(100));
        cc.on_ack_sample(T, &limited);
        cc.on_ack(at(0), MSS, 0);
        let before = cc.cwnd();
        limited.app_limited = true;
        cc.on_ack_sample(at(500), &limited);
        cc.on_ack(at(5000), MSS, 0);
        assert_eq!(cc.cwnd(), before, "§5.8: no growth while application-limited");
        limited.app_limited = false;
        cc.on_ack_sample(at(5000), &limited);
        // The 5 s spent limited are not in t: at 5.1 s the curve is at t = 0.1 s.
        cc.on_ack(at(5100), MSS, 0);
        let got = cc.cwnd() as f64 / MSS as f64;
        assert!(got < 71.0, "t excludes the limited time: {got}");
    }

    #[test]
    fn hystart_takes_the_initial_slow_start_to_css_then_avoidance() {
        let mut cc = Cubic::new(MSS);
        let (mut delivered, mut prev_first) = (0u64, 0u64);
        // Rounds of 10 ACKs of one segment each: 40 ms, then 50 ms from the third.
        for round in 0..9 {
            let prior = prev_first;
            let rtt_ms = if round < 2 { 40 } else { 50 };
            let before = cc.cwnd();
            for i in 0..10 {
                delivered += MSS as u64;
                if i == 0 {
                    prev_first = delivered;
                }
                let mut s = rtt(Duration::from_millis(rtt_ms));
                (s.delivered, s.prior_delivered) = (delivered, prior);
                cc.on_ack_sample(at(round * 50), &s);
                cc.on_ack(at(round * 50), MSS, 0);
            }
            let grown = cc.cwnd() - before;
            match round {
                0 | 1 => assert_eq!(grown, 10 * MSS, "slow start: one segment per segment ACKed"),
                // The eighth sample of the round (50 ≥ 40 + 5 ms) moves to CSS
                // before its ACK grows the window: 7 ACKs at full rate, 3 at a quarter.
                2 => assert_eq!((grown, cc.in_css()), (7 * MSS + 3 * MSS / 4, true)),
                3..=6 => assert_eq!(grown, 10 * MSS / 4, "CSS: a quarter (round {round})"),
                _ => {}
            }
        }
        assert!(!cc.in_slow_start(), "after CSS_ROUNDS, congestion avoidance");
        assert!(cc.ssthresh() < usize::MAX);
        // The exit comes with the first ACK of round 7, the fifth round to start
        // in CSS: IW + two slow-start rounds + round 2 + four CSS rounds.
        let at_exit = 10 * MSS + 20 * MSS + (7 * MSS + 3 * MSS / 4) + 4 * (10 * MSS / 4);
        assert_eq!(cc.ssthresh(), at_exit, "ssthresh = cwnd at the exit");
    }

    #[test]
    fn idle_restart_and_mss_follow_newreno() {
        let mut cc = grown_to(40);
        cc.on_idle_restart();
        assert_eq!(cc.cwnd(), 10 * MSS);
        let mut cc = Cubic::new(536);
        assert_eq!(cc.cwnd(), 5360);
        cc.set_mss(1460);
        assert_eq!((cc.cwnd(), cc.mss()), (14_600, 1460));
        assert_eq!(Cubic::new(0).mss(), 1);
    }

    #[derive(Clone, Debug)]
    enum Event {
        Sample(u64, bool),
        Ack(u64, usize),
        FastRetransmit(usize),
        RecoveryEnd(usize),
        Rto(usize),
        IdleRestart,
        SetMss(usize),
    }

    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![4 => 0usize..200_000, 1 => any::<usize>()]
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            2 => (any::<u64>(), any::<bool>()).prop_map(|(r, l)| Event::Sample(r, l)),
            4 => (0u64..100_000_000, size()).prop_map(|(t, a)| Event::Ack(t, a)),
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
            let mut cc = Cubic::new(mss);
            let mut now = T;
            for e in events {
                match e {
                    Event::Sample(r, l) => {
                        let mut s = rtt(Duration::from_micros(r));
                        s.app_limited = l;
                        cc.on_ack_sample(now, &s);
                    }
                    Event::Ack(dt, a) => {
                        now = now + Duration::from_micros(dt);
                        cc.on_ack(now, a, 0);
                    }
                    Event::FastRetransmit(f) => cc.on_fast_retransmit(now, f),
                    Event::RecoveryEnd(f) => cc.on_recovery_end(f),
                    Event::Rto(f) => cc.on_rto(f),
                    Event::IdleRestart => cc.on_idle_restart(),
                    Event::SetMss(m) => cc.set_mss(m),
                }
                let mss = cc.mss();
                prop_assert!(cc.cwnd() >= mss, "cwnd {} < mss {}", cc.cwnd(), mss);
                prop_assert!(cc.ssthresh() >= mss.saturating_mul(2));
            }
        }
    }
}
