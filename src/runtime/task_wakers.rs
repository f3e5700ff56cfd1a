//! Waking async tasks: `std::task::Waker`s registered per socket and direction.
//!
//! The async API (`crate::aio`) polls the core like the blocking API calls it,
//! and when the answer is "not yet" (`WouldBlock`) it leaves the task's
//! [`Waker`] here, under the socket and the direction it waits for (reading,
//! accepting; or writing, connecting). When the core reports an [`Event`] for
//! that socket, the wakers registered for it are taken and woken, and the task
//! polls again — the way smoltcp's `register_recv_waker`/`register_send_waker`
//! and embassy-net work, but outside the sans-IO core, which only names the
//! socket that changed.
//!
//! No wake-up can be lost: a task registers while it holds the stack lock, in
//! the same critical section in which the core said "not yet", and events are
//! published under that lock too (`Inner::publish`). A TCP event does not say
//! which direction changed, so it wakes both; a task woken for nothing polls,
//! hears "not yet" again and registers again.
//!
//! Bounds and cost: one entry per socket with a waiting task, two wakers each
//! (a newer registration replaces the older, as one task at a time waits per
//! direction, like tokio's `poll_read`). Registering and waking are O(1) hash
//! operations on the handle; nothing is allocated when no async task waits.

use std::collections::HashMap;
use std::task::Waker;

use super::WaitOn;
use crate::shared::Event;

/// Which way a task waits on a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Data, a datagram, a connection to accept, or an error.
    Read,
    /// Room in the send buffer, or the end of a handshake.
    Write,
}

/// The tasks waiting on one socket.
#[derive(Default)]
struct Waiting {
    read: Option<Waker>,
    write: Option<Waker>,
}

/// Every task waiting on a socket of this stack.
#[derive(Default)]
pub(crate) struct TaskWakers {
    waiting: HashMap<WaitOn, Waiting>,
}

impl TaskWakers {
    /// Wake `waker` at the next event that names `on`.
    pub(crate) fn register(&mut self, on: WaitOn, direction: Direction, waker: &Waker) {
        let waiting = self.waiting.entry(on).or_default();
        let slot = match direction {
            Direction::Read => &mut waiting.read,
            Direction::Write => &mut waiting.write,
        };
        match slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Wake the tasks waiting on the socket `event` names.
    pub(crate) fn wake(&mut self, event: &Event) {
        if self.waiting.is_empty() {
            return;
        }
        if let Some(waiting) = self.waiting.remove(&WaitOn::from(event)) {
            waiting.read.into_iter().chain(waiting.write).for_each(Waker::wake);
        }
    }

    /// Wake every waiting task (shutdown: each polls and hears that the runtime
    /// stopped).
    pub(crate) fn wake_all(&mut self) {
        for (_, waiting) in self.waiting.drain() {
            waiting.read.into_iter().chain(waiting.write).for_each(Waker::wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::{TcpHandle, UdpHandle};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn an_event_wakes_the_tasks_of_its_socket_once_and_no_others() {
        let mut w = TaskWakers::default();
        let (reader, read_waker) = counting();
        let (writer, write_waker) = counting();
        let (other, other_waker) = counting();
        w.register(WaitOn::Tcp(TcpHandle(1)), Direction::Read, &read_waker);
        w.register(WaitOn::Tcp(TcpHandle(1)), Direction::Write, &write_waker);
        w.register(WaitOn::Udp(UdpHandle(1)), Direction::Read, &other_waker);
        w.wake(&Event::Tcp(TcpHandle(1)));
        w.wake(&Event::Tcp(TcpHandle(1)));
        let counts = [&reader, &writer, &other].map(|c| c.0.load(Ordering::SeqCst));
        assert_eq!(counts, [1, 1, 0], "both directions once; the UDP socket of the same number not at all");
        w.wake_all();
        assert_eq!(other.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_newer_registration_replaces_the_older() {
        let mut w = TaskWakers::default();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let on = WaitOn::Udp(UdpHandle(4));
        w.register(on, Direction::Read, &first_waker);
        w.register(on, Direction::Read, &second_waker);
        w.wake(&Event::UdpReadable(UdpHandle(4)));
        assert_eq!((first.0.load(Ordering::SeqCst), second.0.load(Ordering::SeqCst)), (0, 1));
    }
}
