//! Time as a value.
//!
//! The core never reads a clock: every entry point takes `now: Instant`. The runtime
//! feeds it real time (microseconds since the runtime started); a simulator feeds it
//! virtual time. To the protocol code both are the same, which is what makes runs
//! reproducible.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the stack's monotonic clock, in microseconds since an epoch the caller
/// chooses.
///
/// It prints (`{}` and `{:?}` alike) as seconds since the epoch with all six
/// digits of microseconds: `Instant::from_micros(60_040_000)` is `60.040000s`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000);
        f.pad(&text)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        let micros = u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(micros))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!((t + Duration::from_millis(2)).micros(), 7_000);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(Instant::from_micros(u64::MAX) + Duration::from_secs(1), Instant::from_micros(u64::MAX));
    }

    #[test]
    fn prints_as_seconds() {
        let t = Instant::from_micros(60_040_000);
        assert_eq!(t.to_string(), "60.040000s");
        assert_eq!(format!("{t:?}"), "60.040000s");
        assert_eq!(format!("{:?}", Some(Instant::ZERO)), "Some(0.000000s)");
        assert_eq!(Instant::from_micros(1).to_string(), "0.000001s");
        assert_eq!(Instant::from_millis(1_500).to_string(), "1.500000s");
        assert_eq!(Instant::from_micros(u64::MAX).to_string(), "18446744073709.551615s");
        assert_eq!(format!("[{:>12}]", Instant::from_millis(2)), "[   0.002000s]");
    }
}
