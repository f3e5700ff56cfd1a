//! How long to wait before retransmitting: the retransmission timeout (RTO) of
//! RFC 6298, and Karn's rule for which round-trip samples may be trusted.
//!
//! TCP cannot know whether a segment was lost; it can only wait "long enough" for its
//! acknowledgement. "Long enough" must adapt to the path: a LAN answers in
//! microseconds, a satellite link in over half a second. RFC 6298 keeps two running
//! statistics of the measured round-trip time `R`:
//!
//! * `SRTT`, the smoothed RTT — an exponentially weighted moving average of `R`;
//! * `RTTVAR`, the RTT variation — a moving average of `|SRTT − R|`, a cheap stand-in
//!   for the standard deviation;
//!
//! and sets `RTO = SRTT + max(G, 4·RTTVAR)`: the mean plus a safety margin that grows
//! when the RTT is jittery. Each time the timer fires anyway, the RTO doubles
//! (exponential back-off, §5.5) so that a congested path is not hammered.
//!
//! Two pieces live here, deliberately separate:
//!
//! * [`RttEstimator`] turns samples into an RTO. It does not care where samples come
//!   from.
//! * [`RttSampler`] produces samples the classic way — time one segment, wait for its
//!   ACK — while applying Karn's algorithm. A connection that negotiated TCP
//!   timestamps (RFC 7323 §4) instead measures `now − TSecr` on every ACK and feeds
//!   that straight to [`RttEstimator::on_sample`]; timestamps make retransmissions
//!   unambiguous, so Karn's restriction does not apply to them.
//!
//! Like the rest of the core, nothing here reads a clock: times come in as
//! [`Instant`] values.

use std::time::Duration;

use crate::tcp::seq::SeqNumber;
use crate::time::Instant;

/// Bounds and constants of the RTO computation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtoConfig {
    /// The RTO before any RTT has been measured. RFC 6298 §2.1: 1 second (it was 3 s in
    /// RFC 2988; Appendix A of RFC 6298 explains why 1 s is safe).
    pub initial: Duration,
    /// The smallest RTO ever used. RFC 6298 §2.4 says an RTO below 1 second SHOULD be
    /// rounded up to 1 s; like Linux (`TCP_RTO_MIN`) we default to **200 ms** instead.
    /// One second was chosen in 2000 to stay clear of delayed ACKs (up to 500 ms, RFC
    /// 1122 4.2.3.2) on slow paths; with today's fast paths it makes every timeout-based
    /// recovery painfully slow, and 200 ms still exceeds the common 40–200 ms
    /// delayed-ACK timers. The cost is a somewhat higher risk of spurious
    /// retransmissions on paths whose RTT suddenly grows.
    pub min: Duration,
    /// The largest RTO ever used, back-off included. RFC 6298 §2.5 allows a maximum of
    /// at least 60 s; we use 120 s like Linux (`TCP_RTO_MAX`).
    pub max: Duration,
    /// `G`, the clock granularity (RFC 6298 §2). It is the floor of the variance term,
    /// so that a perfectly steady RTT still leaves a margin of one clock tick. Our
    /// clock counts microseconds, but 1 ms keeps the margin meaningful.
    pub granularity: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        RtoConfig {
            initial: Duration::from_secs(1),
            min: Duration::from_millis(200),
            max: Duration::from_secs(120),
            granularity: Duration::from_millis(1),
        }
    }
}

impl RtoConfig {
    /// `rto` clamped to `[min, max]`. Written by hand rather than with
    /// [`Ord::clamp`], which panics when `min > max`: with a misconfigured pair `max`
    /// wins, so the timer is still bounded.
    fn clamp(&self, rto: Duration) -> Duration {
        rto.max(self.min).min(self.max)
    }
}

/// The "K" of RFC 6298 §2: how many RTTVARs of margin the RTO adds to SRTT.
const K: u32 = 4;

/// RFC 6298 §5.7's RTO for data after a handshake whose SYN timed out (Linux's
/// `TCP_TIMEOUT_FALLBACK`).
const SYN_FALLBACK_RTO: Duration = Duration::from_secs(3);

/// The RFC 6298 estimator: SRTT, RTTVAR and the (backed-off) RTO of one connection.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    config: RtoConfig,
    /// Smoothed RTT; `None` until the first sample (RFC 6298 §2.1 has no SRTT yet).
    srtt: Option<Duration>,
    /// RTT variation.
    rttvar: Duration,
    /// The RTO computed from the last sample (or the initial RTO), clamped to
    /// `[min, max]`, before back-off.
    base_rto: Duration,
    /// Consecutive timer expirations since the last valid sample: the RTO in force is
    /// `base_rto · 2^backoff`.
    backoff: u32,
    /// The smallest sample so far, for congestion control (not part of RFC 6298).
    min: Option<Duration>,
}

impl RttEstimator {
    /// An estimator with no measurement yet: the RTO is `config.initial` (RFC 6298
    /// §2.1), clamped to `[min, max]` like every other RTO.
    pub fn new(config: RtoConfig) -> Self {
        let base_rto = config.clamp(config.initial);
        RttEstimator { config, srtt: None, rttvar: Duration::ZERO, base_rto, backoff: 0, min: None }
    }

    /// Takes one RTT measurement `R` into account.
    ///
    /// * First sample (RFC 6298 §2.2): `SRTT ← R`, `RTTVAR ← R/2`.
    /// * Later samples (§2.3), with `alpha = 1/8` and `beta = 1/4`, updating RTTVAR
    ///   first because it uses the *old* SRTT:
    ///   `RTTVAR ← (1 − beta)·RTTVAR + beta·|SRTT − R|`, then
    ///   `SRTT ← (1 − alpha)·SRTT + alpha·R`.
    /// * In both cases `RTO ← SRTT + max(G, K·RTTVAR)` with `K = 4`, clamped to
    ///   `[min, max]` (§2.4, §2.5).
    ///
    /// A valid sample also ends any exponential back-off: the path answered, so the
    /// fresh estimate is used again (§5.7 together with Karn's algorithm, §3 — the
    /// caller must only pass samples that Karn allows, see [`RttSampler`]).
    ///
    /// All arithmetic saturates, so even absurd samples (e.g. [`Duration::MAX`]) only
    /// drive the RTO to `max`.
    pub fn on_sample(&mut self, rtt: Duration) {
        let (srtt, rttvar) = match self.srtt {
            None => (rtt, rtt / 2),
            Some(srtt) => {
                let deviation = srtt.abs_diff(rtt);
                // (3/4)·RTTVAR + (1/4)·|SRTT − R| = (3·RTTVAR + |SRTT − R|) / 4
                let rttvar = self.rttvar.saturating_mul(3).saturating_add(deviation) / 4;
                // (7/8)·SRTT + (1/8)·R = (7·SRTT + R) / 8
                let srtt = srtt.saturating_mul(7).saturating_add(rtt) / 8;
                (srtt, rttvar)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        self.min = Some(self.min.map_or(rtt, |min| min.min(rtt)));
        let margin = self.config.granularity.max(rttvar.saturating_mul(K));
        self.base_rto = self.config.clamp(srtt.saturating_add(margin));
        self.backoff = 0;
    }

    /// The RTO to arm the retransmission timer with: the computed RTO doubled once per
    /// consecutive expiry (RFC 6298 §5.5), never above `max` (§2.5).
    pub fn rto(&self) -> Duration {
        // 2^backoff, saturating: past 31 doublings any RTO has long reached `max`.
        let factor = 1u32.checked_shl(self.backoff).unwrap_or(u32::MAX);
        self.base_rto.saturating_mul(factor).min(self.config.max)
    }

    /// The retransmission timer expired: back off (RFC 6298 §5.5, "RTO ← RTO · 2"),
    /// up to `max`.
    ///
    /// The count keeps rising even once the RTO is pinned at `max`, because the
    /// connection uses it (see [`backoffs`](Self::backoffs)) to give up after too many
    /// retries (RFC 9293 §3.8.3, "R2").
    ///
    /// See [`on_handshake_done`](Self::on_handshake_done) for what follows a timeout
    /// during the handshake.
    pub fn on_timeout(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// The handshake is over. RFC 6298 §5.7: if the SYN (or SYN,ACK) timed out and
    /// no RTT was measured (Karn's rule forbids a sample from a retransmitted SYN,
    /// unless timestamps tell the copies apart), data starts with an RTO of 3 s and
    /// no back-off, as Linux does — not the 2 s one expiry left behind.
    pub fn on_handshake_done(&mut self) {
        if self.srtt.is_none() && self.backoff > 0 {
            self.base_rto = self.config.clamp(SYN_FALLBACK_RTO);
            self.backoff = 0;
        }
    }

    /// The smoothed RTT, or `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The smallest sample so far, or `None` before the first.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min
    }

    /// The RTT variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Consecutive timer expirations since the last valid sample.
    #[cfg(test)]
    pub fn backoffs(&self) -> u32 {
        self.backoff
    }
}

/// Classic RTT sampling with Karn's algorithm (Karn & Partridge 1987; RFC 6298 §3).
///
/// Only one segment is timed at a time: when it is sent we note the sequence number
/// just past its end and the send time; the first ACK that covers that end yields the
/// sample `now − sent_at`. One sample per round trip is enough for RFC 6298 (§3 says
/// so explicitly) and needs no per-segment bookkeeping.
///
/// **Karn's rule**: an ACK for a segment that was sent more than once is ambiguous —
/// it may acknowledge the first transmission or the retransmission, and guessing wrong
/// either inflates or collapses the estimate. So a retransmitted segment is never
/// timed, and a retransmission while a sample is in flight throws that sample away.
/// (The back-off of [`RttEstimator`] stays in force until the next unambiguous sample,
/// which is the other half of Karn's algorithm.)
///
/// With TCP timestamps (RFC 7323) every ACK carries its own unambiguous measurement,
/// and the connection feeds those to [`RttEstimator::on_sample`] without this type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RttSampler {
    /// The segment being timed: the sequence number just past its last byte (or its
    /// SYN/FIN), and when it was sent.
    timed: Option<(SeqNumber, Instant)>,
}

impl RttSampler {
    /// A sampler timing nothing.
    pub fn new() -> Self {
        RttSampler::default()
    }

    /// A segment occupying sequence space up to (not including) `seq_end` was sent at
    /// `now`.
    ///
    /// If nothing is being timed and this is a first transmission, timing starts. A
    /// retransmission is never timed (Karn), and — conservatively — it also discards
    /// any sample in flight, exactly like [`on_retransmit`](Self::on_retransmit):
    /// the cumulative ACK that would end the sample may have been triggered by the
    /// retransmission (e.g. one filling a hole below `seq_end`), which would make the
    /// measurement too long. Linux makes the same choice when timestamps are off.
    ///
    /// Only segments that occupy sequence space (data, SYN, FIN) should be passed:
    /// a pure ACK is never acknowledged, so timing one would never end.
    pub fn on_send(&mut self, seq_end: SeqNumber, now: Instant, is_retransmission: bool) {
        if is_retransmission {
            self.timed = None;
        } else if self.timed.is_none() {
            self.timed = Some((seq_end, now));
        }
    }

    /// Something was retransmitted (timeout or fast retransmit): the sample in flight,
    /// if any, is no longer trustworthy and is dropped (Karn; RFC 6298 §3).
    pub fn on_retransmit(&mut self) {
        self.timed = None;
    }

    /// An ACK with cumulative acknowledgement `ack` arrived at `now`. Returns the RTT
    /// sample if it covers the timed segment (`ack ≥ seq_end`, in sequence-number
    /// order), after which the sampler is idle again and will time the next new segment.
    pub fn on_ack(&mut self, ack: SeqNumber, now: Instant) -> Option<Duration> {
        let (seq_end, sent_at) = self.timed?;
        if ack >= seq_end {
            self.timed = None;
            Some(now.saturating_duration_since(sent_at))
        } else {
            None
        }
    }

    /// Whether a segment is being timed.
    #[cfg(test)]
    pub fn is_timing(&self) -> bool {
        self.timed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn estimator() -> RttEstimator {
        RttEstimator::new(RtoConfig::default())
    }

    #[test]
    fn defaults_follow_rfc_6298_and_linux() {
        let c = RtoConfig::default();
        assert_eq!(c.initial, ms(1000));
        assert_eq!(c.min, ms(200));
        assert_eq!(c.max, Duration::from_secs(120));
        assert_eq!(c.granularity, ms(1));
    }

    #[test]
    fn before_any_sample_the_rto_is_the_initial_one() {
        let e = estimator();
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), Duration::ZERO);
        assert_eq!(e.backoffs(), 0);
    }

    #[test]
    fn first_sample_rfc_6298_section_2_2() {
        let mut e = estimator();
        e.on_sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));
        // 100 + max(1, 4·50) = 300 ms, above the 200 ms floor.
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn the_smallest_sample_is_kept() {
        let mut e = estimator();
        assert_eq!(e.min_rtt(), None);
        e.on_sample(ms(100));
        e.on_sample(ms(40));
        e.on_sample(ms(70));
        assert_eq!(e.min_rtt(), Some(ms(40)));
    }

    #[test]
    fn subsequent_samples_rfc_6298_section_2_3() {
        let mut e = estimator();
        e.on_sample(ms(100));
        e.on_sample(ms(200));
        // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 37.5 + 25 = 62.5 ms
        assert_eq!(e.rttvar(), us(62_500));
        // SRTT = 7/8·100 + 1/8·200 = 87.5 + 25 = 112.5 ms
        assert_eq!(e.srtt(), Some(us(112_500)));
        // RTO = 112.5 + 4·62.5 = 362.5 ms
        assert_eq!(e.rto(), us(362_500));

        e.on_sample(ms(100));
        // RTTVAR = 3/4·62.5 + 1/4·12.5 = 46.875 + 3.125 = 50 ms
        assert_eq!(e.rttvar(), ms(50));
        // SRTT = 7/8·112.5 + 1/8·100 = 98.4375 + 12.5 = 110.9375 ms
        assert_eq!(e.srtt(), Some(Duration::from_nanos(110_937_500)));
        assert_eq!(e.rto(), Duration::from_nanos(310_937_500));
    }

    #[test]
    fn a_steady_rtt_converges_and_granularity_floors_the_margin() {
        let mut e = RttEstimator::new(RtoConfig { min: Duration::ZERO, ..RtoConfig::default() });
        for _ in 0..200 {
            e.on_sample(ms(10));
        }
        assert_eq!(e.srtt(), Some(ms(10)));
        // RTTVAR decays towards 0, so the margin is G = 1 ms.
        assert!(e.rttvar() < us(250));
        assert_eq!(e.rto(), ms(11));
    }

    #[test]
    fn rto_is_clamped_to_min() {
        let mut e = estimator();
        e.on_sample(ms(10)); // 10 + 4·5 = 30 ms → 200 ms
        assert_eq!(e.rto(), ms(200));
        e.on_sample(Duration::ZERO);
        assert_eq!(e.rto(), ms(200));
    }

    #[test]
    fn rto_is_clamped_to_max() {
        let mut e = estimator();
        e.on_sample(Duration::from_secs(100)); // 100 + 200 s → 120 s
        assert_eq!(e.rto(), Duration::from_secs(120));
        e.on_sample(Duration::MAX); // saturates instead of overflowing
        assert_eq!(e.rto(), Duration::from_secs(120));
        e.on_sample(Duration::MAX);
        assert_eq!(e.rto(), Duration::from_secs(120));
    }

    #[test]
    fn misconfigured_bounds_do_not_panic() {
        let mut e = RttEstimator::new(RtoConfig {
            min: Duration::from_secs(5),
            max: Duration::from_secs(1),
            ..RtoConfig::default()
        });
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.on_sample(ms(1));
        assert_eq!(e.rto(), Duration::from_secs(1));
    }

    #[test]
    fn back_off_doubles_up_to_max() {
        let mut e = estimator();
        e.on_sample(ms(100)); // RTO 300 ms
        e.on_timeout();
        assert_eq!(e.rto(), ms(600));
        e.on_timeout();
        assert_eq!(e.rto(), ms(1200));
        e.on_timeout();
        assert_eq!(e.rto(), ms(2400));
        assert_eq!(e.backoffs(), 3);
        for _ in 0..100 {
            e.on_timeout();
        }
        assert_eq!(e.rto(), Duration::from_secs(120));
        assert_eq!(e.backoffs(), 103);
    }

    #[test]
    fn back_off_applies_to_the_initial_rto() {
        let mut e = estimator();
        e.on_timeout();
        assert_eq!(e.rto(), ms(2000));
        e.on_timeout();
        assert_eq!(e.rto(), ms(4000));
    }

    #[test]
    fn back_off_count_saturates() {
        let mut e = estimator();
        e.backoff = u32::MAX - 1;
        e.on_timeout();
        e.on_timeout();
        assert_eq!(e.backoffs(), u32::MAX);
        assert_eq!(e.rto(), Duration::from_secs(120));
    }

    #[test]
    fn a_sample_resets_the_back_off() {
        let mut e = estimator();
        e.on_sample(ms(100));
        e.on_timeout();
        e.on_timeout();
        assert_eq!(e.rto(), ms(1200));
        e.on_sample(ms(100));
        // RTTVAR = 3/4·50 + 0 = 37.5; RTO = 100 + 150 = 250 ms, no back-off.
        assert_eq!(e.backoffs(), 0);
        assert_eq!(e.rto(), ms(250));
    }

    #[test]
    fn sampler_times_one_segment_at_a_time() {
        let mut s = RttSampler::new();
        s.on_send(SeqNumber(1000), Instant::from_millis(0), false);
        // A second new segment while timing does not restart the clock.
        s.on_send(SeqNumber(2000), Instant::from_millis(10), false);
        assert!(s.is_timing());
        // An ACK below the timed end gives nothing.
        assert_eq!(s.on_ack(SeqNumber(999), Instant::from_millis(50)), None);
        // The covering ACK gives the time since the *first* segment was sent.
        assert_eq!(s.on_ack(SeqNumber(2000), Instant::from_millis(80)), Some(ms(80)));
        assert!(!s.is_timing());
        // Idle again: nothing more until the next new segment is timed.
        assert_eq!(s.on_ack(SeqNumber(3000), Instant::from_millis(90)), None);
        s.on_send(SeqNumber(3000), Instant::from_millis(100), false);
        assert_eq!(s.on_ack(SeqNumber(3000), Instant::from_millis(130)), Some(ms(30)));
    }

    #[test]
    fn karn_a_retransmitted_segment_gives_no_sample() {
        let mut s = RttSampler::new();
        s.on_send(SeqNumber(1000), Instant::from_millis(0), false);
        s.on_retransmit();
        assert_eq!(s.on_ack(SeqNumber(1000), Instant::from_millis(1500)), None);

        // A retransmission is never timed…
        s.on_send(SeqNumber(1000), Instant::from_millis(2000), true);
        assert!(!s.is_timing());
        assert_eq!(s.on_ack(SeqNumber(1000), Instant::from_millis(2100)), None);

        // …and sending one while timing throws the sample away.
        s.on_send(SeqNumber(2000), Instant::from_millis(3000), false);
        s.on_send(SeqNumber(1500), Instant::from_millis(3100), true);
        assert_eq!(s.on_ack(SeqNumber(2000), Instant::from_millis(3200)), None);
    }

    #[test]
    fn sampler_handles_wrap_around_and_clock_going_backwards() {
        let mut s = RttSampler::new();
        s.on_send(SeqNumber(10), Instant::from_millis(100), false);
        assert_eq!(
            s.on_ack(SeqNumber(u32::MAX - 5), Instant::from_millis(150)),
            None,
            "an ACK just before the wrap is before seq_end 10"
        );
        assert_eq!(s.on_ack(SeqNumber(10), Instant::from_millis(50)), Some(Duration::ZERO));
    }

    #[test]
    fn karn_back_off_persists_until_an_unambiguous_sample() {
        let mut e = estimator();
        let mut s = RttSampler::new();
        e.on_sample(ms(100));
        s.on_send(SeqNumber(1000), Instant::from_millis(0), false);
        e.on_timeout();
        s.on_retransmit();
        s.on_send(SeqNumber(1000), Instant::from_millis(300), true);
        if let Some(r) = s.on_ack(SeqNumber(1000), Instant::from_millis(350)) {
            e.on_sample(r);
        }
        assert_eq!(e.backoffs(), 1, "the ambiguous ACK must not reset the back-off");
        assert_eq!(e.rto(), ms(600));
        s.on_send(SeqNumber(2000), Instant::from_millis(400), false);
        if let Some(r) = s.on_ack(SeqNumber(2000), Instant::from_millis(500)) {
            e.on_sample(r);
        }
        assert_eq!(e.backoffs(), 0);
    }

    /// RFC 6298 §5.7, a defect: one SYN timeout left the data RTO at the backed-off
    /// 2 s instead of 3 s.
    #[test]
    fn a_handshake_that_timed_out_without_a_sample_starts_data_at_3_s() {
        let mut e = estimator();
        e.on_timeout();
        assert_eq!(e.rto(), ms(2000), "the SYN's back-off");
        e.on_handshake_done();
        assert_eq!((e.rto(), e.backoffs()), (ms(3000), 0));
        // Two timeouts (4 s) also come back to 3 s, as Linux's TCP_TIMEOUT_FALLBACK.
        let mut e = estimator();
        e.on_timeout();
        e.on_timeout();
        e.on_handshake_done();
        assert_eq!(e.rto(), ms(3000));
        // A handshake that timed out but was measured (timestamps) keeps its estimate,
        // and one that never timed out keeps the initial 1 s.
        let mut e = estimator();
        e.on_timeout();
        e.on_sample(ms(100));
        e.on_handshake_done();
        assert_eq!(e.rto(), ms(300));
        let mut e = estimator();
        e.on_handshake_done();
        assert_eq!(e.rto(), ms(1000));
    }
}
