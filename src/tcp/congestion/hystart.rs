//! HyStart++ (RFC 9406): leave slow start when the delay starts to rise, before
//! the doubling window overshoots the path and loses a window's worth of data.
//!
//! Slow start doubles the window each round trip until a loss, and the round that
//! finds the limit sends up to twice what the path holds: a burst of losses, and
//! often a timeout. HyStart++ watches the smallest RTT of each round; once it
//! grows by a threshold over the last round's (the queue at the bottleneck is
//! filling), slow start gives way to **Conservative Slow Start** (CSS), which
//! grows at a quarter of the rate. If the delay falls back below where CSS began,
//! the rise was jitter and slow start resumes; after `CSS_ROUNDS` rounds of CSS
//! the connection settles into congestion avoidance with `ssthresh = cwnd`.
//!
//! ```text
//!   slow start ──(min RTT of the round ≥ last round's + RttThresh)──► CSS
//!       ▲                                                              │
//!       └──────(min RTT of a CSS round < the baseline: spurious)───────┤
//!                                                                      │
//!   congestion avoidance ◄──────────(CSS_ROUNDS rounds)────────────────┘
//!   (and at once on any loss, from slow start or CSS)
//! ```
//!
//! # Representation
//!
//! Rounds are counted without sequence numbers: a round that began when `d`
//! bytes had been delivered ends once an ACK delivers a segment sent after that
//! (its `P.delivered` — [`AckSample::prior_delivered`] — reaches `d`), the
//! delivered-count form of RFC 9406's `windowEnd = SND.NXT`. Only ACKs that carry
//! an RTT sample count towards `N_RTT_SAMPLE` (with timestamps, every ACK of new
//! data; without, one a round, so HyStart++ never leaves slow start early).
//! Used for the initial slow start only (§4.2): the first loss or timeout ends it
//! for the connection. Without pacing, `L = 8` segments per ACK (§4.3).
//!
//! # Bounds and cost
//!
//! A few counters; O(1) per ACK.

use std::time::Duration;

use super::AckSample;

/// §4.3: the least delay increase that ends slow start…
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// …and the most: RttThresh = clamp(lastRoundMinRTT / MIN_RTT_DIVISOR).
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// §4.3: the delay increase, as a fraction of the last round's minimum RTT.
const MIN_RTT_DIVISOR: u32 = 8;
/// §4.3: RTT samples a round needs before its minimum is judged.
const N_RTT_SAMPLE: u32 = 8;
/// §4.3: CSS grows the window at 1/CSS_GROWTH_DIVISOR of slow start's rate…
const CSS_GROWTH_DIVISOR: usize = 4;
/// …for this many rounds, then congestion avoidance.
const CSS_ROUNDS: u32 = 5;
/// §4.3: L, the most segments one ACK may grow the window by, without pacing.
const L_NON_PACED: usize = 8;

/// Where HyStart++ has the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Standard slow start, watching the delay.
    SlowStart,
    /// Conservative slow start since the minimum RTT rose to `baseline`
    /// (cssBaselineMinRtt); `rounds` ended in it so far.
    Css { baseline: Duration, rounds: u32 },
    /// Over: the connection saw a loss or left CSS for congestion avoidance.
    Done,
}

/// HyStart++ state of one connection (RFC 9406 §4.2 names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HyStart {
    phase: Phase,
    /// windowEnd as a delivered count: the round ends when an ACK's
    /// `prior_delivered` reaches it. `None` before the first round.
    window_end: Option<u64>,
    /// lastRoundMinRTT (`None`: infinity).
    last_round_min_rtt: Option<Duration>,
    /// currentRoundMinRTT (`None`: infinity).
    current_round_min_rtt: Option<Duration>,
    /// rttSampleCount.
    rtt_sample_count: u32,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
        }
    }
}

impl HyStart {
    /// Whether HyStart++ still runs the slow start (it has not ended).
    pub fn is_active(&self) -> bool {
        self.phase != Phase::Done
    }

    /// Whether the connection is in Conservative Slow Start.
    pub fn in_css(&self) -> bool {
        matches!(self.phase, Phase::Css { .. })
    }

    /// One ACK in slow start or CSS, before the window grows for it: round
    /// tracking and the delay checks of §4.2. Returns `true` when CSS has lasted
    /// `CSS_ROUNDS` rounds: the caller enters congestion avoidance
    /// (`ssthresh = cwnd`).
    pub fn on_ack_sample(&mut self, sample: &AckSample) -> bool {
        if !self.is_active() {
            return false;
        }
        if self.window_end.is_none_or(|end| sample.prior_delivered >= end) {
            // A round begins.
            self.window_end = Some(sample.delivered);
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = None;
            self.rtt_sample_count = 0;
            if let Phase::Css { rounds, .. } = &mut self.phase {
                *rounds += 1;
                if *rounds >= CSS_ROUNDS {
                    self.phase = Phase::Done;
                    return true;
                }
            }
        }
        let Some(rtt) = sample.rtt else {
            return false;
        };
        let current = self.current_round_min_rtt.map_or(rtt.latest, |min| min.min(rtt.latest));
        self.current_round_min_rtt = Some(current);
        self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return false;
        }
        match self.phase {
            Phase::SlowStart => {
                let Some(last) = self.last_round_min_rtt else {
                    return false;
                };
                let rtt_thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last.saturating_add(rtt_thresh) {
                    self.phase = Phase::Css { baseline: current, rounds: 0 };
                }
            }
            Phase::Css { baseline, .. } if current < baseline => {
                // The delay rise was spurious: back to slow start.
                self.phase = Phase::SlowStart;
            }
            Phase::Css { .. } | Phase::Done => {}
        }
        false
    }

    /// How much `acked` bytes grow the window in slow start (§4.2):
    /// `min(N, L·SMSS)`, divided by `CSS_GROWTH_DIVISOR` in CSS.
    pub fn increase(&self, acked: usize, mss: usize) -> usize {
        let grown = acked.min(mss.saturating_mul(L_NON_PACED));
        if self.in_css() {
            grown / CSS_GROWTH_DIVISOR
        } else {
            grown
        }
    }

    /// A loss or a timeout: congestion avoidance takes over, and HyStart++ is not
    /// used again on this connection (§4.2).
    pub fn on_congestion(&mut self) {
        self.phase = Phase::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::RttSample;

    const MSS: usize = 1000;

    /// Feeds ACKs round by round, as a window that comes back one round trip
    /// after it was sent.
    #[derive(Default)]
    struct Rounds {
        delivered: u64,
        /// `delivered` after the first ACK of the last round: the next round's
        /// ACKs carry it as `prior_delivered`.
        prev_first: u64,
    }

    impl Rounds {
        /// One round whose ACKs carry these RTTs (ms; 0: no sample). Returns
        /// whether HyStart++ asked for congestion avoidance.
        fn round(&mut self, h: &mut HyStart, rtts: &[u64]) -> bool {
            let prior = self.prev_first;
            let mut leave = false;
            for (i, &ms) in rtts.iter().enumerate() {
                self.delivered += MSS as u64;
                if i == 0 {
                    self.prev_first = self.delivered;
                }
                let rtt = Duration::from_millis(ms);
                let sample = AckSample {
                    newly_delivered: MSS,
                    delivered: self.delivered,
                    prior_delivered: prior,
                    rtt: (ms > 0).then_some(RttSample { latest: rtt, min: rtt, smoothed: rtt }),
                    rate: None,
                    app_limited: false,
                    bytes_in_flight: 0,
                };
                leave |= h.on_ack_sample(&sample);
            }
            leave
        }
    }

    #[test]
    fn slow_start_ends_when_the_round_minimum_rises_by_the_threshold() {
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[40; 10]);
        r.round(&mut h, &[40; 10]);
        // RttThresh = clamp(40/8 = 5 ms, 4, 16): 44 ms is not enough…
        r.round(&mut h, &[44; 10]);
        assert!(!h.in_css());
        // …and after a 44 ms round the threshold is 44/8 = 5.5 ms: 50 ms is enough.
        r.round(&mut h, &[50; 10]);
        assert!(h.in_css(), "50 ≥ 44 + 5.5");
        assert_eq!(h.phase, Phase::Css { baseline: Duration::from_millis(50), rounds: 0 });
    }

    #[test]
    fn the_threshold_is_clamped_to_4_and_16_ms() {
        // A 10 ms path: 10/8 = 1.25 ms, raised to 4 ms.
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[10; 10]);
        r.round(&mut h, &[13; 10]);
        assert!(!h.in_css(), "3 ms < MIN_RTT_THRESH");
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[10; 10]);
        r.round(&mut h, &[14; 10]);
        assert!(h.in_css(), "4 ms = MIN_RTT_THRESH");
        // A 200 ms path: 25 ms, capped at 16 ms.
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[200; 10]);
        r.round(&mut h, &[216; 10]);
        assert!(h.in_css(), "16 ms = MAX_RTT_THRESH");
    }

    #[test]
    fn a_round_needs_n_rtt_samples() {
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[40; 10]);
        // Seven samples (and three ACKs without one) are not judged.
        r.round(&mut h, &[80, 80, 80, 80, 80, 80, 80, 0, 0, 0]);
        assert!(!h.in_css());
        r.round(&mut h, &[40; 10]);
        r.round(&mut h, &[80; 8]);
        assert!(h.in_css(), "the eighth sample decides");
    }

    #[test]
    fn css_grows_at_a_quarter_and_l_caps_each_ack() {
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        assert_eq!(h.increase(2 * MSS, MSS), 2 * MSS);
        assert_eq!(h.increase(20 * MSS, MSS), 8 * MSS, "L = 8 without pacing");
        r.round(&mut h, &[40; 10]);
        r.round(&mut h, &[50; 10]);
        assert!(h.in_css());
        assert_eq!(h.increase(2 * MSS, MSS), MSS / 2, "min(N, L·SMSS) / CSS_GROWTH_DIVISOR");
        assert_eq!(h.increase(20 * MSS, MSS), 2 * MSS);
    }

    #[test]
    fn a_falling_delay_in_css_resumes_slow_start() {
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[40; 10]);
        r.round(&mut h, &[50; 10]);
        assert!(h.in_css());
        r.round(&mut h, &[50; 10]);
        assert!(h.in_css(), "at the baseline: still CSS");
        r.round(&mut h, &[49; 10]);
        assert!(!h.in_css() && h.is_active(), "below cssBaselineMinRtt: spurious, slow start again");
    }

    #[test]
    fn css_rounds_lead_to_congestion_avoidance() {
        let (mut h, mut r) = (HyStart::default(), Rounds::default());
        r.round(&mut h, &[40; 10]);
        assert!(!r.round(&mut h, &[50; 10]));
        assert!(h.in_css());
        // Rounds ended in CSS: the one it began in, then three more…
        for _ in 0..4 {
            assert!(!r.round(&mut h, &[55; 10]));
        }
        assert!(r.round(&mut h, &[55; 10]), "…and the fifth ends CSS");
        assert!(!h.is_active());
        assert!(!r.round(&mut h, &[80; 10]), "over for good");
    }

    #[test]
    fn a_loss_ends_hystart() {
        let mut h = HyStart::default();
        h.on_congestion();
        assert!(!h.is_active());
        assert_eq!(h.increase(20 * MSS, MSS), 8 * MSS);
    }
}
