//! The socket events waiting for the program: each at most once, none for a socket
//! that is gone.
//!
//! Events only say "look at this socket again"; two of the same say nothing more
//! than one. So a repeated event is not queued twice, and when a socket is freed
//! its pending events are forgotten. The queue therefore never holds more than
//! three events per live socket, however long a program goes without calling
//! [`Stack::poll_event`](crate::Stack::poll_event) — a bound that needs no setting.

use std::collections::VecDeque;

use super::{HandleSet, RawHandle, TcpHandle, UdpHandle};

/// Something a program waiting on a socket should hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A datagram was queued on this socket.
    UdpReadable(UdpHandle),
    /// An ICMP error is waiting for this (connected) socket.
    UdpError(UdpHandle),
    /// A TCP connection or listener changed: data, window, state, or a connection
    /// waiting for `accept`.
    Tcp(TcpHandle),
    /// A datagram was queued on this raw IP protocol socket.
    RawReadable(RawHandle),
    /// A socket of a protocol registered on the stack changed (see
    /// [`Protocol::poll_event`](crate::proto::Protocol::poll_event)): `socket` is
    /// the protocol's own number for it.
    Protocol { protocol: u8, socket: u64 },
}

/// Pending socket events, in the order they first happened.
#[derive(Debug, Default)]
pub struct EventQueue {
    /// Arrival order; may still hold events forgotten since (skipped by `pop`).
    order: VecDeque<Event>,
    /// The events really pending.
    /// (Keyed by handles: a cheap hash, `handle_hash.rs`; every data segment
    /// queues an event.)
    pending: HandleSet<Event>,
}

impl EventQueue {
    /// Queue `event` unless it is already pending.
    pub(crate) fn push(&mut self, event: Event) {
        if self.pending.insert(event) {
            self.order.push_back(event);
        }
    }

    /// The oldest pending event.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        while let Some(event) = self.order.pop_front() {
            if self.pending.remove(&event) {
                return Some(event);
            }
        }
        None
    }

    /// A TCP connection or listener was freed: its event is of no use any more.
    pub(crate) fn forget_tcp(&mut self, handle: TcpHandle) {
        self.pending.remove(&Event::Tcp(handle));
        self.compact();
    }

    /// A UDP socket was closed.
    pub(crate) fn forget_udp(&mut self, handle: UdpHandle) {
        self.pending.remove(&Event::UdpReadable(handle));
        self.pending.remove(&Event::UdpError(handle));
        self.compact();
    }

    /// A raw socket was closed.
    pub(crate) fn forget_raw(&mut self, handle: RawHandle) {
        self.pending.remove(&Event::RawReadable(handle));
        self.compact();
    }

    /// Drop forgotten events from `order` once they outnumber the pending ones
    /// (amortised O(1) per event).
    fn compact(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.order.retain(|e| pending.contains(e));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_pending_once_and_comes_out_in_order() {
        let mut q = EventQueue::default();
        for h in [1, 2, 1, 1, 3, 2] {
            q.push(Event::Tcp(TcpHandle(h)));
        }
        let out: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, [1, 2, 3].map(|h| Event::Tcp(TcpHandle(h))));
        q.push(Event::Tcp(TcpHandle(1)));
        assert_eq!(q.pop(), Some(Event::Tcp(TcpHandle(1))), "pending again after it was taken");
    }

    #[test]
    fn freed_sockets_leave_nothing_behind() {
        let mut q = EventQueue::default();
        for h in 0..10_000 {
            q.push(Event::Tcp(TcpHandle(h)));
            q.push(Event::UdpReadable(UdpHandle(h)));
            q.push(Event::UdpError(UdpHandle(h)));
            q.forget_tcp(TcpHandle(h));
            q.forget_udp(UdpHandle(h));
        }
        assert!(q.len() <= 64 + 3, "a program that never polls holds {} stale events", q.len());
        assert_eq!(q.pop(), None);
    }
}
