//! What must hold of the raw table between any two calls (see
//! [`crate::invariants`]): each socket's queue within its bound, each socket
//! indexed under its protocol exactly once, at most `max_raw_sockets` sockets,
//! a connected peer of the socket's own family.

use super::RawTable;
use crate::shared::ensure;

impl RawTable {
    /// `Err` names the first rule broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let max = self.config.max_sockets;
        ensure!(self.sockets.len() <= max, "{} raw sockets, bound {max}", self.sockets.len());
        let indexed: usize = self.by_protocol.values().map(Vec::len).sum();
        ensure!(indexed == self.sockets.len(), "{indexed} raw sockets indexed, {} open", self.sockets.len());
        for (handle, s) in &self.sockets {
            let listed =
                self.by_protocol.get(&s.protocol).is_some_and(|l| l.iter().filter(|&&h| h == *handle).count() == 1);
            ensure!(listed, "raw socket {handle:?} is not indexed once under protocol {}", s.protocol);
            let same_family = s.peer.is_none_or(|p| p.is_ipv4() == s.local.is_ipv4());
            ensure!(same_family, "raw socket {handle:?} on {} is connected to {:?}", s.local, s.peer);
            let limit = s.queue.limit();
            ensure!(
                s.queue.len() <= limit.datagrams && s.queue.bytes() <= limit.bytes,
                "raw socket {handle:?} queues {} datagrams / {} bytes, bound {limit}",
                s.queue.len(),
                s.queue.bytes()
            );
        }
        Ok(())
    }
}
