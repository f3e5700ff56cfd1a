//! A token bucket: the rate limit of ICMP errors (RFC 1812 4.3.2.8, RFC 1122
//! 3.2.2) and of challenge ACKs (RFC 5961 §7).
//!
//! A host that answers every stray datagram with an ICMP error can be made to flood
//! its peer; a bucket of `burst` tokens that earns one back every `interval` caps the
//! rate. It is refilled lazily from the `now` passed in, so it needs no timer.

use std::time::Duration;

use crate::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    tokens: u32,
    burst: u32,
    interval: Duration,
    last_refill: Instant,
}

impl TokenBucket {
    pub fn new(burst: u32, interval: Duration) -> Self {
        TokenBucket { tokens: burst, burst, interval, last_refill: Instant::ZERO }
    }

    /// Take one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let interval = self.interval.as_micros().max(1);
        let elapsed = now.saturating_duration_since(self.last_refill).as_micros();
        let earned = elapsed / interval;
        if earned > 0 {
            self.tokens = u32::try_from(u128::from(self.tokens) + earned).unwrap_or(u32::MAX).min(self.burst);
            let used = u64::try_from(earned * interval).unwrap_or(u64::MAX);
            self.last_refill = Instant::from_micros(self.last_refill.micros().saturating_add(used));
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut b = TokenBucket::new(3, Duration::from_millis(10));
        let t0 = Instant::from_millis(1_000);
        assert_eq!((0..5).filter(|_| b.try_take(t0)).count(), 3);
        assert!(!b.try_take(t0 + Duration::from_millis(9)));
        assert!(b.try_take(t0 + Duration::from_millis(10)));
        assert!(!b.try_take(t0 + Duration::from_millis(10)));
        // A long quiet period refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.try_take(later)).count(), 3);
    }
}
