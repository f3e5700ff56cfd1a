//! Waking the blocked socket calls that an event concerns, and (almost) no others.
//!
//! A blocking call (`read`, `accept`, …) that the core answers with `WouldBlock`
//! sleeps on a condition variable until the stack changes. With a single condition
//! variable every event — one ACK on one of 10,000 connections — would wake every
//! blocked thread, each of which takes the stack lock only to find nothing for it:
//! the cost of one event grows with the number of connections. Here the sockets are
//! spread over [`SHARDS`] condition variables by handle; an [`Event`] wakes only the
//! shard of the socket it names. Sockets that share a shard may wake for each
//! other's events, which is harmless: a woken call re-asks the core and sleeps again.

use parking_lot::Condvar;

use crate::shared::{Event, RawHandle, TcpHandle, UdpHandle};

/// Condition variables the sockets are spread over (8 bytes each).
const SHARDS: usize = 256;

/// The socket a blocked call waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WaitOn {
    Tcp(TcpHandle),
    Udp(UdpHandle),
    Raw(RawHandle),
    /// A socket of a registered protocol: its number and the protocol's own
    /// number for the socket.
    Protocol(u8, u64),
}

impl WaitOn {
    fn shard(self) -> usize {
        // Handles are allocated in sequence, so the low bits spread them evenly.
        let id = match self {
            WaitOn::Tcp(h) => h.0,
            WaitOn::Udp(h) => h.0,
            WaitOn::Raw(h) => h.0,
            WaitOn::Protocol(number, socket) => socket.wrapping_add(u64::from(number)),
        };
        (id % SHARDS as u64) as usize
    }
}

impl From<&Event> for WaitOn {
    fn from(event: &Event) -> Self {
        match *event {
            Event::Tcp(h) => WaitOn::Tcp(h),
            Event::UdpReadable(h) | Event::UdpError(h) => WaitOn::Udp(h),
            Event::RawReadable(h) => WaitOn::Raw(h),
            Event::Protocol { protocol, socket } => WaitOn::Protocol(protocol, socket),
        }
    }
}

/// One condition variable per shard of sockets.
pub(crate) struct Wakers {
    shards: Box<[Condvar]>,
}

impl Wakers {
    pub(crate) fn new() -> Self {
        Wakers { shards: (0..SHARDS).map(|_| Condvar::new()).collect() }
    }

    /// The condition variable a call blocked on `on` sleeps on.
    pub(crate) fn of(&self, on: WaitOn) -> &Condvar {
        &self.shards[on.shard()]
    }

    /// Wake the calls that may be waiting for `event`.
    pub(crate) fn wake(&self, event: &Event) {
        self.of(WaitOn::from(event)).notify_all();
    }

    /// Wake every blocked call (shutdown).
    pub(crate) fn wake_all(&self) {
        for shard in self.shards.iter() {
            shard.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_maps_to_the_shard_of_the_socket_it_names() {
        let tcp = TcpHandle(7);
        let udp = UdpHandle(300);
        assert_eq!(WaitOn::from(&Event::Tcp(tcp)).shard(), WaitOn::Tcp(tcp).shard());
        assert_eq!(WaitOn::from(&Event::UdpError(udp)).shard(), WaitOn::Udp(udp).shard());
        assert_ne!(WaitOn::Tcp(TcpHandle(1)).shard(), WaitOn::Tcp(TcpHandle(2)).shard());
    }
}
