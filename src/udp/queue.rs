//! A socket's bounded receive queue: the "port as a queue" of the classic texts.
//!
//! Datagrams for a port wait here until the program reads them. The queue has two
//! bounds — datagrams and payload bytes — and a datagram that would exceed either is
//! refused whole and counted; the queue never grows past its bound.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::shared::QueueLimit;

/// One received datagram and who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedDatagram {
    pub from: SocketAddr,
    pub data: Bytes,
}

/// A FIFO of whole datagrams with a datagram bound and a byte bound.
#[derive(Debug)]
pub struct RecvQueue {
    items: VecDeque<ReceivedDatagram>,
    bytes: usize,
    limit: QueueLimit,
    /// Datagrams refused because the queue was full (this socket's drop counter).
    pub dropped: u64,
    /// Datagrams accepted into the queue.
    pub received: u64,
}

impl RecvQueue {
    pub fn new(limit: QueueLimit) -> Self {
        RecvQueue { items: VecDeque::new(), bytes: 0, limit, dropped: 0, received: 0 }
    }

    /// Queue a datagram, or refuse it (returning `false`) if either bound would be
    /// exceeded. A zero-length datagram still takes one slot.
    pub fn push(&mut self, datagram: ReceivedDatagram) -> bool {
        let fits = self.items.len() < self.limit.datagrams
            && self.bytes.saturating_add(datagram.data.len()) <= self.limit.bytes;
        if !fits {
            self.dropped += 1;
            return false;
        }
        self.bytes += datagram.data.len();
        self.received += 1;
        self.items.push_back(datagram);
        true
    }

    /// Take the oldest datagram.
    pub fn pop(&mut self) -> Option<ReceivedDatagram> {
        let d = self.items.pop_front()?;
        self.bytes -= d.data.len();
        Some(d)
    }

    /// Change the bounds. Datagrams beyond a smaller bound are dropped (newest first)
    /// and counted, so the queue is within its bound at every moment.
    pub fn set_limit(&mut self, limit: QueueLimit) -> u64 {
        self.limit = limit;
        let mut shed = 0;
        while self.items.len() > limit.datagrams || self.bytes > limit.bytes {
            if let Some(d) = self.items.pop_back() {
                self.bytes -= d.data.len();
                self.received -= 1;
                self.dropped += 1;
                shed += 1;
            }
        }
        shed
    }

    pub fn limit(&self) -> QueueLimit {
        self.limit
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Payload bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dgram(len: usize) -> ReceivedDatagram {
        ReceivedDatagram { from: "198.18.0.1:5000".parse().expect("addr"), data: Bytes::from(vec![7; len]) }
    }

    #[test]
    fn refuses_past_either_bound() {
        let mut q = RecvQueue::new(QueueLimit { datagrams: 2, bytes: 10 });
        assert!(q.push(dgram(4)));
        assert!(!q.push(dgram(7)), "byte bound");
        assert!(q.push(dgram(0)));
        assert!(!q.push(dgram(0)), "datagram bound");
        assert_eq!((q.len(), q.bytes(), q.dropped, q.received), (2, 4, 2, 2));
        assert_eq!(q.pop().map(|d| d.data.len()), Some(4));
        assert!(q.push(dgram(6)));
    }

    #[test]
    fn shrinking_sheds_newest() {
        let mut q = RecvQueue::new(QueueLimit { datagrams: 8, bytes: 100 });
        for n in 1..=4 {
            q.push(dgram(n));
        }
        assert_eq!(q.set_limit(QueueLimit { datagrams: 2, bytes: 100 }), 2);
        assert_eq!(q.pop().map(|d| d.data.len()), Some(1));
        assert_eq!(q.pop().map(|d| d.data.len()), Some(2));
        assert!(q.pop().is_none());
    }

    proptest! {
        #[test]
        fn never_exceeds_bound(ops in proptest::collection::vec(proptest::option::of(0usize..64), 0..200),
                               max_d in 0usize..16, max_b in 0usize..256) {
            let mut q = RecvQueue::new(QueueLimit { datagrams: max_d, bytes: max_b });
            let mut offered = 0u64;
            let mut popped = 0u64;
            for op in ops {
                match op {
                    Some(len) => { q.push(dgram(len)); offered += 1; }
                    None => { if q.pop().is_some() { popped += 1; } }
                }
                prop_assert!(q.len() <= max_d && q.bytes() <= max_b);
            }
            prop_assert_eq!(q.received + q.dropped, offered);
            prop_assert_eq!(q.received, popped + q.len() as u64);
        }
    }
}
