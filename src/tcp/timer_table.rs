//! Every timer of one connection in one table: which timers there are, when each
//! is due, and the earliest of them.
//!
//! A TCP connection runs up to ten timers (RFC 9293 §3.8, RFC 6298, RFC 8985,
//! RFC 1122 4.2.3.2 and 4.2.3.6, RFC 5482, and pacing). Kept as loose fields in the places they belong to — the
//! sender, the receiver, the state — they had to be kept in step by hand; here
//! each is one slot of a fixed array indexed by [`Timer`], and the connection's
//! next deadline is the smallest armed slot. The table is ten `Option<Instant>`
//! (160 bytes); every operation is O(1) but [`TimerTable::next`], which looks at
//! all ten.
//!
//! The table only keeps times. What a timer *does* when it fires is in
//! `timers.rs`; the TCP table's set of connections by deadline (`schedule.rs`)
//! holds each connection under [`Tcb::deadline`](super::tcb::Tcb::deadline), which
//! starts from [`TimerTable::next`].

use crate::time::Instant;

/// The timers of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission timeout (RFC 6298 §5): data or a SYN is in flight.
    Retransmit,
    /// Tail loss probe (RFC 8985 §7.2), earlier than the RTO.
    LossProbe,
    /// RACK reordering window: when a segment not yet overdue becomes so
    /// (RFC 8985 §6.2).
    Reorder,
    /// Persist: probe a zero window (RFC 9293 §3.8.6.1).
    Persist,
    /// Delayed ACK (RFC 1122 4.2.3.2): the latest an ACK for in-order data waits.
    DelayedAck,
    /// TIME-WAIT's 2×MSL (RFC 9293 §3.4.2).
    TimeWait,
    /// FIN-WAIT-2 of a connection nobody holds any more (Linux's `tcp_fin_timeout`).
    Linger,
    /// Keepalive (RFC 1122 4.2.3.6): the next probe of an idle connection.
    Keepalive,
    /// User timeout (RFC 5482): sent data unacknowledged this long ends the connection.
    UserTimeout,
    /// Pacing: when the next data segment may leave, if the congestion controller
    /// paces (`CongestionControl::pacing_rate`).
    Pace,
}

impl Timer {
    const COUNT: usize = 10;

    fn index(self) -> usize {
        self as usize
    }
}

/// When each of a connection's timers is due; `None` when it is not running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    due: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    /// Start (or restart) `timer` to fire at `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.due[timer.index()] = Some(at);
    }

    /// Start `timer` for `at`, or stop it if `at` is `None`.
    pub fn set_to(&mut self, timer: Timer, at: Option<Instant>) {
        self.due[timer.index()] = at;
    }

    /// Stop `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.due[timer.index()] = None;
    }

    /// When `timer` fires, if it runs.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.due[timer.index()]
    }

    /// Whether `timer` runs.
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// Whether `timer` is due at `now`; if it is, it is stopped (it fired).
    pub fn expire(&mut self, timer: Timer, now: Instant) -> bool {
        let fired = self.get(timer).is_some_and(|at| now >= at);
        if fired {
            self.stop(timer);
        }
        fired
    }

    /// Stop every timer.
    pub fn stop_all(&mut self) {
        self.due = [None; Timer::COUNT];
    }

    /// The earliest running timer's deadline.
    pub fn next(&self) -> Option<Instant> {
        self.due.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn the_next_deadline_is_the_earliest_running_timer() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Retransmit, at(200));
        t.set(Timer::DelayedAck, at(40));
        t.set(Timer::TimeWait, at(60_000));
        assert_eq!(t.next(), Some(at(40)));
        t.stop(Timer::DelayedAck);
        assert_eq!(t.next(), Some(at(200)));
        t.set(Timer::Retransmit, at(400));
        assert_eq!(t.get(Timer::Retransmit), Some(at(400)), "set restarts a running timer");
        t.stop_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn a_timer_expires_once_at_or_after_its_deadline() {
        let mut t = TimerTable::default();
        t.set(Timer::Persist, at(100));
        assert!(!t.expire(Timer::Persist, at(99)), "not yet");
        assert!(t.is_armed(Timer::Persist));
        assert!(t.expire(Timer::Persist, at(100)), "due at its deadline");
        assert!(!t.is_armed(Timer::Persist), "stopped once it fired");
        assert!(!t.expire(Timer::Persist, at(200)), "fires once");
        assert!(!t.expire(Timer::Linger, at(200)), "a stopped timer never fires");
    }
}
