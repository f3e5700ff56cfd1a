//! Raw IP protocol sockets: a program speaks an IP protocol of its own — RFC
//! 3692's experimental numbers 253 and 254, say — through the stack's IP layer.
//!
//! The semantics are Linux's `SOCK_RAW` for one protocol number: a socket bound
//! to protocol P receives every whole datagram of protocol P addressed to us (after
//! IP's validation and reassembly), a copy each when several are bound; it may
//! narrow that to one local address (`bind`) and one peer (`connect`). What it
//! sends goes out through the stack's own IP output — our address as source,
//! fragmentation to the MTU, the counters, the capture and the fault injector.
//! By default a program reads the payload; with [`RawTable::set_header_included`]
//! it reads the IP header too (a rebuilt one for a reassembled datagram).
//!
//! Each socket has the same bounded queue as a UDP port; a datagram finding it
//! full is dropped and counted (`raw_rx_queue_full`, and the socket's drops). A
//! datagram of a protocol nobody has bound is answered with ICMP protocol
//! unreachable by the stack. The protocols the stack speaks itself — ICMP, TCP,
//! UDP — cannot be bound.

mod invariants;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use bytes::{Bytes, BytesMut};

use crate::ip::{check_program_protocol, Datagram, IpOutput, OutputError};
use crate::shared::{Context, DropReason, Event, QueueLimit, RawHandle, ReceivedDatagram, RecvQueue};
use crate::wire::ipv4::{self, Ipv4Repr, MIN_HEADER_LEN};

/// What the raw table needs to know of the stack.
#[derive(Clone, Debug)]
pub(crate) struct RawConfig {
    /// Our address.
    pub addr: Ipv4Addr,
    /// Most raw sockets open at once.
    pub max_sockets: usize,
    /// The receive queue bound a new socket starts with.
    pub recv_queue: QueueLimit,
}

/// A raw socket as listed by [`Stack::raw_sockets`](crate::Stack::raw_sockets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSocketInfo {
    pub handle: RawHandle,
    /// The IP protocol number it speaks.
    pub protocol: u8,
    /// The local address it is bound to (unspecified: every address of ours).
    pub local: Ipv4Addr,
    pub peer: Option<Ipv4Addr>,
    pub queued_datagrams: usize,
    pub queued_bytes: usize,
    pub limit: QueueLimit,
    pub received: u64,
    pub dropped: u64,
}

/// One raw socket.
#[derive(Debug)]
struct RawSocket {
    protocol: u8,
    local: Ipv4Addr,
    peer: Option<Ipv4Addr>,
    header_included: bool,
    queue: RecvQueue,
}

impl RawSocket {
    /// Whether a datagram from `src` to `dst` is this socket's.
    fn wants(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        (self.local.is_unspecified() || self.local == dst) && self.peer.is_none_or(|p| p == src)
    }
}

/// What became of a datagram given to [`RawTable::input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum RawDelivery {
    /// At least one socket took it (or dropped it, counted, its queue full).
    Taken,
    /// No socket wants it: the stack answers protocol unreachable.
    Nobody,
}

/// Every raw socket, by handle and by protocol.
#[derive(Debug)]
pub(crate) struct RawTable {
    config: RawConfig,
    sockets: HashMap<RawHandle, RawSocket>,
    /// Protocol → its sockets, in the order they were opened.
    by_protocol: HashMap<u8, Vec<RawHandle>>,
    next_handle: u64,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "raw socket is closed")
}

impl RawTable {
    pub fn new(config: RawConfig) -> Self {
        RawTable { config, sockets: HashMap::new(), by_protocol: HashMap::new(), next_handle: 1 }
    }

    /// Open a socket for IP protocol `protocol`, receiving datagrams addressed
    /// to `local` (ours, or unspecified for any).
    pub fn bind(&mut self, protocol: u8, local: Ipv4Addr) -> io::Result<RawHandle> {
        check_program_protocol(protocol)?;
        if !local.is_unspecified() && local != self.config.addr {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{local} is not this stack's address"),
            ));
        }
        if self.sockets.len() >= self.config.max_sockets {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "raw socket limit reached (max_raw_sockets)"));
        }
        let handle = RawHandle(self.next_handle);
        self.next_handle += 1;
        let socket = RawSocket {
            protocol,
            local,
            peer: None,
            header_included: false,
            queue: RecvQueue::new(self.config.recv_queue),
        };
        self.sockets.insert(handle, socket);
        self.by_protocol.entry(protocol).or_default().push(handle);
        Ok(handle)
    }

    /// Close a socket. Returns whether it was open.
    pub fn close(&mut self, handle: RawHandle) -> bool {
        let Some(socket) = self.sockets.remove(&handle) else {
            return false;
        };
        if let Some(list) = self.by_protocol.get_mut(&socket.protocol) {
            list.retain(|&h| h != handle);
            if list.is_empty() {
                self.by_protocol.remove(&socket.protocol);
            }
        }
        true
    }

    fn get(&mut self, handle: RawHandle) -> io::Result<&mut RawSocket> {
        self.sockets.get_mut(&handle).ok_or_else(closed)
    }

    /// Receive only from `peer` (and send there by default).
    pub fn connect(&mut self, handle: RawHandle, peer: Ipv4Addr) -> io::Result<()> {
        if peer.is_unspecified() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot connect to 0.0.0.0"));
        }
        self.get(handle)?.peer = Some(peer);
        Ok(())
    }

    /// Whether reads include the IP header.
    pub fn set_header_included(&mut self, handle: RawHandle, included: bool) -> io::Result<()> {
        self.get(handle)?.header_included = included;
        Ok(())
    }

    /// A datagram of a protocol the stack does not speak itself.
    pub fn input(&mut self, ctx: &mut Context<'_>, ip: &Datagram<'_>) -> RawDelivery {
        let Some(list) = self.by_protocol.get(&ip.protocol) else {
            return RawDelivery::Nobody;
        };
        let mut delivery = RawDelivery::Nobody;
        for handle in list {
            let Some(socket) = self.sockets.get_mut(handle) else { continue };
            if !socket.wants(ip.src, ip.dst) {
                continue;
            }
            delivery = RawDelivery::Taken;
            let data = if socket.header_included { with_header(ip) } else { Bytes::copy_from_slice(ip.payload) };
            let received = ReceivedDatagram { from: SocketAddr::V4(SocketAddrV4::new(ip.src, 0)), data };
            if socket.queue.push(received) {
                ctx.counters.raw_rx_delivered += 1;
                ctx.notify(Event::RawReadable(*handle));
            } else {
                let (len, limit) = (socket.queue.len(), socket.queue.limit());
                ctx.overflow(DropReason::RawQueueFull, len, limit, format_args!("protocol={}", ip.protocol));
            }
        }
        delivery
    }

    /// Send `payload` as one IP datagram of the socket's protocol to `dst`
    /// (fragmented if larger than the MTU).
    pub fn send_to(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: RawHandle,
        payload: &[u8],
        dst: Option<Ipv4Addr>,
    ) -> io::Result<usize> {
        let socket = self.get(handle)?;
        let Some(dst) = dst.or(socket.peer) else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "raw socket is not connected: give a destination"));
        };
        if dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("cannot send to {dst}")));
        }
        match out.send(ctx.counters, dst, socket.protocol, payload) {
            Ok(()) => {
                ctx.counters.raw_tx += 1;
                Ok(payload.len())
            }
            Err(OutputError::QueueFull) => Err(io::Error::new(io::ErrorKind::WouldBlock, "transmit queue full")),
            Err(OutputError::TooBig) => Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large")),
            Err(OutputError::NoIpv6) => Err(io::Error::new(io::ErrorKind::NetworkUnreachable, "no IPv6 address")),
        }
    }

    /// Take the oldest datagram; `WouldBlock` if none.
    pub fn recv(&mut self, handle: RawHandle) -> io::Result<ReceivedDatagram> {
        self.get(handle)?.queue.pop().ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }

    /// Whether a datagram is waiting (or the socket is gone).
    pub fn can_recv(&self, handle: RawHandle) -> bool {
        self.sockets.get(&handle).is_none_or(|s| !s.queue.is_empty())
    }

    /// Change a socket's queue bounds; datagrams beyond a smaller bound are
    /// dropped and counted.
    pub fn set_recv_queue(&mut self, ctx: &mut Context<'_>, handle: RawHandle, limit: QueueLimit) -> io::Result<()> {
        let shed = self.get(handle)?.queue.set_limit(limit);
        ctx.counters.raw_rx_queue_full += shed;
        Ok(())
    }

    /// Every raw socket, by protocol then handle.
    pub fn sockets(&self) -> Vec<RawSocketInfo> {
        let mut list: Vec<RawSocketInfo> = self
            .sockets
            .iter()
            .map(|(&handle, s)| RawSocketInfo {
                handle,
                protocol: s.protocol,
                local: s.local,
                peer: s.peer,
                queued_datagrams: s.queue.len(),
                queued_bytes: s.queue.bytes(),
                limit: s.queue.limit(),
                received: s.queue.received,
                dropped: s.queue.dropped,
            })
            .collect();
        list.sort_by_key(|i| (i.protocol, i.handle));
        list
    }
}

/// The datagram as it arrived: its header (rebuilt for a reassembled one, as
/// it would have been unfragmented) and payload.
fn with_header(ip: &Datagram<'_>) -> Bytes {
    let mut out = BytesMut::with_capacity(MIN_HEADER_LEN + ip.payload.len());
    match ip.header {
        Some(header) => out.extend_from_slice(header),
        None => {
            let repr = Ipv4Repr {
                src: ip.src,
                dst: ip.dst,
                protocol: ip.protocol,
                ttl: ip.ttl,
                id: ip.id,
                dont_fragment: false,
            };
            let mut header = Vec::with_capacity(MIN_HEADER_LEN);
            if ipv4::emit(&mut header, &repr, 0, false, &[]).is_some() {
                let total = u16::try_from(MIN_HEADER_LEN + ip.payload.len()).unwrap_or(u16::MAX);
                // A header we just wrote always takes its length.
                let _ = ipv4::set_total_len(&mut header, total);
                out.extend_from_slice(&header);
            }
        }
    }
    out.extend_from_slice(ip.payload);
    out.freeze()
}
