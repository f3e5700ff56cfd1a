//! The time trace events happen at, when it is virtual.
//!
//! A script or a simulation runs minutes of TCP timers in milliseconds, so the
//! wall clock says nothing about when a trace event (a state change, a
//! retransmission) happened. Whoever owns a virtual clock — the script runner,
//! the simulator — calls [`set`] as its clock moves; a trace formatter (the
//! `tunstack` command's, and its `--explain` narrator) calls [`now`] and stamps
//! events with it, falling back to the wall clock when it is `None`.
//!
//! It is a thread-local: the clock of the thread that runs the stack, which is
//! the thread that emits the stack's trace events. The core never reads it.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static NOW: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// This thread's virtual clock now reads `now` (since its run started).
pub fn set(now: Duration) {
    NOW.with(|cell| cell.set(Some(now)));
}

/// This thread's virtual time, if something on it keeps one.
pub fn now() -> Option<Duration> {
    NOW.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_thread() {
        set(Duration::from_millis(400));
        assert_eq!(now(), Some(Duration::from_millis(400)));
        assert_eq!(std::thread::spawn(now).join().ok(), Some(None));
    }
}
