//! The sans-IO core: one [`Stack`] holds every protocol's state and is driven by
//! three kinds of call, all taking the current time as a value:
//!
//! * [`Stack::input`] — one IP packet arrived from the link;
//! * [`Stack::handle_timeout`] — the time from [`Stack::poll_deadline`] has come;
//! * socket calls (`udp_bind`, `tcp_send`, …) — a program asked for something.
//!
//! Their results come out through [`Stack::poll_transmit`] (packets for the link)
//! and [`Stack::poll_event`] (sockets that became readable or got an error). The
//! core has no threads, clocks, files or sockets of its own, so a test, a fuzzer or a
//! simulator can drive it exactly as the TUN runtime does.
//!
//! This file is the only `impl Stack`. The work is done by the layers' own types —
//! [`IpInput`] and [`IpOutput`], [`Icmp`], [`UdpTable`], [`TcpTable`] — which never
//! see the `Stack`: each call here lends them a [`Context`] (the time, the
//! counters, the event queue, the verdict on the packet being input) and routes
//! what one layer hands back to the next: IP gives back a datagram, which goes to
//! ICMP, UDP or TCP by protocol number — or to a raw socket and a protocol of
//! the program's own ([`crate::proto`]); UDP says a port is unreachable and ICMP
//! sends the error; ICMP gives back an error it received and UDP is told. IPv6
//! packets take the same path through their own layers, routed in `v6.rs`.

mod socket_table;
mod v6;

pub use socket_table::SocketRow;

use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr};
use std::time::Duration;

use crate::config::{CongestionAlgorithm, StackConfig};
use crate::counters::Counters;
use crate::icmp::{Icmp, Unreachable};
use crate::ip::ipv6::Ipv6Output;
use crate::ip::{Datagram, IpInput, IpOutput, OutputConfig};
use crate::ports::PortTable;
use crate::proto::{IcmpError, Protocol, ProtocolTable, Verdict};
use crate::raw::{RawConfig, RawDelivery, RawSocketInfo, RawTable};
use crate::shared::{
    Context, DropLog, DropReason, Event, EventQueue, QueueLimit, RawHandle, RxChecksum, TcpHandle, UdpHandle,
};
use crate::tcp::{Keepalive, SocketBuffers, State, TcpInfo, TcpParams, TcpReadiness, TcpSocketInfo, TcpTable};
use crate::time::Instant;
use crate::udp::{unreachable_kind_v4, Delivery, ReceivedDatagram, UdpConfig, UdpSocketInfo, UdpTable};
use crate::wire::icmp::{parse_quoted, parse_quoted_datagram, CODE_PORT_UNREACHABLE, CODE_PROTOCOL_UNREACHABLE};
use crate::wire::ip_protocol;
use v6::V6;

/// A user-space host: IPv4, ICMP, UDP and TCP, and (with `StackConfig::addr6`)
/// IPv6 and ICMPv6.
#[derive(Debug)]
pub struct Stack {
    config: StackConfig,
    counters: Counters,
    ip: IpInput,
    out: IpOutput,
    icmp: Icmp,
    udp: UdpTable,
    /// TCP connections, listeners, and the TCP port namespace (independent of UDP's).
    tcp: TcpTable,
    /// Raw IP protocol sockets.
    raw: RawTable,
    /// Protocols of the program's own, by IP protocol number.
    protocols: ProtocolTable,
    /// IPv6 and ICMPv6, when the stack has an IPv6 address (`v6.rs`).
    v6: Option<V6>,
    events: EventQueue,
    /// Why the packet [`input`](Stack::input) is processing was dropped, if it was.
    verdict: Option<DropReason>,
    /// When each drop reason was last traced (one line a second each).
    drop_log: DropLog,
}

/// The stack's parts, borrowed apart for one call: the shared [`Context`] and
/// each layer, so a call can hand the context to one layer and the output queue
/// to the same call.
struct Parts<'a> {
    ctx: Context<'a>,
    out: &'a mut IpOutput,
    ip: &'a mut IpInput,
    icmp: &'a mut Icmp,
    udp: &'a mut UdpTable,
    tcp: &'a mut TcpTable,
    raw: &'a mut RawTable,
    protocols: &'a mut ProtocolTable,
    v6: Option<&'a mut V6>,
}

impl Stack {
    pub fn new(config: StackConfig) -> Self {
        let output =
            OutputConfig { addr: config.addr, mtu: config.mtu, ttl: config.ttl, max_tx_queue: config.max_tx_queue };
        let udp = UdpConfig {
            addr: config.addr,
            addr6: config.addr6,
            bind_v6only: config.bind_v6only,
            max_sockets: config.max_udp_sockets,
            recv_queue: config.udp_recv_queue,
            ports: config.ports.clone(),
            seed: config.seed,
        };
        let tcp = TcpParams {
            tcp: config.tcp.clone(),
            addr: config.addr,
            addr6: config.addr6,
            bind_v6only: config.bind_v6only,
            mtu: config.mtu,
            tx_checksum_offload: config.tx_checksum_offload,
        };
        let raw = RawConfig {
            addr: config.addr,
            addr6: config.addr6,
            max_sockets: config.max_raw_sockets,
            recv_queue: config.raw_recv_queue,
        };
        Stack {
            counters: Counters::default(),
            ip: IpInput::new(config.addr, config.reassembly.clone()),
            out: match config.addr6 {
                Some(addr6) => IpOutput::new(output, config.seed).with_ipv6(Ipv6Output::new(
                    addr6,
                    config.mtu,
                    config.ttl,
                    config.seed,
                    config.path_mtu.clone(),
                )),
                None => IpOutput::new(output, config.seed),
            },
            icmp: Icmp::new(config.icmp_error_burst, config.icmp_refill_interval()),
            udp: UdpTable::new(udp),
            tcp: TcpTable::new(tcp, config.ports.clone(), config.seed),
            raw: RawTable::new(raw),
            protocols: ProtocolTable::default(),
            v6: config.addr6.map(|addr| V6::new(addr, &config)),
            events: EventQueue::default(),
            verdict: None,
            drop_log: DropLog::default(),
            config,
        }
    }

    fn parts(&mut self, now: Instant) -> Parts<'_> {
        let Stack { counters, ip, out, icmp, udp, tcp, raw, protocols, v6, events, verdict, drop_log, .. } = self;
        let v6 = v6.as_mut();
        let ctx = Context::new(now, counters, events, verdict, drop_log);
        Parts { ctx, out, ip, icmp, udp, tcp, raw, protocols, v6 }
    }

    /// The configuration the stack runs with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Every counter, for display and tests.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The largest IPv6 packet UDP, raw and ICMPv6 output send to `dst`: the
    /// link MTU, or less where a Packet Too Big lowered it (RFC 8201; DESIGN.md,
    /// "IPv6"). `None` without IPv6.
    pub fn path_mtu_v6(&self, dst: Ipv6Addr) -> Option<usize> {
        self.out.ipv6().map(|o| o.path_mtu(dst))
    }

    // ----- The link side -------------------------------------------------------

    /// One IP packet (IPv4, or IPv6 when `StackConfig::addr6` is set) in from the
    /// link, at time `now`.
    ///
    /// This is the entry point of the receive path: everything the packet causes
    /// (replies, queued datagrams, socket events) is visible afterwards through
    /// [`poll_transmit`](Stack::poll_transmit) and [`poll_event`](Stack::poll_event).
    ///
    /// Returns why the packet was discarded, or `None` when it was taken in. A
    /// fragment that completes a datagram carries the verdict of the whole
    /// datagram; one that only waits for the others returns `None`. A segment
    /// answered with a RST or an ACK but otherwise discarded (no socket, out of
    /// window) counts as dropped.
    pub fn input(&mut self, now: Instant, packet: &[u8]) -> Option<DropReason> {
        self.input_with(now, packet, RxChecksum::Verify)
    }

    /// [`input`](Stack::input) of a packet the link says more about: with
    /// [`RxChecksum::Vouched`] (a TUN with offloads, for a packet the kernel
    /// built and left to "hardware" to checksum) a whole TCP or UDP packet's
    /// checksum is not verified — its field may hold only the pseudo-header
    /// sum. A host that is not sure passes `Verify`, which is `input`.
    pub fn input_with(&mut self, now: Instant, packet: &[u8], checksum: RxChecksum) -> Option<DropReason> {
        self.verdict = None;
        let mut p = self.parts(now);
        p.ctx.rx_checksum = checksum;
        // The version nibble sends IPv6 to its own half (`v6.rs`); all else is
        // IPv4's to validate, a bad version included.
        if packet.first().is_some_and(|b| b >> 4 == 6) {
            p.ctx.counters.ip6_rx_packets += 1;
            match p.v6 {
                Some(v6) => v6.input(&mut p.ctx, p.out, p.udp, p.tcp, p.raw, packet),
                None => p.ctx.drop(DropReason::Ip6Disabled, format_args!("len={}", packet.len())),
            }
            return self.verdict.take();
        }
        if let Some(delivered) = p.ip.input(&mut p.ctx, packet) {
            p.deliver(&delivered.datagram());
        }
        self.verdict.take()
    }

    /// The next packet for the link, if any. Registered protocols are asked for
    /// their next datagram only when nothing else is waiting.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.len() == 0 {
            self.protocols.transmit(&mut self.counters, &mut self.out);
        }
        self.out.pop()
    }

    /// Hand back a packet from [`poll_transmit`](Stack::poll_transmit) once it is
    /// written: the stack builds a later packet in its buffer instead of allocating
    /// one. Optional — a host that keeps or drops its packets loses nothing but
    /// the reuse.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        self.out.recycle(packet);
    }

    /// The next socket event, if any. A socket has at most one event of each kind
    /// pending, and none once it is freed. Registered protocols' events come after
    /// the stack's own.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop().or_else(|| {
            let (protocol, socket) = self.protocols.poll_event()?;
            Some(Event::Protocol { protocol, socket })
        })
    }

    /// When [`handle_timeout`](Stack::handle_timeout) next has work to do.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let v6 = self.v6.as_ref().and_then(V6::next_deadline);
        let path_mtu = self.out.ipv6().and_then(Ipv6Output::next_deadline);
        [self.ip.next_deadline(), self.tcp.next_deadline(), self.protocols.next_deadline(), v6, path_mtu]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut p = self.parts(now);
        p.ip.expire(&mut p.ctx);
        if let Some(v6) = p.v6 {
            v6.expire(&mut p.ctx, p.out);
        }
        if let Some(output) = p.out.ipv6_mut() {
            output.expire(p.ctx.counters, now);
        }
        p.tcp.on_timeout(&mut p.ctx, p.out);
        p.protocols.on_timeout(now);
    }

    // ----- UDP ---------------------------------------------------------------

    /// Open a UDP socket on `addr` (port 0: an ephemeral port). The address must be
    /// ours, unspecified, or (IPv6) IPv4-mapped one of those. IPv4 and IPv6 share
    /// the UDP port namespace: a socket on `[::]:P` serves both families (IPv4
    /// peers appear as `::ffff:a.b.c.d`) unless
    /// [`udp_set_only_v6`](Stack::udp_set_only_v6), and a port holds at most one
    /// socket per family (DESIGN.md, "IPv6").
    pub fn udp_bind(&mut self, addr: SocketAddr) -> io::Result<UdpHandle> {
        self.udp.bind(addr)
    }

    /// `IPV6_V6ONLY` of an IPv6 socket: `true` refuses IPv4, freeing the port's
    /// IPv4 place for an IPv4 socket. May be changed after bind (unlike Linux);
    /// turning it off fails with `AddrInUse` while an IPv4 socket holds the port.
    /// `InvalidInput` for an IPv4 socket.
    pub fn udp_set_only_v6(&mut self, handle: UdpHandle, only_v6: bool) -> io::Result<()> {
        self.udp.set_only_v6(handle, only_v6)
    }

    /// Whether an IPv6 socket refuses IPv4.
    pub fn udp_only_v6(&self, handle: UdpHandle) -> io::Result<bool> {
        self.udp.only_v6(handle)
    }

    /// Close a socket and release its port. Datagrams still queued are discarded.
    pub fn udp_close(&mut self, handle: UdpHandle) {
        if self.udp.close(handle) {
            self.events.forget_udp(handle);
        }
    }

    /// Fix the peer: `udp_send` goes there and only its datagrams are received.
    pub fn udp_connect(&mut self, handle: UdpHandle, peer: SocketAddr) -> io::Result<()> {
        self.udp.connect(handle, peer)
    }

    /// Send one datagram to `dst`. Errors: `InvalidInput` for a payload larger than
    /// 65,507 bytes (IPv4) or 65,519 (IPv6), port 0, or an IPv6 destination from
    /// an IPv4 socket; `NetworkUnreachable` for a family the socket does not serve
    /// or IPv6 without `StackConfig::addr6`; `WouldBlock` while the transmit queue
    /// is full; a pending ICMP error of a connected socket.
    pub fn udp_send_to(&mut self, handle: UdpHandle, payload: &[u8], dst: SocketAddr) -> io::Result<usize> {
        let mut p = self.parts(Instant::ZERO);
        p.udp.send_to(&mut p.ctx, p.out, handle, payload, dst)
    }

    /// Send to the connected peer.
    pub fn udp_send(&mut self, handle: UdpHandle, payload: &[u8]) -> io::Result<usize> {
        let peer = self.udp.peer(handle)?;
        self.udp_send_to(handle, payload, peer)
    }

    /// Take the oldest queued datagram; `WouldBlock` if none. A pending ICMP error
    /// is returned first, once.
    pub fn udp_recv(&mut self, handle: UdpHandle) -> io::Result<ReceivedDatagram> {
        self.udp.recv(handle)
    }

    /// Whether a datagram or an error is waiting.
    pub fn udp_can_recv(&self, handle: UdpHandle) -> bool {
        self.udp.can_recv(handle)
    }

    /// Change the receive queue's bounds (datagrams and bytes). Datagrams beyond a
    /// smaller bound are dropped and counted.
    pub fn udp_set_recv_queue(&mut self, handle: UdpHandle, limit: QueueLimit) -> io::Result<()> {
        let mut p = self.parts(Instant::ZERO);
        p.udp.set_recv_queue(&mut p.ctx, handle, limit)
    }

    pub fn udp_local_addr(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        self.udp.local_addr(handle)
    }

    pub fn udp_peer_addr(&self, handle: UdpHandle) -> io::Result<SocketAddr> {
        self.udp.peer(handle)
    }

    /// Every open UDP socket, ordered by port.
    pub fn udp_sockets(&self) -> Vec<UdpSocketInfo> {
        self.udp.sockets()
    }

    /// The UDP port namespace.
    pub fn udp_ports(&self) -> &PortTable {
        self.udp.ports()
    }

    // ----- TCP ---------------------------------------------------------------

    /// Passive open (RFC 9293 §3.10.1): listen on `addr` with at most `backlog`
    /// connections waiting for `accept` (capped by the configured accept backlog).
    pub fn tcp_listen(&mut self, addr: SocketAddr, backlog: usize) -> io::Result<TcpHandle> {
        self.tcp.listen(addr, backlog)
    }

    /// `IPV6_V6ONLY` of an IPv6 listener: `true` refuses IPv4 SYNs (answered with
    /// RST). `InvalidInput` for an IPv4 listener or a connection.
    pub fn tcp_set_only_v6(&mut self, listener: TcpHandle, only_v6: bool) -> io::Result<()> {
        self.tcp.set_only_v6(listener, only_v6)
    }

    /// Whether an IPv6 listener refuses IPv4.
    pub fn tcp_only_v6(&self, listener: TcpHandle) -> io::Result<bool> {
        self.tcp.only_v6(listener)
    }

    /// Take the oldest established connection of a listener.
    pub fn tcp_accept(&mut self, listener: TcpHandle) -> io::Result<(TcpHandle, SocketAddr)> {
        self.tcp.accept(listener)
    }

    /// Active open (RFC 9293 §3.10.1): send a SYN from an ephemeral port. The
    /// connection is usable once [`tcp_connect_status`](Stack::tcp_connect_status)
    /// says so.
    pub fn tcp_connect(&mut self, now: Instant, remote: SocketAddr) -> io::Result<TcpHandle> {
        self.tcp_connect_with(now, remote, SocketBuffers::default())
    }

    /// [`tcp_connect`](Stack::tcp_connect) with buffer sizes chosen before the
    /// SYN (`SO_RCVBUF`/`SO_SNDBUF` set before `connect`): the SYN offers that
    /// window and the window scale that fits it.
    pub fn tcp_connect_with(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<TcpHandle> {
        let mut p = self.parts(now);
        p.tcp.connect(&mut p.ctx, p.out, remote, buffers)
    }

    /// `Ok` once the handshake is done, `WouldBlock` while it runs, the error
    /// (`ConnectionRefused`, `TimedOut`) if it failed.
    pub fn tcp_connect_status(&mut self, handle: TcpHandle) -> io::Result<()> {
        self.tcp.connect_status(handle)
    }

    /// Queue bytes to send; returns how many were taken.
    pub fn tcp_send(&mut self, now: Instant, handle: TcpHandle, data: &[u8]) -> io::Result<usize> {
        let mut p = self.parts(now);
        p.tcp.send(&mut p.ctx, p.out, handle, data)
    }

    /// Read received bytes; `Ok(0)` at end of stream.
    pub fn tcp_recv(&mut self, now: Instant, handle: TcpHandle, buf: &mut [u8]) -> io::Result<usize> {
        let mut p = self.parts(now);
        p.tcp.recv(&mut p.ctx, p.out, handle, buf)
    }

    /// Consume up to `max` received bytes without copying them anywhere — Linux's
    /// `recv(…, MSG_TRUNC)` on TCP, for a program that only counts or drops what
    /// it receives (the discard service): the window reopens as after a read.
    /// Answers as [`tcp_recv`](Stack::tcp_recv) otherwise (0 at end of stream,
    /// `WouldBlock`, the connection's error).
    pub fn tcp_discard(&mut self, now: Instant, handle: TcpHandle, max: usize) -> io::Result<usize> {
        let mut p = self.parts(now);
        p.tcp.discard(&mut p.ctx, p.out, handle, max)
    }

    /// Shut down reading, writing or both (writing sends FIN after queued data).
    pub fn tcp_shutdown(&mut self, now: Instant, handle: TcpHandle, how: Shutdown) -> io::Result<()> {
        let mut p = self.parts(now);
        p.tcp.shutdown(&mut p.ctx, p.out, handle, how)
    }

    /// The program let go of a connection: graceful close, or RST if it left
    /// received data unread.
    pub fn tcp_close(&mut self, now: Instant, handle: TcpHandle) {
        let mut p = self.parts(now);
        p.tcp.close(&mut p.ctx, p.out, handle);
    }

    /// Reset a connection at once (RFC 9293 §3.10.5 ABORT).
    pub fn tcp_abort(&mut self, now: Instant, handle: TcpHandle) {
        let mut p = self.parts(now);
        p.tcp.abort(&mut p.ctx, p.out, handle);
    }

    /// Stop listening; connections not yet accepted are closed.
    pub fn tcp_close_listener(&mut self, now: Instant, listener: TcpHandle) {
        let mut p = self.parts(now);
        p.tcp.close_listener(&mut p.ctx, p.out, listener);
    }

    /// Keepalive on or off, and its times, for one connection (RFC 1122 4.2.3.6,
    /// `SO_KEEPALIVE` and Linux's `TCP_KEEPIDLE`/`TCP_KEEPINTVL`/`TCP_KEEPCNT`).
    pub fn tcp_set_keepalive(&mut self, now: Instant, handle: TcpHandle, keepalive: Keepalive) -> io::Result<()> {
        let mut p = self.parts(now);
        p.tcp.set_keepalive(&mut p.ctx, p.out, handle, keepalive)
    }

    /// A connection's keepalive settings.
    pub fn tcp_keepalive(&self, handle: TcpHandle) -> io::Result<Keepalive> {
        self.tcp.keepalive(handle)
    }

    /// A connection's user timeout (RFC 5482, Linux's `TCP_USER_TIMEOUT`): give up
    /// when sent data stays unacknowledged this long; `None` clears it.
    pub fn tcp_set_user_timeout(&mut self, now: Instant, handle: TcpHandle, limit: Option<Duration>) -> io::Result<()> {
        let mut p = self.parts(now);
        p.tcp.set_user_timeout(&mut p.ctx, p.out, handle, limit)
    }

    /// A connection's congestion control (Linux's `TCP_CONGESTION`), chosen before
    /// it sends data (`InvalidInput` after); new connections use
    /// `TcpConfig::congestion`.
    pub fn tcp_set_congestion(&mut self, handle: TcpHandle, algorithm: CongestionAlgorithm) -> io::Result<()> {
        self.tcp.set_congestion(handle, algorithm)
    }

    /// The name of a connection's congestion controller (`"cubic"`, `"newreno"`, …).
    pub fn tcp_congestion(&self, handle: TcpHandle) -> io::Result<&'static str> {
        self.tcp.congestion(handle)
    }

    /// Nagle's algorithm off (`true`) or on.
    pub fn tcp_set_nodelay(&mut self, handle: TcpHandle, nodelay: bool) -> io::Result<()> {
        self.tcp.set_nodelay(handle, nodelay)
    }

    /// Resize the send buffer (a smaller size stops further writes until acked
    /// data frees room). On a listener: the size its connections start with.
    pub fn tcp_set_send_buffer(&mut self, handle: TcpHandle, bytes: usize) -> io::Result<()> {
        self.tcp.set_send_buffer(handle, bytes)
    }

    /// Resize the receive buffer: the window offered from now on (it never shrinks
    /// below what was already promised). On a listener: the size its connections
    /// start with, so their SYN,ACK offers it.
    pub fn tcp_set_recv_buffer(&mut self, handle: TcpHandle, bytes: usize) -> io::Result<()> {
        self.tcp.set_recv_buffer(handle, bytes)
    }

    /// A connection's (or a listener's) receive and send buffer sizes, as
    /// `getsockopt(SO_RCVBUF)` and `SO_SNDBUF` read them (they change with
    /// auto-tuning and the program's settings; Linux doubles sizes set, see
    /// [`TcpConfig::double_socket_buffers`](crate::config::TcpConfig::double_socket_buffers)).
    pub fn tcp_buffer_sizes(&self, handle: TcpHandle) -> io::Result<(usize, usize)> {
        self.tcp.buffer_sizes(handle)
    }

    /// Whether `read` would not block: data, end of stream, or an error.
    pub fn tcp_can_recv(&self, handle: TcpHandle) -> bool {
        self.tcp.can_recv(handle)
    }

    /// What `poll(2)` would say of a TCP socket: readable, writable, end of
    /// stream, error, hung up (see [`TcpReadiness`]).
    pub fn tcp_readiness(&self, handle: TcpHandle) -> TcpReadiness {
        self.tcp.readiness(handle)
    }

    pub fn tcp_local_addr(&self, handle: TcpHandle) -> io::Result<SocketAddr> {
        self.tcp.local_addr(handle)
    }

    pub fn tcp_peer_addr(&self, handle: TcpHandle) -> io::Result<SocketAddr> {
        self.tcp.peer_addr(handle)
    }

    /// The RFC 9293 state of a connection (`None` once freed).
    pub fn tcp_state(&self, handle: TcpHandle) -> Option<State> {
        self.tcp.state(handle)
    }

    /// A snapshot of a connection's sender and receiver in the units of Linux's
    /// `getsockopt(TCP_INFO)`: RTO and RTT in µs, windows in segments (`None`
    /// for a listener or a connection already freed).
    pub fn tcp_info(&self, handle: TcpHandle) -> Option<TcpInfo> {
        self.tcp.info(handle)
    }

    /// Every listener and connection, listeners first, then by local port.
    pub fn tcp_sockets(&self) -> Vec<TcpSocketInfo> {
        self.tcp.sockets()
    }

    /// Connections in the table (every state).
    pub fn tcp_connection_count(&self) -> usize {
        self.tcp.connection_count()
    }

    /// The TCP port namespace.
    pub fn tcp_ports(&self) -> &PortTable {
        self.tcp.ports()
    }

    // ----- Raw IP protocol sockets ---------------------------------------------------

    /// Open a raw socket for IP protocol `protocol`, receiving datagrams to
    /// `local` (ours, or unspecified for any) in `local`'s family: Linux's
    /// `socket(AF_INET, SOCK_RAW, protocol)` for an IPv4 address (not ICMP, TCP
    /// or UDP, which the stack speaks itself), `socket(AF_INET6, SOCK_RAW,
    /// protocol)` for an IPv6 one (not TCP, UDP or an extension header; ICMPv6
    /// may be bound). See [`crate::raw`] for how the families differ.
    pub fn raw_bind(&mut self, protocol: u8, local: impl Into<IpAddr>) -> io::Result<RawHandle> {
        self.raw.bind(protocol, local.into())
    }

    /// Receive only from `peer` (of the socket's family), and send there when
    /// no destination is given.
    pub fn raw_connect(&mut self, handle: RawHandle, peer: impl Into<IpAddr>) -> io::Result<()> {
        self.raw.connect(handle, peer.into())
    }

    /// Whether reads include the IP header (`IP_HDRINCL`'s receive side; IPv4
    /// sockets only).
    pub fn raw_set_header_included(&mut self, handle: RawHandle, included: bool) -> io::Result<()> {
        self.raw.set_header_included(handle, included)
    }

    /// Send `payload` as one datagram of the socket's protocol to `dst` (or the
    /// connected peer), through IP output: fragmented to the MTU. An IPv6
    /// socket's ICMPv6 messages are checksummed here.
    pub fn raw_send_to(&mut self, handle: RawHandle, payload: &[u8], dst: Option<IpAddr>) -> io::Result<usize> {
        let mut p = self.parts(Instant::ZERO);
        p.raw.send_to(&mut p.ctx, p.out, handle, payload, dst)
    }

    /// Take the oldest datagram (`from` carries port 0); `WouldBlock` if none.
    pub fn raw_recv(&mut self, handle: RawHandle) -> io::Result<ReceivedDatagram> {
        self.raw.recv(handle)
    }

    /// Whether a datagram is waiting.
    pub fn raw_can_recv(&self, handle: RawHandle) -> bool {
        self.raw.can_recv(handle)
    }

    /// Change the receive queue's bounds; datagrams beyond a smaller bound are
    /// dropped and counted.
    pub fn raw_set_recv_queue(&mut self, handle: RawHandle, limit: QueueLimit) -> io::Result<()> {
        let mut p = self.parts(Instant::ZERO);
        p.raw.set_recv_queue(&mut p.ctx, handle, limit)
    }

    /// Close a raw socket; datagrams still queued are discarded.
    pub fn raw_close(&mut self, handle: RawHandle) {
        if self.raw.close(handle) {
            self.events.forget_raw(handle);
        }
    }

    /// Every raw socket, by protocol.
    pub fn raw_sockets(&self) -> Vec<RawSocketInfo> {
        self.raw.sockets()
    }

    // ----- Protocols of your own ------------------------------------------------------

    /// Run `protocol` inside the stack on IP protocol `number` (see
    /// [`crate::proto`]): it receives every whole datagram of that number (after
    /// any raw socket on the number got its copy), its datagrams go out through
    /// IP output, and its deadline and events join the stack's. Errors:
    /// `AddrInUse` for ICMP, TCP and UDP or a number already registered,
    /// `InvalidInput` for the reserved 0 and 255.
    pub fn register_protocol(&mut self, number: u8, protocol: impl Protocol) -> io::Result<()> {
        self.protocols.register(number, Box::new(protocol))
    }

    /// The protocol registered on `number`, as its own type, to read its state.
    /// `NotFound` if none is, `InvalidInput` if it is not a `P`.
    pub fn protocol<P: Protocol>(&self, number: u8) -> io::Result<&P> {
        self.protocols.get(number)
    }

    /// The protocol registered on `number`, as its own type, to call its API:
    /// what the call queues goes out at the next
    /// [`poll_transmit`](Stack::poll_transmit), and a deadline it arms counts
    /// from the next [`poll_deadline`](Stack::poll_deadline).
    pub fn protocol_mut<P: Protocol>(&mut self, number: u8) -> io::Result<&mut P> {
        self.protocols.get_mut(number)
    }

    // ----- Looking inside --------------------------------------------------------

    /// Every TCP and UDP socket, TCP first; within each, by local port and then
    /// peer (a listener before its connections).
    pub fn socket_table(&self) -> Vec<SocketRow> {
        socket_table::rows(self.tcp.sockets(), self.udp.sockets(), self.raw.sockets())
    }

    /// Check every invariant of this stack (see [`crate::invariants`]); `Err`
    /// names the first one broken. Cheap enough to run after every event in a
    /// simulation: it visits each socket and connection once.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_ip().map_err(|e| format!("IP: {e}"))?;
        self.v6.as_ref().map_or(Ok(()), V6::check_invariants).map_err(|e| format!("IPv6: {e}"))?;
        self.udp.check_invariants().map_err(|e| format!("UDP: {e}"))?;
        self.raw.check_invariants().map_err(|e| format!("raw: {e}"))?;
        self.protocols.check_invariants()?;
        self.tcp.check_invariants()
    }

    /// IP's bounds: the reassembly buffer and the transmit queue.
    fn check_ip(&self) -> Result<(), String> {
        let reassembly = self.ip.reassembly();
        let limits = reassembly.config();
        let (datagrams, bytes) = (reassembly.in_progress(), reassembly.bytes_held());
        if datagrams > limits.max_datagrams {
            return Err(format!("{datagrams} datagrams in reassembly, bound {}", limits.max_datagrams));
        }
        if bytes > limits.max_bytes {
            return Err(format!("{bytes} bytes in reassembly, bound {}", limits.max_bytes));
        }
        let (queued, bound) = (self.out.len(), self.out.config().max_tx_queue);
        if queued > bound {
            return Err(format!("{queued} packets queued, bound {bound}"));
        }
        self.out.ipv6().map_or(Ok(()), Ipv6Output::check_invariants)
    }

    /// The TCP table, for tests that look inside it.
    #[cfg(test)]
    pub(crate) fn tcp_table(&self) -> &TcpTable {
        &self.tcp
    }

    /// The TCP table, for tests that break it on purpose.
    #[cfg(test)]
    pub(crate) fn tcp_table_mut(&mut self) -> &mut TcpTable {
        &mut self.tcp
    }

    /// The UDP table, for tests that break it on purpose.
    #[cfg(test)]
    pub(crate) fn udp_table_mut(&mut self) -> &mut UdpTable {
        &mut self.udp
    }
}

impl Parts<'_> {
    /// Hand a whole datagram to its transport protocol, and carry out what that
    /// protocol asks of another: an ICMP error to send, an ICMP error received.
    fn deliver(&mut self, datagram: &Datagram<'_>) {
        match datagram.protocol {
            ip_protocol::ICMP => {
                self.ctx.counters.ip_rx_delivered += 1;
                if let Some(error) = self.icmp.input(&mut self.ctx, self.out, datagram) {
                    self.icmp_error(error);
                }
            }
            ip_protocol::UDP => {
                self.ctx.counters.ip_rx_delivered += 1;
                if self.udp.input(&mut self.ctx, datagram) == Delivery::PortUnreachable {
                    // RFC 1122 4.1.3.1: no one listens → ICMP port unreachable.
                    self.icmp.send_dest_unreachable(&mut self.ctx, self.out, CODE_PORT_UNREACHABLE, datagram);
                }
            }
            ip_protocol::TCP => {
                self.ctx.counters.ip_rx_delivered += 1;
                self.tcp.input(&mut self.ctx, self.out, datagram);
            }
            other => {
                // Raw sockets get their copies first, as on Linux; then the
                // registered protocol, if any, judges the datagram.
                let raw = self.raw.input(&mut self.ctx, datagram);
                match self.protocols.input(&mut self.ctx, datagram) {
                    Some(verdict) => {
                        self.ctx.counters.ip_rx_delivered += 1;
                        self.protocol_verdict(verdict, datagram);
                    }
                    None if raw == RawDelivery::Taken => self.ctx.counters.ip_rx_delivered += 1,
                    None => {
                        // RFC 1122 3.2.2.1: a host SHOULD answer a protocol nobody
                        // here speaks with protocol unreachable (rate-limited like
                        // every error).
                        self.ctx.drop(DropReason::IpUnknownProtocol, format_args!("protocol={other}"));
                        self.icmp.send_dest_unreachable(&mut self.ctx, self.out, CODE_PROTOCOL_UNREACHABLE, datagram);
                    }
                }
            }
        }
    }

    /// Carry out what a registered protocol said of a datagram.
    fn protocol_verdict(&mut self, verdict: Verdict, datagram: &Datagram<'_>) {
        let (protocol, src) = (datagram.protocol, datagram.src);
        match verdict {
            Verdict::Accepted => {}
            Verdict::Malformed => {
                self.ctx.drop(DropReason::ProtocolMalformed, format_args!("protocol={protocol} src={src}"))
            }
            Verdict::Unreachable => {
                // As UDP's closed port (RFC 1122 4.1.3.1).
                self.ctx.drop(DropReason::ProtocolUnreachable, format_args!("protocol={protocol} src={src}"));
                self.icmp.send_dest_unreachable(&mut self.ctx, self.out, CODE_PORT_UNREACHABLE, datagram);
            }
        }
    }

    /// A destination unreachable arrived: give it to the transport whose datagram
    /// it quotes.
    fn icmp_error(&mut self, error: Unreachable<'_>) {
        let Some(quoted) = parse_quoted_datagram(error.quoted) else { return };
        if !matches!(quoted.protocol, ip_protocol::UDP | ip_protocol::TCP) {
            let about = IcmpError {
                code: error.code,
                next_hop_mtu: error.next_hop_mtu,
                dst: quoted.dst,
                quoted: quoted.payload,
            };
            self.protocols.icmp_error(self.ctx.now, quoted.protocol, &about);
            return;
        }
        let Some(q) = parse_quoted(error.quoted) else { return };
        match q.protocol {
            ip_protocol::UDP => {
                if let Some(kind) = unreachable_kind_v4(error.code) {
                    let peer = SocketAddr::from((q.dst, q.dst_port));
                    self.udp.dest_unreachable(&mut self.ctx, kind, IpAddr::V4(q.src), q.src_port, peer);
                }
            }
            _ => self.tcp.dest_unreachable(&mut self.ctx, self.out, error.code, error.next_hop_mtu, &q),
        }
    }
}
