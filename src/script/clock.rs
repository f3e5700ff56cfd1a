//! Script time: the runner's virtual clock, how a scripted time becomes a window
//! an event must fall in, and how times are printed.
//!
//! # The model
//!
//! Script time is a count of microseconds since the script started; nothing
//! sleeps, so a script that spans minutes of TCP timers runs in microseconds. The
//! stack's clock is the same count shifted by [`EPOCH`] (the stack treats its
//! first instants specially, so script time 0 is not the stack's time 0).
//!
//! A [`Clock`] holds two times:
//!
//! - `now`, what has happened so far: it only moves forward;
//! - `prev`, the base of the next relative time `+0.1`: the previous event's
//!   *scripted* time, or the moment it actually happened when that event was
//!   `*` or a range `a~b`.
//!
//! Each event's time becomes a [`Window`]: the instant the runner makes an
//! inbound packet or call happen (`at`) and the interval an outbound packet must
//! be sent in (`lo..=hi`). packetdrill's rule is the scripted time ± the
//! tolerance (4 ms unless `--tolerance_usecs=` says otherwise; with
//! `--tolerance_percent=P`, at least P % of the time since the previous event, as
//! packetdrill computes it — packetdrill's default is 12.5 %, ours 0, stricter):
//!
//! ```text
//!   0.100          → at 0.100, window [0.096, 0.104]
//!   0.100~0.200    → at 0.100, window [0.096, 0.204]
//!   *              → at now,   window [now, ∞)
//! ```
//!
//! # Bounds and cost
//!
//! All arithmetic saturates: a script that names a time near `u64::MAX` µs gets
//! a window that ends at `u64::MAX`, never an overflow. Every operation is O(1)
//! and allocation-free except [`fmt_time`], which builds a short string for
//! messages.

use std::time::Duration;

use super::ast::{Point, Time};
use crate::time::Instant;

/// Where script time 0 sits on the stack's clock.
pub(super) const EPOCH: Instant = Instant::from_millis(1_000);

/// When an event may happen: the runner makes it happen at `at`; a packet the
/// stack sends for it must be sent within `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Window {
    pub lo: u64,
    pub hi: u64,
    pub at: u64,
}

/// The runner's virtual clock, in script microseconds.
#[derive(Clone, Debug)]
pub(super) struct Clock {
    /// What has happened so far.
    pub now: u64,
    /// Scripted time of the previous event (the base of `+` times).
    pub prev: u64,
    /// How far from its scripted time an event may happen.
    pub tolerance: u64,
    /// `--tolerance_percent` in parts per million: an event may also be off by
    /// this share of the time since the previous event, when that is more.
    pub tolerance_ppm: u64,
}

impl Clock {
    /// A clock at script time 0.
    pub fn new(tolerance: u64) -> Self {
        super::virtual_time::set(Duration::ZERO);
        Clock { now: 0, prev: 0, tolerance, tolerance_ppm: 0 }
    }

    /// The tolerance for an event scripted at `t`: packetdrill's
    /// `max(tolerance_usecs, tolerance_percent × (t − previous event))`.
    fn tolerance_at(&self, t: u64) -> u64 {
        let delta = u128::from(t.saturating_sub(self.prev));
        let dynamic = delta * u128::from(self.tolerance_ppm) / 1_000_000;
        self.tolerance.max(u64::try_from(dynamic).unwrap_or(u64::MAX))
    }

    /// `now` on the stack's clock.
    pub fn instant(&self) -> Instant {
        EPOCH + Duration::from_micros(self.now)
    }

    /// A stack deadline in script time (0 for one before the script started).
    pub fn script_time(deadline: Instant) -> u64 {
        deadline.micros().saturating_sub(EPOCH.micros())
    }

    /// A point of the script as an absolute script time.
    pub fn resolve(&self, p: Point) -> u64 {
        match p {
            Point::Absolute(t) => t,
            Point::Relative(d) => self.prev.saturating_add(d),
        }
    }

    /// The end of `start...end`: a relative end counts from the start.
    pub fn resolve_end(end: Point, start: u64) -> u64 {
        match end {
            Point::Absolute(t) => t,
            Point::Relative(d) => start.saturating_add(d),
        }
    }

    /// The window an event at `time` must happen in; `Err` for a range that ends
    /// before it starts.
    pub fn window(&self, time: Time) -> Result<Window, &'static str> {
        Ok(match time {
            Time::At(p) => {
                let t = self.resolve(p);
                let tol = self.tolerance_at(t);
                Window { lo: t.saturating_sub(tol), hi: t.saturating_add(tol), at: t }
            }
            Time::Range(a, b) => {
                let (a, b) = (self.resolve(a), self.resolve(b));
                if b < a {
                    return Err("a time range must not end before it starts");
                }
                let tol = self.tolerance_at(a);
                Window { lo: a.saturating_sub(tol), hi: b.saturating_add(tol), at: a }
            }
            Time::Any => Window { lo: self.now, hi: u64::MAX, at: self.now },
        })
    }

    /// Move `now` forward to `t` (never back); trace events are stamped with
    /// it ([`virtual_time`](super::virtual_time)).
    pub fn advance(&mut self, t: u64) {
        self.now = self.now.max(t);
        super::virtual_time::set(Duration::from_micros(self.now));
    }

    /// The event written at `time` is done; it was made to happen at `at`.
    pub fn done(&mut self, time: Time, at: u64) {
        self.prev = match time {
            Time::At(_) => at,
            Time::Range(..) | Time::Any => self.now,
        };
    }

    /// Whether `now` is within the tolerance of `due`.
    pub fn on_time(&self, due: u64) -> bool {
        self.now.abs_diff(due) <= self.tolerance
    }

    /// Whether `now` is more than the tolerance before `due`.
    pub fn early(&self, due: u64) -> bool {
        self.now.saturating_add(self.tolerance) < due
    }
}

/// `1.5` s as `1.500`, packetdrill's way; microseconds only when there are some.
pub(super) fn fmt_time(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}.{:03}", us / 1_000_000, (us / 1000) % 1000)
    } else {
        format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_count_from_the_previous_scripted_time() {
        let mut c = Clock::new(4_000);
        c.advance(150_000);
        c.done(Time::At(Point::Absolute(100_000)), 100_000);
        assert_eq!(c.resolve(Point::Relative(50_000)), 150_000);
        assert_eq!(c.resolve(Point::Absolute(7)), 7);
        // After `*` or a range, from when the event actually happened.
        c.done(Time::Any, c.now);
        assert_eq!(c.resolve(Point::Relative(1)), 150_001);
    }

    #[test]
    fn windows_are_the_time_plus_minus_the_tolerance() {
        let c = Clock::new(4_000);
        let w = c.window(Time::At(Point::Absolute(100_000))).expect("valid");
        assert_eq!(w, Window { lo: 96_000, hi: 104_000, at: 100_000 });
        let w = c.window(Time::Range(Point::Absolute(100_000), Point::Absolute(200_000))).expect("valid");
        assert_eq!(w, Window { lo: 96_000, hi: 204_000, at: 100_000 });
        let w = c.window(Time::Any).expect("valid");
        assert_eq!((w.lo, w.hi, w.at), (0, u64::MAX, 0));
        assert!(c.window(Time::Range(Point::Absolute(2), Point::Absolute(1))).is_err());
    }

    #[test]
    fn windows_saturate_instead_of_overflowing() {
        let c = Clock::new(4_000);
        let w = c.window(Time::At(Point::Absolute(u64::MAX - 1))).expect("valid");
        assert_eq!(w.hi, u64::MAX);
        let w = c.window(Time::At(Point::Absolute(1_000))).expect("valid");
        assert_eq!(w.lo, 0);
    }

    #[test]
    fn the_clock_never_goes_back() {
        let mut c = Clock::new(0);
        c.advance(10);
        c.advance(5);
        assert_eq!(c.now, 10);
        assert_eq!(Clock::script_time(c.instant()), 10);
        assert_eq!(Clock::script_time(Instant::from_millis(0)), 0);
    }

    #[test]
    fn a_tolerance_percent_widens_windows_after_long_waits() {
        let mut c = Clock::new(4_000);
        c.tolerance_ppm = 125_000; // 12.5 %
        c.done(Time::At(Point::Absolute(1_000_000)), 1_000_000);
        // 1 s after the previous event: 125 ms either way.
        let w = c.window(Time::At(Point::Relative(1_000_000))).expect("valid");
        assert_eq!((w.lo, w.hi), (1_875_000, 2_125_000));
        // 10 ms after it: the fixed 4 ms is larger.
        let w = c.window(Time::At(Point::Relative(10_000))).expect("valid");
        assert_eq!((w.lo, w.hi), (1_006_000, 1_014_000));
    }

    #[test]
    fn on_time_and_early_use_the_tolerance() {
        let mut c = Clock::new(4_000);
        c.advance(100_000);
        assert!(c.on_time(104_000) && c.on_time(96_000));
        assert!(!c.on_time(104_001) && !c.on_time(95_999));
        assert!(c.early(104_001) && !c.early(104_000));
        assert!(!c.on_time(u64::MAX) && c.early(u64::MAX));
    }

    #[test]
    fn times_print_as_packetdrill_does() {
        assert_eq!(fmt_time(1_500_000), "1.500");
        assert_eq!(fmt_time(0), "0.000");
        assert_eq!(fmt_time(1_000_001), "1.000001");
    }
}
