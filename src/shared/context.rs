//! The per-call context: what a protocol layer borrows from the stack while it
//! handles one call (a packet in, a timer, a program's request).
//!
//! The [`Stack`](crate::Stack) owns the counters, the event queue and the verdict
//! slot; it lends them to a layer as one [`Context`] for the length of a call and
//! takes them back. A layer so never needs the `Stack` itself, which keeps the
//! imports of the core pointing one way. Building one is free: four references.

use std::fmt;

use super::drop::DropLog;
use super::{DropReason, Event, EventQueue, RxChecksum};
use crate::counters::Counters;
use crate::time::Instant;

/// The stack's shared state, lent to a layer for one call.
pub struct Context<'a> {
    /// The current time, as the caller of the stack said.
    pub now: Instant,
    /// Every counter of the stack.
    pub counters: &'a mut Counters,
    events: &'a mut EventQueue,
    /// Why the packet being input was dropped, if it was.
    verdict: &'a mut Option<DropReason>,
    /// How often each drop reason was traced lately.
    log: &'a mut DropLog,
    /// What the link said of the transport checksum of the packet being input.
    pub rx_checksum: RxChecksum,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        now: Instant,
        counters: &'a mut Counters,
        events: &'a mut EventQueue,
        verdict: &'a mut Option<DropReason>,
        log: &'a mut DropLog,
    ) -> Self {
        Context { now, counters, events, verdict, log, rx_checksum: RxChecksum::Verify }
    }

    /// The same context for a shorter borrow (to lend it on to a callee that
    /// keeps it in a struct).
    pub(crate) fn reborrow(&mut self) -> Context<'_> {
        Context {
            now: self.now,
            counters: self.counters,
            events: self.events,
            verdict: self.verdict,
            log: self.log,
            rx_checksum: self.rx_checksum,
        }
    }

    /// Tell a program waiting on a socket that something changed.
    pub(crate) fn notify(&mut self, event: Event) {
        self.events.push(event);
    }

    /// A socket is gone: its pending events are of no use any more.
    pub(crate) fn forget(&mut self, event: Event) {
        match event {
            Event::Tcp(handle) => self.events.forget_tcp(handle),
            Event::UdpReadable(handle) | Event::UdpError(handle) => self.events.forget_udp(handle),
            Event::RawReadable(handle) => self.events.forget_raw(handle),
            // A registered protocol's events never wait in this queue.
            Event::Protocol { .. } => {}
        }
    }

    /// The one drop path: count `reason`, trace it with `detail` (the addresses,
    /// ports or ids that say which packet; at most a line a second per reason,
    /// see [`DropLog`]), and — for a reason about the packet being input — make it
    /// the verdict [`Stack::input`](crate::Stack::input) returns. The first
    /// verdict wins: a packet is discarded once, and later code only sees its
    /// consequences.
    pub(crate) fn drop(&mut self, reason: DropReason, detail: fmt::Arguments<'_>) {
        self.drop_many(reason, 1, detail);
    }

    /// [`drop`](Context::drop) for `n` packets at once (datagrams whose
    /// reassembly timed out together).
    pub(crate) fn drop_many(&mut self, reason: DropReason, n: u64, detail: fmt::Arguments<'_>) {
        *reason.counter(self.counters) += n;
        if let Some(repeated) = self.log.admit(reason, self.now, n) {
            tracing::debug!(target: "tunstack::drop", reason = reason.as_str(), counter = reason.counter_name(), n, repeated, %detail, "drop");
        }
        self.note(reason);
    }

    /// A bounded queue refused a packet: [`drop`](Context::drop) for a reason
    /// that is a queue's overflow, traced on `tunstack::queue` with the queue's
    /// length and bound.
    pub(crate) fn overflow(
        &mut self,
        reason: DropReason,
        len: usize,
        limit: impl fmt::Display,
        detail: fmt::Arguments<'_>,
    ) {
        *reason.counter(self.counters) += 1;
        if let Some(repeated) = self.log.admit(reason, self.now, 1) {
            let queue = reason.queue().unwrap_or("unnamed");
            tracing::debug!(target: "tunstack::queue", queue, reason = reason.as_str(), len, %limit, repeated, %detail, "queue overflow");
        }
        self.note(reason);
    }

    fn note(&mut self, reason: DropReason) {
        if reason.is_verdict() && self.verdict.is_none() {
            *self.verdict = Some(reason);
        }
    }
}
