//! The 4-tuple index of TCP demultiplexing — (local port, remote address) →
//! connection — with a one-entry cache in front of it.
//!
//! Every arriving segment is looked up here (RFC 9293 §3.10.7: find the
//! connection the segment belongs to). The index is a `HashMap` with std's keyed
//! SipHash, since the remote half of the key comes from the network and an
//! unkeyed hash would let a peer aim its SYNs at one bucket. SipHash costs a
//! few tens of nanoseconds a lookup, though, and during a transfer nearly every
//! segment is for the same connection as the one before it. So, as 4.4BSD's
//! `tcp_input` kept `tcp_last_inpcb`, the last hit is remembered and compared
//! first: a bulk transfer then hashes only when the connection changes.
//!
//! The cache never answers for a tuple that is no longer in the index: it is
//! emptied whenever its entry is removed or replaced. Cost: one key and handle
//! (about 40 bytes); bound: the index's, `TcpConfig::max_connections`.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;

use crate::shared::TcpHandle;

/// (local port, remote address): with one local address per family, the
/// 4-tuple of RFC 9293 §3.3.
pub(crate) type Tuple = (u16, SocketAddr);

/// The index and its one-entry cache.
#[derive(Debug, Default)]
pub(crate) struct TupleMap {
    map: HashMap<Tuple, TcpHandle>,
    /// The last tuple found, and its connection.
    last: Cell<Option<(Tuple, TcpHandle)>>,
}

impl TupleMap {
    /// The connection of `tuple`, if any.
    pub(crate) fn get(&self, tuple: &Tuple) -> Option<TcpHandle> {
        if let Some((cached, handle)) = self.last.get() {
            if cached == *tuple {
                return Some(handle);
            }
        }
        let handle = *self.map.get(tuple)?;
        self.last.set(Some((*tuple, handle)));
        Some(handle)
    }

    /// Index `handle` under `tuple` (replacing what was there).
    pub(crate) fn insert(&mut self, tuple: Tuple, handle: TcpHandle) {
        self.forget_cached(&tuple);
        self.map.insert(tuple, handle);
    }

    /// Remove `tuple` from the index.
    pub(crate) fn remove(&mut self, tuple: &Tuple) {
        self.forget_cached(tuple);
        self.map.remove(tuple);
    }

    /// Every indexed tuple and its connection (for the invariant checks).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Tuple, &TcpHandle)> {
        self.map.iter()
    }

    fn forget_cached(&mut self, tuple: &Tuple) {
        if self.last.get().is_some_and(|(cached, _)| cached == *tuple) {
            self.last.set(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(port: u16) -> Tuple {
        (80, SocketAddr::from(([198, 18, 0, 1], port)))
    }

    #[test]
    fn a_removed_tuple_is_not_answered_from_the_cache() {
        let (a, b) = (TcpHandle(1), TcpHandle(2));
        let mut map = TupleMap::default();
        map.insert(tuple(1), a);
        assert_eq!(map.get(&tuple(1)), Some(a), "found, and now cached");
        map.remove(&tuple(1));
        assert_eq!(map.get(&tuple(1)), None, "the cache forgot it with the index");
        map.insert(tuple(1), a);
        assert_eq!(map.get(&tuple(1)), Some(a));
        map.insert(tuple(1), b);
        assert_eq!(map.get(&tuple(1)), Some(b), "a replaced entry is not answered with the old handle");
        map.insert(tuple(2), a);
        assert_eq!((map.get(&tuple(2)), map.get(&tuple(1))), (Some(a), Some(b)), "two tuples alternate");
        assert_eq!(map.iter().count(), 2);
    }
}
