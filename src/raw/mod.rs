//! Raw IP protocol sockets: a program speaks an IP protocol of its own — RFC
//! 3692's experimental numbers 253 and 254, say — through the stack's IP layer,
//! over IPv4 or IPv6.
//!
//! The semantics are Linux's `SOCK_RAW` for one protocol number: a socket bound
//! to protocol P receives every whole datagram of protocol P addressed to us (after
//! IP's validation and reassembly), a copy each when several are bound; it may
//! narrow that to one local address (`bind`) and one peer (`connect`). What it
//! sends goes out through the stack's own IP output — our address as source,
//! fragmentation to the MTU, the counters, the capture and the fault injector.
//!
//! **The family is the bound address's**, as `AF_INET` or `AF_INET6`: bound to
//! `0.0.0.0` or our IPv4 address a socket speaks IPv4, bound to `::` or our IPv6
//! address IPv6 (a raw socket is never dual-stack: Linux delivers no IPv4 to an
//! `AF_INET6` raw socket either). The two differ as on Linux (RFC 3542 §3):
//!
//! | | IPv4 | IPv6 |
//! |-|------|------|
//! | a read gives | the payload, or with [`RawTable::set_header_included`] the IP header too (rebuilt for a reassembled datagram) | the payload after the IPv6 header and every extension header, never a header |
//! | a send gives | the payload; IP writes the header | the same; IPv6 writes the header, fragmenting at the source |
//! | may bind | not ICMP, TCP, UDP; not 0, 255 | not TCP, UDP; not the extension headers (0, 43, 44, 59, 60), not 255; **ICMPv6 (58) yes** |
//!
//! An ICMPv6 raw socket (Linux's `ping6` one) gets a copy of every ICMPv6
//! message to our address whose checksum verifies — the stack still answers
//! echo requests and reads errors itself — and what it sends is checksummed by
//! the stack over the IPv6 pseudo-header, whatever the program put in the
//! field (RFC 3542 §3.1). For other protocols the payload goes out as given:
//! `IPV6_CHECKSUM` (a checksum at an offset of the program's choosing) is not
//! offered, so a protocol with a pseudo-header checksum writes its own.
//!
//! Each socket has the same bounded queue as a UDP port; a datagram finding it
//! full is dropped and counted (`raw_rx_queue_full`, and the socket's drops). A
//! datagram of a protocol nobody has bound is answered by the stack: ICMP
//! protocol unreachable over IPv4, ICMPv6 Parameter Problem "unrecognized Next
//! Header" over IPv6 (RFC 8200 §4).

mod invariants;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};

use crate::ip::{check_program_next_header, check_program_protocol, Datagram, IpOutput, OutputError};
use crate::shared::{Context, DropReason, Event, HandleMap, QueueLimit, RawHandle, ReceivedDatagram, RecvQueue};
use crate::wire::ip_protocol::ICMPV6;
use crate::wire::ipv4::{self, Ipv4Repr, MIN_HEADER_LEN};
use crate::wire::{icmpv6, verifies_with_pseudo_header_v6};

/// What the raw table needs to know of the stack.
#[derive(Clone, Debug)]
pub(crate) struct RawConfig {
    /// Our address.
    pub addr: Ipv4Addr,
    /// Our IPv6 address, if the stack speaks IPv6.
    pub addr6: Option<Ipv6Addr>,
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
    /// The local address it is bound to (unspecified: every address of ours
    /// of its family, which is this address's).
    pub local: IpAddr,
    pub peer: Option<IpAddr>,
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
    /// Its family is the socket's.
    local: IpAddr,
    peer: Option<IpAddr>,
    header_included: bool,
    queue: RecvQueue,
}

impl RawSocket {
    /// Whether a datagram from `src` to `dst` is this socket's: of its family,
    /// to its address, from its peer.
    fn wants(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.local.is_ipv4() == dst.is_ipv4()
            && (self.local.is_unspecified() || self.local == dst)
            && self.peer.is_none_or(|p| p == src)
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
    sockets: HandleMap<RawHandle, RawSocket>,
    /// Protocol → its sockets, in the order they were opened.
    by_protocol: HashMap<u8, Vec<RawHandle>>,
    next_handle: u64,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "raw socket is closed")
}

impl RawTable {
    pub fn new(config: RawConfig) -> Self {
        RawTable { config, sockets: HandleMap::default(), by_protocol: HashMap::new(), next_handle: 1 }
    }

    /// Open a socket for IP protocol `protocol`, receiving datagrams addressed
    /// to `local` (ours, or unspecified for any), in `local`'s family.
    pub fn bind(&mut self, protocol: u8, local: IpAddr) -> io::Result<RawHandle> {
        let ours = match local {
            IpAddr::V4(a) => {
                check_program_protocol(protocol)?;
                a.is_unspecified() || a == self.config.addr
            }
            IpAddr::V6(a) => {
                check_program_next_header(protocol)?;
                let Some(addr6) = self.config.addr6 else {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        "this stack has no IPv6 address (StackConfig::addr6)",
                    ));
                };
                a.is_unspecified() || a == addr6
            }
        };
        if !ours {
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

    /// Receive only from `peer` (and send there by default), an address of the
    /// socket's family.
    pub fn connect(&mut self, handle: RawHandle, peer: IpAddr) -> io::Result<()> {
        let socket = self.get(handle)?;
        if peer.is_unspecified() || peer.is_ipv4() != socket.local.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a raw socket on {} cannot connect to {peer}", socket.local),
            ));
        }
        socket.peer = Some(peer);
        Ok(())
    }

    /// Whether reads include the IP header. IPv4 only: an IPv6 raw socket
    /// reads the payload alone (RFC 3542 §3), as on Linux.
    pub fn set_header_included(&mut self, handle: RawHandle, included: bool) -> io::Result<()> {
        let socket = self.get(handle)?;
        if included && socket.local.is_ipv6() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 raw socket never reads the IPv6 header (RFC 3542 §3)",
            ));
        }
        socket.header_included = included;
        Ok(())
    }

    /// An IPv4 datagram of a protocol the stack does not speak itself.
    pub fn input(&mut self, ctx: &mut Context<'_>, ip: &Datagram<'_>) -> RawDelivery {
        let (src, dst) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
        self.deliver(ctx, ip.protocol, src, dst, |header_included| {
            if header_included {
                with_header(ip)
            } else {
                Bytes::copy_from_slice(ip.payload)
            }
        })
    }

    /// An IPv6 datagram to our unicast address: `payload` is what follows the
    /// extension headers, Next Header `protocol` (a Next Header the stack does
    /// not speak itself, or ICMPv6 — copies of which go only where the checksum
    /// verifies, as Linux's `rawv6_rcv` checks it for an ICMPv6 socket).
    pub fn input_v6(
        &mut self,
        ctx: &mut Context<'_>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        protocol: u8,
        payload: &[u8],
    ) -> RawDelivery {
        if !self.by_protocol.contains_key(&protocol)
            || (protocol == ICMPV6 && !verifies_with_pseudo_header_v6(src, dst, protocol, payload))
        {
            return RawDelivery::Nobody;
        }
        self.deliver(ctx, protocol, IpAddr::V6(src), IpAddr::V6(dst), |_| Bytes::copy_from_slice(payload))
    }

    /// A copy for each socket of `protocol` that wants a datagram from `src` to
    /// `dst`; `data` makes it (given whether the socket reads headers).
    fn deliver(
        &mut self,
        ctx: &mut Context<'_>,
        protocol: u8,
        src: IpAddr,
        dst: IpAddr,
        data: impl Fn(bool) -> Bytes,
    ) -> RawDelivery {
        let Some(list) = self.by_protocol.get(&protocol) else {
            return RawDelivery::Nobody;
        };
        let mut delivery = RawDelivery::Nobody;
        for handle in list {
            let Some(socket) = self.sockets.get_mut(handle) else { continue };
            if !socket.wants(src, dst) {
                continue;
            }
            delivery = RawDelivery::Taken;
            let received = ReceivedDatagram { from: SocketAddr::new(src, 0), data: data(socket.header_included) };
            if socket.queue.push(received) {
                ctx.counters.raw_rx_delivered += 1;
                ctx.notify(Event::RawReadable(*handle));
            } else {
                let (len, limit) = (socket.queue.len(), socket.queue.limit());
                ctx.overflow(DropReason::RawQueueFull, len, limit, format_args!("protocol={protocol}"));
            }
        }
        delivery
    }

    /// Whether an IPv6 raw socket of `protocol` could have sent a datagram to
    /// `dst` (a Packet Too Big quoting one is believed only then, `stack/v6.rs`).
    pub fn could_send_v6(&self, protocol: u8, dst: Ipv6Addr) -> bool {
        let Some(list) = self.by_protocol.get(&protocol) else { return false };
        list.iter()
            .filter_map(|h| self.sockets.get(h))
            .any(|socket| socket.local.is_ipv6() && socket.peer.is_none_or(|peer| peer == IpAddr::V6(dst)))
    }

    /// Send `payload` as one IP datagram of the socket's protocol to `dst` (or
    /// the connected peer), an address of the socket's family; fragmented if
    /// larger than the MTU (over IPv6, at the source). An ICMPv6 message gets
    /// its checksum written here.
    pub fn send_to(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: RawHandle,
        payload: &[u8],
        dst: Option<IpAddr>,
    ) -> io::Result<usize> {
        let socket = self.get(handle)?;
        let Some(dst) = dst.or(socket.peer) else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "raw socket is not connected: give a destination"));
        };
        let cannot = || io::Error::new(io::ErrorKind::InvalidInput, format!("cannot send to {dst}"));
        let protocol = socket.protocol;
        let sent = match (socket.local, dst) {
            (IpAddr::V4(_), IpAddr::V4(d)) => {
                if d.is_unspecified() || d.is_broadcast() || d.is_multicast() {
                    return Err(cannot());
                }
                out.send(ctx.counters, d, protocol, payload)
            }
            (IpAddr::V6(_), IpAddr::V6(d)) => {
                if d.is_unspecified() || d.is_multicast() || d.to_ipv4_mapped().is_some() {
                    return Err(cannot());
                }
                send_v6(ctx, out, d, protocol, payload)?
            }
            (local, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a raw socket on {local} cannot send to {dst}: another family"),
                ))
            }
        };
        match sent {
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

/// An IPv6 raw socket's datagram to IPv6 output: an ICMPv6 message with its
/// checksum written first (RFC 3542 §3.1), anything else as given. `Err`: an
/// ICMPv6 message too short to have a checksum.
fn send_v6(
    ctx: &mut Context<'_>,
    out: &mut IpOutput,
    dst: Ipv6Addr,
    protocol: u8,
    payload: &[u8],
) -> io::Result<Result<(), OutputError>> {
    if protocol != ICMPV6 {
        return Ok(out.send_v6(ctx.counters, dst, protocol, payload));
    }
    let Some(src) = out.addr6() else { return Ok(Err(OutputError::NoIpv6)) };
    let mut message = payload.to_vec();
    if icmpv6::fill_checksum(&mut message, src, dst).is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an ICMPv6 message starts with its type, code and checksum (4 bytes)",
        ));
    }
    Ok(out.send_v6(ctx.counters, dst, protocol, &message))
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
