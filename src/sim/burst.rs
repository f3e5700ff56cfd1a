//! Burst loss: a Gilbert–Elliott channel.
//!
//! Independent random loss (`LinkConfig::loss`) spreads drops evenly: two
//! losses in a row are rare. Real paths lose packets in bunches — a queue
//! overflowing for a few milliseconds, a radio fading, a route flapping — and
//! bunches are what hurts TCP: several segments of one window gone at once, a
//! lost retransmission, a lost run of ACKs. Gilbert (1960) and Elliott (1963)
//! model such a channel with two states:
//!
//! ```text
//!                  on average after mean_good
//!           ┌──────────────────────────────────┐
//!       ┌───┴──┐                            ┌──▼──┐
//!       │ good │                            │ bad │   each packet lost with
//!       └──▲───┘                            └──┬──┘   loss_bad (loss_good
//!          └───────────────────────────────────┘      while good)
//!                  on average after mean_bad
//! ```
//!
//! # A chain in time, not in packets
//!
//! The textbook chain takes one step per packet, so a burst lasts a number of
//! *packets*. That is fine for a steady stream, but not for TCP, whose sending
//! rate is what the losses control: once a sender has backed off to one
//! retransmission per RTO, a ten-packet burst on the path of its ACKs lasts ten
//! RTOs — many minutes, an outage no real burst resembles, and every such run
//! ended in an honest `TimedOut` that tested nothing. (The stream properties
//! found this with the per-packet chain, e.g. seed 0xbc1984eb313fc49e both ways:
//! A held all of B's stream but its last byte and FIN, and each of its 14
//! answers to B's retransmissions met the bad state, so B's SND.UNA never moved
//! and B gave up.) So here each state lasts a random *time*,
//! exponentially distributed with mean `mean_good` or `mean_bad` — the
//! continuous-time two-state Markov chain. The chain spends
//! mean_bad / (mean_good + mean_bad) of the time bad, whatever the traffic, and
//! the long-run loss rate is the time-weighted mix of `loss_good` and `loss_bad`
//! ([`BurstLoss::long_run_loss`]).
//!
//! Being memoryless, the chain needs no timeline of its own: the state when a
//! packet is sent follows from the state at the previous packet and the time in
//! between. With λ = 1/mean_good, μ = 1/mean_bad, π = λ/(λ+μ) (the share of
//! time spent bad) and Δ the time since the last packet,
//!
//! ```text
//!     P(bad now) = π + (1[bad then] − π) · e^(−(λ+μ)·Δ)
//! ```
//!
//! one draw decides the state and one the loss. Each direction of the link has
//! its own chain; every draw comes from the link's seeded generator, so bursts
//! replay with the seed.

use std::time::Duration;

use crate::rng::SplitMix64;
use crate::time::Instant;

/// The parameters of a Gilbert–Elliott channel (see the module documentation).
/// Probabilities are 0.0–1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstLoss {
    /// How long the good state lasts on average before it turns bad.
    pub mean_good: Duration,
    /// How long a bad spell lasts on average.
    pub mean_bad: Duration,
    /// Loss probability in the good state (1 − k in Elliott's notation).
    pub loss_good: f64,
    /// Loss probability in the bad state (1 − h).
    pub loss_bad: f64,
}

impl BurstLoss {
    /// Gilbert's special case: nothing lost while good, everything while bad,
    /// bad spells of `mean_bad` on average, and `loss` (below 1) of the time
    /// spent bad — the long-run loss rate of a steady stream.
    pub fn gilbert(loss: f64, mean_bad: Duration) -> Self {
        let loss = loss.clamp(1e-6, 0.99);
        BurstLoss { mean_good: mean_bad.mul_f64((1.0 - loss) / loss), mean_bad, loss_good: 0.0, loss_bad: 1.0 }
    }

    /// The share of time spent in the bad state (π above).
    pub fn bad_share(&self) -> f64 {
        let (good, bad) = (self.mean_good.as_secs_f64(), self.mean_bad.as_secs_f64());
        if good + bad == 0.0 {
            return 0.0;
        }
        bad / (good + bad)
    }

    /// The fraction of packets lost in the long run by a sender whose packets
    /// are not correlated with the chain.
    pub fn long_run_loss(&self) -> f64 {
        let bad = self.bad_share();
        (1.0 - bad) * self.loss_good + bad * self.loss_bad
    }
}

/// The state of one direction's chain: bad or good when the last packet went.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Channel {
    bad: bool,
    at: Instant,
}

impl Channel {
    /// Move the chain to `now`, then decide whether a packet sent then is lost.
    pub(crate) fn lose(&mut self, model: &BurstLoss, now: Instant, rng: &mut SplitMix64) -> bool {
        let rate = |mean: Duration| if mean.is_zero() { f64::INFINITY } else { 1.0 / mean.as_secs_f64() };
        let (to_bad, to_good) = (rate(model.mean_good), rate(model.mean_bad));
        let share = model.bad_share();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let memory = if (to_bad + to_good).is_finite() { (-(to_bad + to_good) * elapsed).exp() } else { 0.0 };
        let was = if self.bad { 1.0 } else { 0.0 };
        self.bad = rng.chance(share + (was - share) * memory);
        self.at = now.max(self.at);
        rng.chance(if self.bad { model.loss_bad } else { model.loss_good })
    }
}
