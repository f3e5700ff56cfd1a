//! Burst loss: the Gilbert–Elliott channel.
//!
//! Independent random loss (`LinkConfig::loss`) spreads drops evenly: two
//! losses in a row are rare. Real paths lose packets in bunches — a queue
//! overflowing for a few milliseconds, a radio fading, a route flapping — and
//! bunches are what hurts TCP: several segments of one window gone at once, a
//! lost retransmission, a lost run of ACKs. Gilbert (1960) and Elliott (1963)
//! model such a channel as a two-state Markov chain, stepped once per packet:
//!
//! ```text
//!                 enter_bad (p)
//!           ┌──────────────────────┐
//!       ┌───┴──┐                ┌──▼──┐
//!       │ good │                │ bad │   loses each packet with loss_bad
//!       └──▲───┘                └──┬──┘   (loss_good in the good state)
//!          └───────────────────────┘
//!                 leave_bad (r)
//! ```
//!
//! A stay in the bad state lasts 1/r packets on average, the chain spends
//! p / (p + r) of the time there, and so the long-run loss rate is
//! (r · loss_good + p · loss_bad) / (p + r) ([`BurstLoss::long_run_loss`]).
//! Each direction of the link has its own chain; every draw comes from the
//! link's seeded generator, so bursts replay with the seed.

use crate::rng::SplitMix64;

/// The parameters of a Gilbert–Elliott channel (see the module documentation).
/// Probabilities are 0.0–1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstLoss {
    /// Chance, per packet, that the good state turns bad (p).
    pub enter_bad: f64,
    /// Chance, per packet, that the bad state turns good (r): bursts last 1/r
    /// packets on average.
    pub leave_bad: f64,
    /// Loss probability in the good state (1 − k in Elliott's notation).
    pub loss_good: f64,
    /// Loss probability in the bad state (1 − h).
    pub loss_bad: f64,
}

impl BurstLoss {
    /// Gilbert's special case: nothing lost while good, everything while bad,
    /// with a long-run loss rate of `loss` in bursts of `mean_burst` packets on
    /// average (`mean_burst` ≥ 1, `loss` < 1).
    pub fn gilbert(loss: f64, mean_burst: f64) -> Self {
        let leave_bad = 1.0 / mean_burst.max(1.0);
        let loss = loss.clamp(0.0, 0.99);
        BurstLoss { enter_bad: loss * leave_bad / (1.0 - loss), leave_bad, loss_good: 0.0, loss_bad: 1.0 }
    }

    /// The fraction of packets lost in the long run.
    pub fn long_run_loss(&self) -> f64 {
        let (p, r) = (self.enter_bad, self.leave_bad);
        if p + r == 0.0 {
            return self.loss_good;
        }
        (r * self.loss_good + p * self.loss_bad) / (p + r)
    }
}

/// The state of one direction's chain.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Channel {
    bad: bool,
}

impl Channel {
    /// Whether the next packet is lost (decided in the current state), then one
    /// step of the chain.
    pub(crate) fn lose(&mut self, model: &BurstLoss, rng: &mut SplitMix64) -> bool {
        let lost = rng.chance(if self.bad { model.loss_bad } else { model.loss_good });
        let turn = rng.chance(if self.bad { model.leave_bad } else { model.enter_bad });
        self.bad ^= turn;
        lost
    }
}
