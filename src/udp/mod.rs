//! UDP (RFC 768): demultiplexing datagrams to sockets by port, each socket with a
//! bounded receive queue, and sending datagrams out through IP.
//!
//! The UDP port table is its own namespace: UDP port 7 and TCP port 7 are different
//! ports (see [`crate::ports`]).

mod invariants;
mod queue;
mod socket;
#[cfg(test)]
mod tests;

pub use queue::{ReceivedDatagram, RecvQueue};
pub use socket::UdpSocketState;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use bytes::Bytes;

use crate::ip::{Datagram, IpOutput, OutputError};
use crate::ports::{PortConfig, PortTable, Protocol};
use crate::shared::{Context, DropReason, Event, QueueLimit, UdpHandle};
use crate::wire::icmp::{CODE_HOST_UNREACHABLE, CODE_NET_UNREACHABLE, CODE_PORT_UNREACHABLE};
use crate::wire::ip_protocol::UDP as PROTO_UDP;
use crate::wire::udp::{self, UdpError, MAX_PAYLOAD_V4};

/// A UDP socket as listed by [`Stack::udp_sockets`](crate::Stack::udp_sockets).
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

/// What the UDP table needs to know of the stack: fixed when the stack is made.
#[derive(Clone, Debug)]
pub(crate) struct UdpConfig {
    /// Our address: the only one a socket may bind besides 0.0.0.0.
    pub addr: Ipv4Addr,
    /// Most sockets open at once.
    pub max_sockets: usize,
    /// The receive queue bound a new socket starts with.
    pub recv_queue: QueueLimit,
    /// The UDP port namespace's settings.
    pub ports: PortConfig,
    /// Seed of the ephemeral port allocator.
    pub seed: u64,
}

/// What became of a datagram given to [`UdpTable::input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Delivery {
    /// Queued on a socket, or dropped (counted, with its reason in the context).
    Done,
    /// No socket on the port: RFC 1122 4.1.3.1 asks for an ICMP port unreachable,
    /// which the stack sends (UDP does not speak ICMP itself).
    PortUnreachable,
}

/// All UDP sockets and the UDP port namespace.
#[derive(Debug)]
pub(crate) struct UdpTable {
    config: UdpConfig,
    ports: PortTable,
    sockets: HashMap<UdpHandle, UdpSocketState>,
    by_port: HashMap<u16, UdpHandle>,
    next_handle: u64,
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "IPv6 is not supported yet")),
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "UDP socket is closed")
}

impl UdpTable {
    pub fn new(config: UdpConfig) -> Self {
        UdpTable {
            ports: PortTable::new(Protocol::Udp, config.ports.clone(), config.seed),
            sockets: HashMap::new(),
            by_port: HashMap::new(),
            next_handle: 1,
            config,
        }
    }

    fn get(&mut self, handle: UdpHandle) -> io::Result<&mut UdpSocketState> {
        self.sockets.get_mut(&handle).ok_or_else(closed)
    }

    /// The UDP port namespace.
    pub fn ports(&self) -> &PortTable {
        &self.ports
    }

    /// The port namespace, for tests that break it on purpose.
    #[cfg(test)]
    pub(crate) fn ports_mut(&mut self) -> &mut PortTable {
        &mut self.ports
    }

    /// A UDP datagram for us (RFC 768).
    pub fn input(&mut self, ctx: &mut Context<'_>, ip: &Datagram<'_>) -> Delivery {
        let datagram = match udp::parse(ip.src, ip.dst, ip.payload) {
            Ok(d) => d,
            Err(e) => {
                let reason = match e {
                    UdpError::BadLength => DropReason::UdpBadLength,
                    UdpError::BadChecksum => DropReason::UdpBadChecksum,
                };
                ctx.drop(reason, format_args!("src={}", ip.src));
                return Delivery::Done;
            }
        };
        ctx.counters.udp_rx += 1;
        let from = SocketAddrV4::new(ip.src, datagram.src_port);
        let target = self
            .by_port
            .get(&datagram.dst_port)
            .copied()
            .filter(|h| self.sockets.get(h).is_some_and(|s| s.peer.is_none_or(|peer| peer == from)));
        let Some(handle) = target else {
            ctx.drop(DropReason::UdpNoPort, format_args!("port={}", datagram.dst_port));
            return Delivery::PortUnreachable;
        };
        let Some(socket) = self.sockets.get_mut(&handle) else {
            return Delivery::Done;
        };
        let received = ReceivedDatagram { from: SocketAddr::V4(from), data: Bytes::copy_from_slice(datagram.payload) };
        if socket.queue.push(received) {
            ctx.counters.udp_rx_delivered += 1;
            ctx.notify(Event::UdpReadable(handle));
        } else {
            let (len, limit) = (socket.queue.len(), socket.queue.limit());
            ctx.overflow(DropReason::UdpQueueFull, len, limit, format_args!("port={}", datagram.dst_port));
        }
        Delivery::Done
    }

    /// An ICMP destination unreachable with `code`, quoting a datagram we sent
    /// from `src`:`local_port` to `peer`. RFC 1122 4.1.3.3: the error goes to the
    /// application; like Linux, only a socket connected to that peer gets it.
    pub fn dest_unreachable(
        &mut self,
        ctx: &mut Context<'_>,
        code: u8,
        src: Ipv4Addr,
        local_port: u16,
        peer: SocketAddrV4,
    ) {
        if src != self.config.addr {
            return;
        }
        let kind = match code {
            CODE_NET_UNREACHABLE => io::ErrorKind::NetworkUnreachable,
            CODE_HOST_UNREACHABLE => io::ErrorKind::HostUnreachable,
            CODE_PORT_UNREACHABLE => io::ErrorKind::ConnectionRefused,
            _ => return,
        };
        let Some(&handle) = self.by_port.get(&local_port) else {
            return;
        };
        let Some(socket) = self.sockets.get_mut(&handle) else {
            return;
        };
        if socket.peer == Some(peer) {
            socket.pending_error = Some(kind);
            ctx.notify(Event::UdpError(handle));
        }
    }

    /// Open a socket on `addr` (port 0: an ephemeral port). The address must be
    /// ours or unspecified.
    pub fn bind(&mut self, addr: SocketAddr) -> io::Result<UdpHandle> {
        let addr = v4(addr)?;
        if !addr.ip().is_unspecified() && *addr.ip() != self.config.addr {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not this stack's address", addr.ip()),
            ));
        }
        if self.sockets.len() >= self.config.max_sockets {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "UDP socket limit reached (max_udp_sockets)"));
        }
        let port = self.ports.bind(addr.port())?;
        let handle = UdpHandle(self.next_handle);
        self.next_handle += 1;
        let socket = UdpSocketState {
            local_port: port,
            peer: None,
            queue: RecvQueue::new(self.config.recv_queue),
            pending_error: None,
        };
        self.sockets.insert(handle, socket);
        self.by_port.insert(port, handle);
        Ok(handle)
    }

    /// Close a socket and release its port. Returns whether it was open.
    pub fn close(&mut self, handle: UdpHandle) -> bool {
        let Some(socket) = self.sockets.remove(&handle) else {
            return false;
        };
        self.by_port.remove(&socket.local_port);
        self.ports.release(socket.local_port);
        true
    }

    /// Fix the peer: `send` goes there and only its datagrams are received.
    pub fn connect(&mut self, handle: UdpHandle, peer: SocketAddr) -> io::Result<()> {
        let peer = v4(peer)?;
        if peer.port() == 0 || peer.ip().is_unspecified() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot connect to port 0 or 0.0.0.0"));
        }
        let socket = self.get(handle)?;
        socket.peer = Some(peer);
        socket.pending_error = None;
        Ok(())
    }

    /// Send one datagram to `dst` through `out`.
    pub fn send_to(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: UdpHandle,
        payload: &[u8],
        dst: SocketAddr,
    ) -> io::Result<usize> {
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
        let socket = self.get(handle)?;
        if let Some(kind) = socket.pending_error.take() {
            return Err(icmp_error(kind));
        }
        let src_port = socket.local_port;
        let mut segment = out.buffer();
        if udp::emit(&mut segment, src, *dst.ip(), src_port, dst.port(), payload).is_none() {
            out.recycle(segment);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large"));
        }
        let sent = out.send(ctx.counters, *dst.ip(), PROTO_UDP, &segment);
        out.recycle(segment);
        match sent {
            Ok(()) => {
                ctx.counters.udp_tx += 1;
                Ok(payload.len())
            }
            Err(OutputError::QueueFull) => Err(io::Error::new(io::ErrorKind::WouldBlock, "transmit queue full")),
            Err(OutputError::TooBig) => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large for this MTU"))
            }
        }
    }

    /// The connected peer, or `NotConnected`.
    pub fn peer(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        let socket = self.sockets.get(&handle).ok_or(io::ErrorKind::NotConnected)?;
        socket
            .peer
            .map(SocketAddr::V4)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "UDP socket is not connected"))
    }

    /// Take the oldest queued datagram; `WouldBlock` if none. A pending ICMP error
    /// is returned first, once.
    pub fn recv(&mut self, handle: UdpHandle) -> io::Result<ReceivedDatagram> {
        let socket = self.get(handle)?;
        if let Some(kind) = socket.pending_error.take() {
            return Err(icmp_error(kind));
        }
        socket.queue.pop().ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }

    /// Whether a datagram or an error is waiting (or the socket is gone).
    pub fn can_recv(&self, handle: UdpHandle) -> bool {
        self.sockets.get(&handle).is_none_or(|s| !s.queue.is_empty() || s.pending_error.is_some())
    }

    /// Change the receive queue's bounds; datagrams beyond a smaller bound are
    /// dropped and counted.
    pub fn set_recv_queue(&mut self, ctx: &mut Context<'_>, handle: UdpHandle, limit: QueueLimit) -> io::Result<()> {
        let shed = self.get(handle)?.queue.set_limit(limit);
        ctx.counters.udp_rx_queue_full += shed;
        Ok(())
    }

    pub fn local_addr(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        let socket = self.sockets.get(&handle).ok_or(io::ErrorKind::NotConnected)?;
        Ok(SocketAddr::V4(SocketAddrV4::new(self.config.addr, socket.local_port)))
    }

    /// Every open socket, ordered by port.
    pub fn sockets(&self) -> Vec<UdpSocketInfo> {
        let mut list: Vec<_> = self
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
