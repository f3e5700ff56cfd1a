//! What must hold of the UDP table between any two calls (see
//! [`crate::invariants`]): each socket's receive queue within its bound, the
//! sockets and the bound UDP ports one to one (no port leaked, none shared), at
//! most `max_udp_sockets` sockets.

use super::UdpTable;
use crate::shared::ensure;

impl UdpTable {
    /// `Err` names the first rule broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let udp = self;
        let max = self.config.max_sockets;
        ensure!(udp.sockets.len() <= max, "{} sockets, bound {max}", udp.sockets.len());
        for (handle, socket) in &udp.sockets {
            let port = socket.local_port;
            ensure!(udp.ports.is_bound(port), "socket {handle:?} on port {port}, which is not bound");
            ensure!(udp.by_port.get(&port) == Some(handle), "port {port} does not lead to its socket {handle:?}");
            let (limit, queue) = (socket.queue.limit(), &socket.queue);
            ensure!(
                queue.len() <= limit.datagrams && queue.bytes() <= limit.bytes,
                "port {port} queues {} datagrams / {} bytes, bound {} / {}",
                queue.len(),
                queue.bytes(),
                limit.datagrams,
                limit.bytes
            );
        }
        // Each socket's port is bound and leads back to it, so equal counts mean
        // no other port is bound or indexed: nothing leaked.
        ensure!(
            udp.by_port.len() == udp.sockets.len() && udp.ports.len() == udp.sockets.len(),
            "{} sockets but {} ports indexed and {} bound (a port leaked)",
            udp.sockets.len(),
            udp.by_port.len(),
            udp.ports.len()
        );
        Ok(())
    }
}
