//! What must hold of the UDP table between any two calls (see
//! [`crate::invariants`]): each socket's receive queue within its bound; each
//! bound UDP port held by one socket per family at most, every socket in exactly
//! the places of the families it serves (`ip/dual_stack.rs`) and no port bound
//! without a socket (none leaked); at most `max_udp_sockets` sockets.

use super::UdpTable;
use crate::ip::dual_stack::Family;
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
            let holders = udp.by_port.get(&port).copied().unwrap_or_default();
            for family in [Family::V4, Family::V6] {
                let held = holders.get(family) == Some(*handle);
                ensure!(
                    held == socket.binding.serves(family),
                    "socket {handle:?} ({:?}) on port {port}: {family:?} place {}",
                    socket.binding,
                    if held { "held but not served" } else { "served but not held" }
                );
            }
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
        // Each socket sits in its places; every place must lead to a socket on
        // that port, and every bound port have one: nothing leaked.
        for (port, holders) in &udp.by_port {
            for handle in [holders.v4, holders.v6].into_iter().flatten() {
                let on = udp.sockets.get(&handle).map(|s| s.local_port);
                ensure!(on == Some(*port), "port {port} leads to socket {handle:?}, which is on {on:?}");
            }
            ensure!(holders.v4.is_some() || holders.v6.is_some(), "port {port} indexed with no socket");
        }
        ensure!(
            udp.ports.len() == udp.by_port.len(),
            "{} ports indexed but {} bound (a port leaked)",
            udp.by_port.len(),
            udp.ports.len()
        );
        Ok(())
    }
}
