//! The TCP table's timer set: every connection with a deadline sits in one
//! ordered set under `(deadline, handle)`, so the stack's next deadline is the
//! set's first entry (O(1)) and moving a connection's deadline costs O(log n).
//!
//! A connection's own timers are in its [`TimerTable`](super::timer_table); the
//! set holds only the earliest of them, re-read after every event the connection
//! handles ([`TcpTable::reschedule`]).

use super::TcpTable;
use crate::ip::IpOutput;
use crate::shared::{Context, TcpHandle};
use crate::time::Instant;

impl TcpTable {
    /// The earliest deadline of any connection.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Put `handle` in the timer set under its current deadline.
    pub(super) fn reschedule(&mut self, handle: TcpHandle) {
        let Some(tcb) = self.conns.get_mut(&handle) else {
            return;
        };
        let deadline = tcb.deadline();
        if tcb.scheduled == deadline {
            return;
        }
        if let Some(old) = tcb.scheduled.take() {
            self.timers.remove(&(old, handle));
        }
        if let Some(new) = deadline {
            self.timers.insert((new, handle));
        }
        tcb.scheduled = deadline;
    }

    /// Run every TCP timer due at `ctx.now`.
    pub fn on_timeout(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput) {
        // Take the due connections first and run each once: a connection that is
        // somehow still due afterwards waits for the next call instead of
        // spinning this one forever.
        let mut due = Vec::new();
        while let Some(&(deadline, handle)) = self.timers.first() {
            if deadline > ctx.now {
                break;
            }
            self.timers.pop_first();
            if let Some(tcb) = self.conns.get_mut(&handle) {
                tcb.scheduled = None;
            }
            due.push(handle);
        }
        for handle in due {
            self.with(ctx, out, handle, |tcb, ctx| {
                tcb.on_timer(ctx);
                tcb.output(ctx);
            });
        }
    }
}
