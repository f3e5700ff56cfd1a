//! UDP (RFC 768): demultiplexing datagrams to sockets by port, each socket with a
//! bounded receive queue, and sending datagrams out through IP.
//!
//! The UDP port table is its own namespace: UDP port 7 and TCP port 7 are different
//! ports (see [`crate::ports`]).

mod invariants;
mod socket;
#[cfg(test)]
mod tests;

pub use crate::shared::{ReceivedDatagram, RecvQueue};
pub use socket::UdpSocketState;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;

use crate::ip::dual_stack::{canonical, Binding, Family, PortHolders};
use crate::ip::{Datagram, IpOutput, OutputError};
use crate::ports::{BindError, PortConfig, PortTable, Protocol};
use crate::shared::{Context, DropReason, Event, HandleMap, QueueLimit, RxChecksum, UdpHandle};
use crate::wire::icmp::{CODE_HOST_UNREACHABLE, CODE_NET_UNREACHABLE, CODE_PORT_UNREACHABLE};
use crate::wire::icmpv6;
use crate::wire::ip_protocol::UDP as PROTO_UDP;
use crate::wire::udp::{self, UdpDatagram, UdpError, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6};

/// A UDP socket as listed by [`Stack::udp_sockets`](crate::Stack::udp_sockets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpSocketInfo {
    pub handle: UdpHandle,
    /// IPv4 sockets: our IPv4 address and the port. IPv6 sockets: the address
    /// they bound (`[::]` for a dual-stack socket) and the port.
    pub local: SocketAddr,
    /// The connected peer, as the socket names it (IPv4-mapped on an IPv6
    /// socket talking IPv4).
    pub peer: Option<SocketAddr>,
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
    /// Our IPv6 address, if the stack has one: the only one an IPv6 socket may
    /// bind besides `::` and the IPv4-mapped ones.
    pub addr6: Option<Ipv6Addr>,
    /// New IPv6 sockets on `::` start IPv6-only (`StackConfig::bind_v6only`).
    pub bind_v6only: bool,
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

/// All UDP sockets and the UDP port namespace, shared by IPv4 and IPv6 (see
/// `ip/dual_stack.rs` for the rules).
#[derive(Debug)]
pub(crate) struct UdpTable {
    config: UdpConfig,
    ports: PortTable,
    sockets: HandleMap<UdpHandle, UdpSocketState>,
    by_port: HashMap<u16, PortHolders<UdpHandle>>,
    next_handle: u64,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "UDP socket is closed")
}

/// The error of an ICMP destination unreachable with `code` (RFC 1122 4.1.3.3),
/// or `None` for a code not reported to sockets.
pub(crate) fn unreachable_kind_v4(code: u8) -> Option<io::ErrorKind> {
    match code {
        CODE_NET_UNREACHABLE => Some(io::ErrorKind::NetworkUnreachable),
        CODE_HOST_UNREACHABLE => Some(io::ErrorKind::HostUnreachable),
        CODE_PORT_UNREACHABLE => Some(io::ErrorKind::ConnectionRefused),
        _ => None,
    }
}

/// The error of an ICMPv6 destination unreachable with `code` (RFC 4443 §3.1),
/// as Linux's `icmpv6_err_convert` reports it; `None` for the others.
pub(crate) fn unreachable_kind_v6(code: u8) -> Option<io::ErrorKind> {
    match code {
        icmpv6::CODE_NO_ROUTE => Some(io::ErrorKind::NetworkUnreachable),
        icmpv6::CODE_ADMIN_PROHIBITED => Some(io::ErrorKind::PermissionDenied),
        icmpv6::CODE_ADDRESS_UNREACHABLE => Some(io::ErrorKind::HostUnreachable),
        icmpv6::CODE_PORT_UNREACHABLE => Some(io::ErrorKind::ConnectionRefused),
        _ => None,
    }
}

impl UdpTable {
    pub fn new(config: UdpConfig) -> Self {
        UdpTable {
            ports: PortTable::new(Protocol::Udp, config.ports.clone(), config.seed),
            sockets: HandleMap::default(),
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

    /// A UDP datagram over IPv4 for us (RFC 768).
    pub fn input(&mut self, ctx: &mut Context<'_>, ip: &Datagram<'_>) -> Delivery {
        let parsed = match ctx.rx_checksum {
            RxChecksum::Verify => udp::parse(ip.src, ip.dst, ip.payload),
            RxChecksum::Vouched => udp::parse_vouched(ip.payload),
        };
        match parsed {
            Ok(d) => self.deliver(ctx, IpAddr::V4(ip.src), &d),
            Err(e) => refuse(ctx, e, IpAddr::V4(ip.src)),
        }
    }

    /// A UDP datagram over IPv6 for us: its checksum is mandatory (RFC 8200 §8.1).
    pub fn input_v6(&mut self, ctx: &mut Context<'_>, src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Delivery {
        let parsed = match ctx.rx_checksum {
            RxChecksum::Verify => udp::parse_v6(src, dst, payload),
            RxChecksum::Vouched => udp::parse_vouched(payload),
        };
        match parsed {
            Ok(d) => self.deliver(ctx, IpAddr::V6(src), &d),
            Err(e) => refuse(ctx, e, IpAddr::V6(src)),
        }
    }

    /// Queue a valid datagram from `src` on the socket that holds its port for
    /// its family, if that socket takes datagrams from there.
    fn deliver(&mut self, ctx: &mut Context<'_>, src: IpAddr, datagram: &UdpDatagram<'_>) -> Delivery {
        ctx.counters.udp_rx += 1;
        let from = SocketAddr::new(src, datagram.src_port);
        let target = self
            .by_port
            .get(&datagram.dst_port)
            .and_then(|port| port.get(Family::of(&from)))
            .filter(|h| self.sockets.get(h).is_some_and(|s| s.peer.is_none_or(|peer| peer == from)));
        let Some(handle) = target else {
            ctx.drop(DropReason::UdpNoPort, format_args!("port={}", datagram.dst_port));
            return Delivery::PortUnreachable;
        };
        let Some(socket) = self.sockets.get_mut(&handle) else {
            return Delivery::Done;
        };
        let from = socket.binding.show(from);
        let received = ReceivedDatagram { from, data: Bytes::copy_from_slice(datagram.payload) };
        if socket.queue.push(received) {
            ctx.counters.udp_rx_delivered += 1;
            ctx.notify(Event::UdpReadable(handle));
        } else {
            let (len, limit) = (socket.queue.len(), socket.queue.limit());
            ctx.overflow(DropReason::UdpQueueFull, len, limit, format_args!("port={}", datagram.dst_port));
        }
        Delivery::Done
    }

    /// An ICMP or ICMPv6 destination unreachable meaning `kind` (see
    /// [`unreachable_kind_v4`], [`unreachable_kind_v6`]), quoting a datagram we
    /// sent from `src`:`local_port` to `peer`. RFC 1122 4.1.3.3: the error goes
    /// to the application; like Linux, only a socket connected to that peer gets
    /// it.
    pub fn dest_unreachable(
        &mut self,
        ctx: &mut Context<'_>,
        kind: io::ErrorKind,
        src: IpAddr,
        local_port: u16,
        peer: SocketAddr,
    ) {
        let ours = match src {
            IpAddr::V4(a) => a == self.config.addr,
            IpAddr::V6(a) => Some(a) == self.config.addr6,
        };
        let peer = canonical(peer);
        let holder = self.by_port.get(&local_port).and_then(|port| port.get(Family::of(&peer)));
        let Some(handle) = holder.filter(|_| ours) else {
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

    /// Whether a socket could have sent a datagram from our `local_port` to
    /// `peer`: one holds the port for `peer`'s family, unconnected or connected
    /// to `peer` (a Packet Too Big quoting one is believed only then,
    /// `stack/v6.rs`).
    pub fn could_send(&self, local_port: u16, peer: SocketAddr) -> bool {
        let peer = canonical(peer);
        let holder = self.by_port.get(&local_port).and_then(|port| port.get(Family::of(&peer)));
        holder.and_then(|h| self.sockets.get(&h)).is_some_and(|s| s.peer.is_none_or(|p| p == peer))
    }

    /// Open a socket on `addr` (port 0: an ephemeral port). The address must be
    /// ours, unspecified, or (IPv6) IPv4-mapped one of those; an IPv6 socket on
    /// `::` serves both families (see `ip/dual_stack.rs`).
    pub fn bind(&mut self, addr: SocketAddr) -> io::Result<UdpHandle> {
        let ip = addr.ip();
        let ours = match canonical(addr).ip() {
            IpAddr::V4(a) => a.is_unspecified() || a == self.config.addr,
            IpAddr::V6(a) => a.is_unspecified() || Some(a) == self.config.addr6,
        };
        if !ours {
            return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, format!("{ip} is not this stack's address")));
        }
        if self.sockets.len() >= self.config.max_sockets {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "UDP socket limit reached (max_udp_sockets)"));
        }
        // Linux's `bindv6only` applies to IPv6 addresses, never to IPv4-mapped ones.
        let only_v6 = self.config.bind_v6only && canonical(addr).is_ipv6();
        let binding = Binding { ip, only_v6 };
        // A port bound by the other family's socket may be shared (one
        // namespace, one socket per family on a port).
        let port = match self.ports.bind(addr.port()) {
            Ok(port) => port,
            Err(BindError::InUse(port)) if self.by_port.get(&port).is_some_and(|p| !p.conflicts(&binding, None)) => {
                port
            }
            Err(e) => return Err(e.into()),
        };
        let handle = UdpHandle(self.next_handle);
        self.next_handle += 1;
        let socket = UdpSocketState {
            local_port: port,
            binding,
            peer: None,
            queue: RecvQueue::new(self.config.recv_queue),
            pending_error: None,
        };
        self.sockets.insert(handle, socket);
        self.by_port.entry(port).or_default().place(&binding, handle);
        Ok(handle)
    }

    /// `IPV6_V6ONLY` of an IPv6 socket: whether it refuses IPv4. Unlike Linux,
    /// which takes it only before `bind`, it may change on a bound socket: turning
    /// it off takes the port's IPv4 place, so it fails with `AddrInUse` when an
    /// IPv4 socket holds it.
    pub fn set_only_v6(&mut self, handle: UdpHandle, only_v6: bool) -> io::Result<()> {
        let socket = self.sockets.get(&handle).ok_or_else(closed)?;
        let binding = Binding { only_v6, ..socket.binding };
        if !binding.is_v6_socket() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "only_v6 applies to IPv6 sockets"));
        }
        if only_v6 && !binding.serves(Family::V6) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a socket bound to an IPv4-mapped address is IPv4 only",
            ));
        }
        let port = socket.local_port;
        let holders = self.by_port.entry(port).or_default();
        if holders.conflicts(&binding, Some(handle)) {
            return Err(BindError::InUse(port).into());
        }
        holders.place(&binding, handle);
        self.get(handle)?.binding = binding;
        Ok(())
    }

    /// Whether an IPv6 socket refuses IPv4 (`false` for IPv4 sockets).
    pub fn only_v6(&self, handle: UdpHandle) -> io::Result<bool> {
        Ok(self.sockets.get(&handle).ok_or_else(closed)?.binding.only_v6)
    }

    /// Close a socket and release its port (once no socket of the other family
    /// holds it). Returns whether it was open.
    pub fn close(&mut self, handle: UdpHandle) -> bool {
        let Some(socket) = self.sockets.remove(&handle) else {
            return false;
        };
        let port = socket.local_port;
        if self.by_port.get_mut(&port).is_none_or(|holders| holders.remove(handle)) {
            self.by_port.remove(&port);
            self.ports.release(port);
        }
        true
    }

    /// Fix the peer: `send` goes there and only its datagrams are received.
    pub fn connect(&mut self, handle: UdpHandle, peer: SocketAddr) -> io::Result<()> {
        if peer.port() == 0 || peer.ip().is_unspecified() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot connect to port 0 or 0.0.0.0"));
        }
        let socket = self.get(handle)?;
        route(&socket.binding, peer)?;
        socket.peer = Some(canonical(peer));
        socket.pending_error = None;
        Ok(())
    }

    /// Send one datagram to `dst` through `out`, over IPv4 or IPv6.
    pub fn send_to(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: UdpHandle,
        payload: &[u8],
        dst: SocketAddr,
    ) -> io::Result<usize> {
        let (ip, max) = match Family::of(&dst) {
            Family::V4 => ("IPv4", MAX_PAYLOAD_V4),
            Family::V6 => ("IPv6", MAX_PAYLOAD_V6),
        };
        if payload.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("datagram of {} bytes is larger than UDP over {ip} allows ({max})", payload.len()),
            ));
        }
        if dst.port() == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot send to port 0"));
        }
        let src = self.config.addr;
        let socket = self.get(handle)?;
        route(&socket.binding, dst)?;
        if let Some(kind) = socket.pending_error.take() {
            return Err(icmp_error(kind));
        }
        let src_port = socket.local_port;
        let mut segment = out.buffer();
        let sent = match (canonical(dst), out.addr6()) {
            (SocketAddr::V4(dst), _) => match udp::emit(&mut segment, src, *dst.ip(), src_port, dst.port(), payload) {
                Some(()) => out.send(ctx.counters, *dst.ip(), PROTO_UDP, &segment),
                None => Err(OutputError::TooBig),
            },
            (SocketAddr::V6(dst), Some(src6)) => {
                match udp::emit_v6(&mut segment, src6, *dst.ip(), src_port, dst.port(), payload) {
                    Some(()) => out.send_v6(ctx.counters, *dst.ip(), PROTO_UDP, &segment),
                    None => Err(OutputError::TooBig),
                }
            }
            (SocketAddr::V6(_), None) => Err(OutputError::NoIpv6),
        };
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
            Err(OutputError::NoIpv6) => {
                let why = "this stack has no IPv6 address (StackConfig::addr6)";
                Err(io::Error::new(io::ErrorKind::NetworkUnreachable, why))
            }
        }
    }

    /// The connected peer, or `NotConnected`.
    pub fn peer(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        let socket = self.sockets.get(&handle).ok_or(io::ErrorKind::NotConnected)?;
        socket
            .peer
            .map(|peer| socket.binding.show(peer))
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
        Ok(self.local_of(socket))
    }

    /// An IPv4 socket's local address is ours; an IPv6 socket's, what it bound
    /// (as Linux's `getsockname` shows `[::]` for a dual-stack socket).
    fn local_of(&self, socket: &UdpSocketState) -> SocketAddr {
        match socket.binding.ip {
            IpAddr::V4(_) => SocketAddr::from((self.config.addr, socket.local_port)),
            ip => SocketAddr::new(ip, socket.local_port),
        }
    }

    /// Every open socket, ordered by port (IPv4 before IPv6 on a shared port).
    pub fn sockets(&self) -> Vec<UdpSocketInfo> {
        let mut list: Vec<_> = self
            .sockets
            .iter()
            .map(|(&handle, s)| UdpSocketInfo {
                handle,
                local: self.local_of(s),
                peer: s.peer.map(|p| s.binding.show(p)),
                queued_datagrams: s.queue.len(),
                queued_bytes: s.queue.bytes(),
                limit: s.queue.limit(),
                received: s.queue.received,
                dropped: s.queue.dropped,
            })
            .collect();
        list.sort_by_key(|i| (i.local.port(), i.local.is_ipv6()));
        list
    }
}

/// Count a datagram that did not parse.
fn refuse(ctx: &mut Context<'_>, error: UdpError, src: IpAddr) -> Delivery {
    let reason = match error {
        UdpError::BadLength => DropReason::UdpBadLength,
        UdpError::BadChecksum => DropReason::UdpBadChecksum,
    };
    ctx.drop(reason, format_args!("src={src}"));
    Delivery::Done
}

/// Whether a socket `binding` may talk to `peer`: an IPv4 socket only to IPv4
/// addresses (`InvalidInput`, Linux's `EAFNOSUPPORT`), an IPv6 socket only to
/// the families it serves (`NetworkUnreachable`, Linux's `ENETUNREACH`).
fn route(binding: &Binding, peer: SocketAddr) -> io::Result<()> {
    if !binding.is_v6_socket() && peer.is_ipv6() {
        let why = format!("an IPv4 socket cannot reach the IPv6 address {peer}");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    if !binding.serves(Family::of(&peer)) {
        let only = if binding.only_v6 { " (only_v6)" } else { "" };
        let why = format!("a UDP socket bound to {}{only} cannot reach {peer}", binding.ip);
        return Err(io::Error::new(io::ErrorKind::NetworkUnreachable, why));
    }
    Ok(())
}

fn icmp_error(kind: io::ErrorKind) -> io::Error {
    let what = match kind {
        io::ErrorKind::ConnectionRefused => "peer answered ICMP port unreachable",
        io::ErrorKind::HostUnreachable => "peer answered ICMP host unreachable",
        io::ErrorKind::PermissionDenied => "peer answered ICMPv6 administratively prohibited",
        _ => "peer answered ICMP network unreachable",
    };
    io::Error::new(kind, what)
}
