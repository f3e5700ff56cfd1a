//! UDP (RFC 768): demultiplexing datagrams to sockets by port, each socket with a
//! bounded receive queue, and sending datagrams out through IP.
//!
//! The UDP port table is its own namespace: UDP port 7 and TCP port 7 are different
//! ports (see [`crate::ports`]).

mod queue;
mod socket;
#[cfg(test)]
mod tests;

pub use queue::{Datagram, RecvQueue};
pub use socket::UdpSocketState;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};

use bytes::Bytes;
use tracing::debug;

use crate::config::QueueLimit;
use crate::icmp::{quoted_udp, CODE_PORT_UNREACHABLE};
use crate::ip::{Datagram as IpDatagram, OutputError};
use crate::ports::{PortConfig, PortTable, Protocol};
use crate::stack::{Event, Stack};
use crate::time::Instant;
use crate::wire::udp::{self, UdpError, MAX_PAYLOAD_V4};

/// Names one UDP socket of a [`Stack`]. Handles are never reused, so a stale
/// handle finds nothing rather than someone else's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle(pub(crate) u64);

/// A UDP socket as listed by [`Stack::udp_sockets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpSocketInfo {
    pub handle: UdpHandle,
    pub local: SocketAddrV4,
    pub peer: Option<SocketAddrV4>,
    pub queued_datagrams: usize,
    pub queued_bytes: usize,
    pub limit: QueueLimit,
    pub received: u64,
    pub dropped: u64,
}

/// All UDP sockets and the UDP port namespace.
#[derive(Debug)]
pub(crate) struct UdpTable {
    pub ports: PortTable,
    pub(crate) sockets: HashMap<UdpHandle, UdpSocketState>,
    pub(crate) by_port: HashMap<u16, UdpHandle>,
    next_handle: u64,
}

impl UdpTable {
    pub fn new(config: PortConfig, seed: u64) -> Self {
        UdpTable {
            ports: PortTable::new(Protocol::Udp, config, seed),
            sockets: HashMap::new(),
            by_port: HashMap::new(),
            next_handle: 1,
        }
    }

    fn get(&mut self, handle: UdpHandle) -> io::Result<&mut UdpSocketState> {
        self.sockets.get_mut(&handle).ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket is closed"))
    }
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "IPv6 is not supported yet")),
    }
}

impl Stack {
    /// A UDP datagram for us (RFC 768).
    pub(crate) fn udp_input(&mut self, now: Instant, ip: &IpDatagram<'_>) {
        let datagram = match udp::parse(ip.src, ip.dst, ip.payload) {
            Ok(d) => d,
            Err(e) => {
                let (counter, reason) = match e {
                    UdpError::BadLength => (&mut self.counters.udp_rx_bad_length, "udp bad length"),
                    UdpError::BadChecksum => (&mut self.counters.udp_rx_bad_checksum, "udp bad checksum"),
                };
                *counter += 1;
                debug!(target: "tunstack::drop", reason, src = %ip.src, "udp drop");
                self.drop_input(reason);
                return;
            }
        };
        self.counters.udp_rx += 1;
        let from = SocketAddrV4::new(ip.src, datagram.src_port);
        let target = self
            .udp
            .by_port
            .get(&datagram.dst_port)
            .copied()
            .filter(|h| self.udp.sockets.get(h).is_some_and(|s| s.peer.is_none_or(|peer| peer == from)));
        let Some(handle) = target else {
            // RFC 1122 4.1.3.1: no one listens → ICMP port unreachable.
            self.counters.udp_rx_no_port += 1;
            debug!(target: "tunstack::drop", reason = "udp no port", port = datagram.dst_port, "udp drop");
            self.drop_input("udp no port");
            self.icmp_send_dest_unreachable(now, CODE_PORT_UNREACHABLE, ip);
            return;
        };
        let Some(socket) = self.udp.sockets.get_mut(&handle) else {
            return;
        };
        let queued =
            socket.queue.push(Datagram { from: SocketAddr::V4(from), data: Bytes::copy_from_slice(datagram.payload) });
        if queued {
            self.counters.udp_rx_delivered += 1;
            self.events.push(Event::UdpReadable(handle));
        } else {
            self.counters.udp_rx_queue_full += 1;
            let (len, limit) = (socket.queue.len(), socket.queue.limit());
            debug!(target: "tunstack::queue", queue = "udp receive", reason = "udp queue full", port = datagram.dst_port, len, limit = ?limit, "queue overflow");
            self.drop_input("udp queue full");
        }
    }

    /// An ICMP destination-unreachable quoting one of our UDP datagrams.
    pub(crate) fn udp_icmp_error(&mut self, _now: Instant, code: u8, quoted: &[u8]) {
        let Some(q) = quoted_udp(quoted) else { return };
        if q.src != self.config.addr {
            return;
        }
        let kind = match code {
            0 => io::ErrorKind::NetworkUnreachable,
            1 => io::ErrorKind::HostUnreachable,
            CODE_PORT_UNREACHABLE => io::ErrorKind::ConnectionRefused,
            _ => return,
        };
        let Some(&handle) = self.udp.by_port.get(&q.src_port) else {
            return;
        };
        let Some(socket) = self.udp.sockets.get_mut(&handle) else {
            return;
        };
        if socket.peer == Some(SocketAddrV4::new(q.dst, q.dst_port)) {
            socket.pending_error = Some(kind);
            self.events.push(Event::UdpError(handle));
        }
    }

    /// Open a UDP socket on `addr` (port 0: an ephemeral port). The address must be
    /// ours or unspecified.
    pub fn udp_bind(&mut self, addr: SocketAddr) -> io::Result<UdpHandle> {
        let addr = v4(addr)?;
        if !addr.ip().is_unspecified() && *addr.ip() != self.config.addr {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not this stack's address", addr.ip()),
            ));
        }
        if self.udp.sockets.len() >= self.config.max_udp_sockets {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "UDP socket limit reached (max_udp_sockets)"));
        }
        let port = self.udp.ports.bind(addr.port())?;
        let handle = UdpHandle(self.udp.next_handle);
        self.udp.next_handle += 1;
        self.udp.sockets.insert(
            handle,
            UdpSocketState {
                local_port: port,
                peer: None,
                queue: RecvQueue::new(self.config.udp_recv_queue),
                pending_error: None,
            },
        );
        self.udp.by_port.insert(port, handle);
        Ok(handle)
    }

    /// Close a socket and release its port. Datagrams still queued are discarded.
    pub fn udp_close(&mut self, handle: UdpHandle) {
        if let Some(socket) = self.udp.sockets.remove(&handle) {
            self.events.forget_udp(handle);
            self.udp.by_port.remove(&socket.local_port);
            self.udp.ports.release(socket.local_port);
        }
    }

    /// Fix the peer: `udp_send` goes there and only its datagrams are received.
    pub fn udp_connect(&mut self, handle: UdpHandle, peer: SocketAddr) -> io::Result<()> {
        let peer = v4(peer)?;
        if peer.port() == 0 || peer.ip().is_unspecified() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot connect to port 0 or 0.0.0.0"));
        }
        let socket = self.udp.get(handle)?;
        socket.peer = Some(peer);
        socket.pending_error = None;
        Ok(())
    }

    /// Send one datagram to `dst`. Errors: `InvalidInput` for a payload larger than
    /// 65,507 bytes or port 0, `WouldBlock` while the transmit queue is full, a
    /// pending ICMP error of a connected socket.
    pub fn udp_send_to(&mut self, handle: UdpHandle, payload: &[u8], dst: SocketAddr) -> io::Result<usize> {
        let dst = v4(dst)?;
        if payload.len() > MAX_PAYLOAD_V4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("datagram of {} bytes is larger than UDP over IPv4 allows ({MAX_PAYLOAD_V4})", payload.len()),
            ));
        }
        if dst.port() == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot send to port 0"));
        }
        let src = self.config.addr;
        let socket = self.udp.get(handle)?;
        if let Some(kind) = socket.pending_error.take() {
            return Err(icmp_error(kind));
        }
        let src_port = socket.local_port;
        let mut segment = self.out.buffer();
        if udp::emit(&mut segment, src, *dst.ip(), src_port, dst.port(), payload).is_none() {
            self.out.recycle(segment);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large"));
        }
        let sent = self.out.send(&self.config, &mut self.counters, *dst.ip(), crate::ip::PROTO_UDP, &segment);
        self.out.recycle(segment);
        match sent {
            Ok(()) => {
                self.counters.udp_tx += 1;
                Ok(payload.len())
            }
            Err(OutputError::QueueFull) => Err(io::Error::new(io::ErrorKind::WouldBlock, "transmit queue full")),
            Err(OutputError::TooBig) => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large for this MTU"))
            }
        }
    }

    /// Send to the connected peer.
    pub fn udp_send(&mut self, handle: UdpHandle, payload: &[u8]) -> io::Result<usize> {
        let peer = self
            .udp
            .get(handle)?
            .peer
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket is not connected"))?;
        self.udp_send_to(handle, payload, SocketAddr::V4(peer))
    }

    /// Take the oldest queued datagram; `WouldBlock` if none. A pending ICMP error
    /// is returned first, once.
    pub fn udp_recv(&mut self, handle: UdpHandle) -> io::Result<Datagram> {
        let socket = self.udp.get(handle)?;
        if let Some(kind) = socket.pending_error.take() {
            return Err(icmp_error(kind));
        }
        socket.queue.pop().ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }

    /// Whether a datagram or an error is waiting.
    pub fn udp_can_recv(&self, handle: UdpHandle) -> bool {
        self.udp.sockets.get(&handle).is_none_or(|s| !s.queue.is_empty() || s.pending_error.is_some())
    }

    /// Change the receive queue's bounds (datagrams and bytes). Datagrams beyond a
    /// smaller bound are dropped and counted.
    pub fn udp_set_recv_queue(&mut self, handle: UdpHandle, limit: QueueLimit) -> io::Result<()> {
        let shed = self.udp.get(handle)?.queue.set_limit(limit);
        self.counters.udp_rx_queue_full += shed;
        Ok(())
    }

    pub fn udp_local_addr(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        let socket = self.udp.sockets.get(&handle).ok_or(io::ErrorKind::NotConnected)?;
        Ok(SocketAddr::V4(SocketAddrV4::new(self.config.addr, socket.local_port)))
    }

    pub fn udp_peer_addr(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        let socket = self.udp.sockets.get(&handle).ok_or(io::ErrorKind::NotConnected)?;
        socket
            .peer
            .map(SocketAddr::V4)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket is not connected"))
    }

    /// Every open UDP socket, ordered by port.
    pub fn udp_sockets(&self) -> Vec<UdpSocketInfo> {
        let mut list: Vec<_> = self
            .udp
            .sockets
            .iter()
            .map(|(&handle, s)| UdpSocketInfo {
                handle,
                local: SocketAddrV4::new(self.config.addr, s.local_port),
                peer: s.peer,
                queued_datagrams: s.queue.len(),
                queued_bytes: s.queue.bytes(),
                limit: s.queue.limit(),
                received: s.queue.received,
                dropped: s.queue.dropped,
            })
            .collect();
        list.sort_by_key(|i| i.local.port());
        list
    }
}

fn icmp_error(kind: io::ErrorKind) -> io::Error {
    let what = match kind {
        io::ErrorKind::ConnectionRefused => "peer answered ICMP port unreachable",
        io::ErrorKind::HostUnreachable => "peer answered ICMP host unreachable",
        _ => "peer answered ICMP network unreachable",
    };
    io::Error::new(kind, what)
}
