//! The TCP calls the stack offers programs: listen, accept, connect, send,
//! receive, shut down, close — each [`Stack`](crate::Stack) method of the same
//! name (`tcp_listen`, …) lends this table the context it needs and calls it.
//! Each returns at once; `WouldBlock` means "not yet — wait for an event".

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;

use super::buffers::SocketBuffers;
use super::congestion::CongestionAlgorithm;
use super::listener::Listener;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::Tcb;
use super::timer_table::Timer;
use super::{Keepalive, TcpInfo, TcpTable};
use crate::ip::dual_stack::{canonical, shown, Binding, Family};
use crate::ip::IpOutput;
use crate::ports::BindError;
use crate::shared::{Context, Event, TcpHandle};

/// A TCP socket as listed by [`Stack::tcp_sockets`](crate::Stack::tcp_sockets) (like a row of `ss -tan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSocketInfo {
    pub handle: TcpHandle,
    /// RFC 9293 state name (`LISTEN` for listeners).
    pub state: &'static str,
    /// Ours and the port (a listener on an IPv6 address: the address it bound,
    /// `[::]:P` for a dual-stack one).
    pub local: SocketAddr,
    /// As the program's socket names it (an IPv4 peer of an IPv6 socket as
    /// `::ffff:a.b.c.d`).
    pub peer: Option<SocketAddr>,
    /// Bytes received and not read (for a listener: connections waiting for accept).
    pub recv_queue: usize,
    /// Bytes written and not acknowledged (for a listener: the backlog).
    pub send_queue: usize,
    /// The bound of `recv_queue`: the receive buffer (for a listener: the backlog).
    pub recv_queue_max: usize,
    /// The bound of `send_queue`: the send buffer (0 for a listener).
    pub send_queue_max: usize,
    /// Packets this socket discarded on arrival (see `tunstack ss`).
    pub drops: u64,
    /// Listener only: connections in SYN-RECEIVED.
    pub half_open: Option<usize>,
    /// Connection only: the path MTU it knows (RFC 1191).
    pub path_mtu: Option<usize>,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TCP socket is closed")
}

impl TcpTable {
    /// Passive open (RFC 9293 §3.10.1): listen on `addr` with at most `backlog`
    /// connections waiting for `accept` (capped by the configured accept backlog).
    /// An IPv6 listener on `[::]` takes IPv4 SYNs too, unless `only_v6`; a port
    /// holds one listener per family (`ip/dual_stack.rs`).
    pub fn listen(&mut self, addr: SocketAddr, backlog: usize) -> io::Result<TcpHandle> {
        let ours = match canonical(addr).ip() {
            IpAddr::V4(a) => a.is_unspecified() || a == self.config.addr,
            IpAddr::V6(a) => a.is_unspecified() || Some(a) == self.config.addr6,
        };
        if !ours {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not this stack's address", addr.ip()),
            ));
        }
        let only_v6 = self.config.bind_v6only && canonical(addr).is_ipv6();
        let binding = Binding { ip: addr.ip(), only_v6 };
        // A port a listener of the other family holds may be shared; one a
        // connection owns (an active open's ephemeral port) may not.
        let port = match self.ports.bind(addr.port()) {
            Ok(port) => port,
            Err(BindError::InUse(port))
                if self.listener_by_port.get(&port).is_some_and(|p| !p.conflicts(&binding, None)) =>
            {
                port
            }
            Err(e) => return Err(e.into()),
        };
        let handle = self.new_handle();
        let backlog = backlog.clamp(1, self.config.tcp.accept_backlog.max(1));
        let local = match addr {
            SocketAddr::V4(_) => SocketAddr::from((self.config.addr, port)),
            SocketAddr::V6(a) => SocketAddr::new(IpAddr::V6(*a.ip()), port),
        };
        self.listeners.insert(handle, Listener::new(handle, local, binding, backlog));
        self.listener_by_port.entry(port).or_default().place(&binding, handle);
        Ok(handle)
    }

    /// Take the oldest established connection of a listener.
    pub fn accept(&mut self, listener: TcpHandle) -> io::Result<(TcpHandle, SocketAddr)> {
        let l = self.listeners.get_mut(&listener).ok_or_else(closed)?;
        let handle = l.accept_queue.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        let tcb = self.conns.get_mut(&handle).ok_or(io::ErrorKind::WouldBlock)?;
        tcb.listener = None;
        Ok((handle, shown(tcb.remote, tcb.names_v6)))
    }

    /// `IPV6_V6ONLY` of an IPv6 listener: whether it refuses IPv4 SYNs. May be
    /// changed while it listens (connections already made stay); turning it
    /// off takes the port's IPv4 place, `AddrInUse` while an IPv4 listener
    /// holds it.
    pub fn set_only_v6(&mut self, listener: TcpHandle, only_v6: bool) -> io::Result<()> {
        let l = self.listeners.get_mut(&listener).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "only_v6 applies to IPv6 listeners (not connections)")
        })?;
        let binding = Binding { only_v6, ..l.binding };
        let port = l.local.port();
        if !binding.is_v6_socket() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "only_v6 applies to IPv6 listeners"));
        }
        if only_v6 && !binding.serves(Family::V6) {
            let why = "a listener bound to an IPv4-mapped address is IPv4 only";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let holders = self.listener_by_port.entry(port).or_default();
        if holders.conflicts(&binding, Some(listener)) {
            return Err(BindError::InUse(port).into());
        }
        holders.place(&binding, listener);
        l.binding = binding;
        Ok(())
    }

    /// Whether an IPv6 listener refuses IPv4 (`false` for an IPv4 one).
    pub fn only_v6(&self, listener: TcpHandle) -> io::Result<bool> {
        self.listeners.get(&listener).map(|l| l.binding.only_v6).ok_or_else(closed)
    }

    /// Active open (RFC 9293 §3.10.1): send a SYN from an ephemeral port. The
    /// connection is usable once [`connect_status`](TcpTable::connect_status)
    /// says so.
    pub fn connect(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        remote: SocketAddr,
        buffers: SocketBuffers,
    ) -> io::Result<TcpHandle> {
        let names_v6 = remote.is_ipv6();
        let remote = canonical(remote);
        let unusable = match remote.ip() {
            IpAddr::V4(a) => a.is_unspecified() || a.is_broadcast() || a.is_multicast(),
            IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
        };
        if remote.port() == 0 || unusable {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot connect to that address"));
        }
        let local_ip = match remote.ip() {
            IpAddr::V4(_) => IpAddr::V4(self.config.addr),
            IpAddr::V6(_) => IpAddr::V6(self.config.addr6.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NetworkUnreachable, "this stack has no IPv6 address (StackConfig::addr6)")
            })?),
        };
        if self.conns.len() >= self.config.tcp.max_connections {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "TCP connection limit reached (max_connections)"));
        }
        let port = self.ports.bind(0)?;
        let local = SocketAddr::new(local_ip, port);
        let handle = self.new_handle();
        let iss = self.isn.isn(ctx.now, local, remote);
        let mut tcb = Tcb::new(handle, local, remote, iss, SeqNumber(0), &self.config);
        tcb.set_buffers(buffers);
        tcb.names_v6 = names_v6;
        tcb.owns_port = true;
        ctx.counters.tcp_active_opens += 1;
        self.by_tuple.insert((port, remote), handle);
        self.conns.insert(handle, Box::new(tcb));
        self.with(ctx, out, handle, |tcb, ctx| tcb.open(ctx, State::SynSent, "connect"));
        Ok(handle)
    }

    /// `Ok` once the handshake is done, `WouldBlock` while it runs, the error
    /// (`ConnectionRefused`, `TimedOut`) if it failed.
    pub fn connect_status(&mut self, handle: TcpHandle) -> io::Result<()> {
        let tcb = self.conns.get_mut(&handle).ok_or_else(closed)?;
        match tcb.state {
            State::SynSent | State::SynReceived => Err(io::ErrorKind::WouldBlock.into()),
            State::Closed => Err(tcb.error.take().map_or_else(closed, io::Error::from)),
            _ => Ok(()),
        }
    }

    /// Queue bytes to send; returns how many were taken.
    pub fn send(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        data: &[u8],
    ) -> io::Result<usize> {
        self.with(ctx, out, handle, |tcb, ctx| {
            let result = tcb.user_send(data);
            tcb.output(ctx);
            result
        })
        .unwrap_or_else(|| Err(closed()))
    }

    /// Read received bytes; `Ok(0)` at end of stream.
    pub fn recv(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        self.receive(ctx, out, handle, |tcb| tcb.user_recv(buf))
    }

    /// Consume up to `max` received bytes without copying them (`MSG_TRUNC`).
    pub fn discard(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        max: usize,
    ) -> io::Result<usize> {
        self.receive(ctx, out, handle, |tcb| tcb.user_discard(max))
    }

    /// RECEIVE by `take`, then what a read sets off: the auto-tuner hears of
    /// the bytes taken, and a window update goes out if one is due.
    fn receive(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        take: impl FnOnce(&mut Tcb) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.with(ctx, out, handle, |tcb, ctx| {
            let result = take(tcb);
            if let Ok(n) = result {
                tcb.rcv.after_read(ctx.now, n, tcb.snd.rtt.srtt());
            }
            tcb.output(ctx);
            result
        })
        .unwrap_or_else(|| Err(closed()))
    }

    /// Shut down reading, writing or both (writing sends FIN after queued data).
    pub fn shutdown(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        how: Shutdown,
    ) -> io::Result<()> {
        self.with(ctx, out, handle, |tcb, ctx| {
            if tcb.state == State::Closed {
                return Err(closed());
            }
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                tcb.read_closed = true;
                tcb.rcv.buffer.clear();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                tcb.user_shutdown_write();
            }
            tcb.output(ctx);
            Ok(())
        })
        .unwrap_or_else(|| Err(closed()))
    }

    /// The program let go of a connection: graceful close, or RST if it left
    /// received data unread.
    pub fn close(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, handle: TcpHandle) {
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.user_close(ctx);
            tcb.output(ctx);
        });
    }

    /// Reset a connection at once (RFC 9293 §3.10.5 ABORT).
    pub fn abort(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, handle: TcpHandle) {
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.attached = false;
            tcb.abort(ctx, "abort");
        });
    }

    /// Stop listening; connections not yet accepted are closed.
    pub fn close_listener(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, listener: TcpHandle) {
        let Some(l) = self.listeners.remove(&listener) else {
            return;
        };
        ctx.forget(Event::Tcp(listener));
        let port = l.local.port();
        if self.listener_by_port.get_mut(&port).is_none_or(|holders| holders.remove(listener)) {
            self.listener_by_port.remove(&port);
            self.ports.release(port);
        }
        let pending: Vec<TcpHandle> =
            self.conns.iter().filter(|(_, t)| t.listener == Some(listener)).map(|(&h, _)| h).collect();
        // As Linux (inet_csk_listen_stop) and FreeBSD: a connection nobody
        // accepted is reset — no program will ever read or close it — and a
        // half-open one is forgotten.
        for handle in pending {
            self.with(ctx, out, handle, |tcb, ctx| {
                tcb.listener = None;
                tcb.attached = false;
                if tcb.state == State::SynReceived {
                    tcb.stop_timers();
                    tcb.set_state(State::Closed, "listener closed");
                } else {
                    tcb.abort(ctx, "listener closed");
                }
            });
        }
    }

    /// Turn keepalive on or off and set its times for one connection (RFC 1122
    /// 4.2.3.6); the idle time counts from now.
    pub fn set_keepalive(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        keepalive: Keepalive,
    ) -> io::Result<()> {
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.keepalive = keepalive;
            let next = keepalive.enabled.then(|| ctx.now + keepalive.idle);
            tcb.timers.set_to(Timer::Keepalive, next);
        })
        .ok_or_else(closed)
    }

    /// A connection's keepalive settings.
    pub fn keepalive(&self, handle: TcpHandle) -> io::Result<Keepalive> {
        self.conns.get(&handle).map(|t| t.keepalive).ok_or_else(closed)
    }

    /// Set or clear a connection's user timeout (RFC 5482): with data in flight it
    /// counts from now.
    pub fn set_user_timeout(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        limit: Option<Duration>,
    ) -> io::Result<()> {
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.user_timeout = limit;
            tcb.restart_user_timeout(ctx.now);
        })
        .ok_or_else(closed)
    }

    /// Choose a connection's congestion control, before it sends data.
    pub fn set_congestion(&mut self, handle: TcpHandle, algorithm: CongestionAlgorithm) -> io::Result<()> {
        self.conns.get_mut(&handle).ok_or_else(closed)?.set_congestion(algorithm)
    }

    /// The name of a connection's congestion controller (`"cubic"`, `"newreno"`, …).
    pub fn congestion(&self, handle: TcpHandle) -> io::Result<&'static str> {
        self.conns.get(&handle).map(|t| t.snd.cc.name()).ok_or_else(closed)
    }

    /// Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, handle: TcpHandle, nodelay: bool) -> io::Result<()> {
        let tcb = self.conns.get_mut(&handle).ok_or_else(closed)?;
        tcb.nodelay = nodelay;
        Ok(())
    }

    /// Resize the send buffer (a smaller size stops further writes until acked
    /// data frees room).
    pub fn set_send_buffer(&mut self, handle: TcpHandle, bytes: usize) -> io::Result<()> {
        self.set_buffers(handle, SocketBuffers { send: Some(bytes), recv: None })
    }

    /// Resize the receive buffer: the window offered from now on (it never shrinks
    /// below what was already promised).
    pub fn set_recv_buffer(&mut self, handle: TcpHandle, bytes: usize) -> io::Result<()> {
        self.set_buffers(handle, SocketBuffers { recv: Some(bytes), send: None })
    }

    /// Sizes for a connection, or for the connections a listener will accept.
    fn set_buffers(&mut self, handle: TcpHandle, buffers: SocketBuffers) -> io::Result<()> {
        if let Some(l) = self.listeners.get_mut(&handle) {
            l.buffers.recv = buffers.recv.or(l.buffers.recv);
            l.buffers.send = buffers.send.or(l.buffers.send);
            return Ok(());
        }
        self.conns.get_mut(&handle).ok_or_else(closed)?.set_buffers(buffers);
        Ok(())
    }

    /// A connection's or a listener's receive and send buffer sizes, as
    /// `getsockopt(SO_RCVBUF, SO_SNDBUF)` reports them (`buffers.rs`).
    pub fn buffer_sizes(&self, handle: TcpHandle) -> io::Result<(usize, usize)> {
        let tcp = &self.config.tcp;
        if let Some(l) = self.listeners.get(&handle) {
            let held = (l.buffers.recv.unwrap_or(tcp.recv_buffer), l.buffers.send.unwrap_or(tcp.send_buffer));
            return Ok(l.buffers.reported(tcp, held));
        }
        let t = self.conns.get(&handle).ok_or_else(closed)?;
        Ok(t.asked.reported(tcp, (t.rcv.capacity, t.snd.buffer.capacity())))
    }

    /// Whether `read` would not block: data, end of stream, or an error.
    pub fn can_recv(&self, handle: TcpHandle) -> bool {
        self.conns.get(&handle).is_none_or(|t| {
            !t.rcv.buffer.is_empty() || t.state.fin_received() || t.error.is_some() || t.state == State::Closed
        })
    }

    pub fn local_addr(&self, handle: TcpHandle) -> io::Result<SocketAddr> {
        if let Some(l) = self.listeners.get(&handle) {
            return Ok(l.local);
        }
        self.conns.get(&handle).map(|t| shown(t.local, t.names_v6)).ok_or_else(closed)
    }

    pub fn peer_addr(&self, handle: TcpHandle) -> io::Result<SocketAddr> {
        self.conns.get(&handle).map(|t| shown(t.remote, t.names_v6)).ok_or_else(closed)
    }

    /// The RFC 9293 state of a connection (`None` once freed).
    pub fn state(&self, handle: TcpHandle) -> Option<State> {
        self.conns.get(&handle).map(|t| t.state)
    }

    /// A connection's [`TcpInfo`] snapshot (`None` for a listener or once freed).
    pub fn info(&self, handle: TcpHandle) -> Option<TcpInfo> {
        self.conns.get(&handle).map(|tcb| tcb.info())
    }

    /// Every listener and connection, listeners first, then by local port (a
    /// connection's peers in address order).
    pub fn sockets(&self) -> Vec<TcpSocketInfo> {
        let mut list: Vec<TcpSocketInfo> = self
            .listeners
            .values()
            .map(|l| TcpSocketInfo {
                handle: l.handle,
                state: "LISTEN",
                local: l.local,
                peer: None,
                recv_queue: l.accept_queue.len(),
                send_queue: l.backlog,
                recv_queue_max: l.backlog,
                send_queue_max: 0,
                drops: l.overflows,
                half_open: Some(l.half_open),
                path_mtu: None,
            })
            .collect();
        let mut conns: Vec<TcpSocketInfo> = self
            .conns
            .values()
            .map(|t| TcpSocketInfo {
                handle: t.handle,
                state: t.state.name(),
                local: shown(t.local, t.names_v6),
                peer: Some(shown(t.remote, t.names_v6)),
                recv_queue: t.rcv.buffer.len(),
                send_queue: t.snd.buffer.len(),
                recv_queue_max: t.rcv.capacity,
                send_queue_max: t.snd.buffer.capacity(),
                drops: t.dropped,
                half_open: None,
                path_mtu: Some(t.pmtu),
            })
            .collect();
        list.sort_by_key(|i| i.local.port());
        conns.sort_by_key(|i| (i.local.port(), i.peer));
        list.extend(conns);
        list
    }

    /// Connections in the table (every state).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
