//! `TcpListener` and `TcpStream`: byte streams through the user-space stack, in the
//! shape of `std::net`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::settings::Settings;
use super::{first_addr, wait_for};
use crate::config::{CongestionAlgorithm, Keepalive};
use crate::runtime::Runtime;
use crate::runtime::WaitOn;
use crate::shared::TcpHandle;

/// A listening TCP socket. Dropping it stops listening and closes connections not
/// yet accepted.
pub struct TcpListener {
    runtime: Runtime,
    handle: TcpHandle,
    settings: Settings,
}

impl TcpListener {
    /// Listen on `addr` (port 0: an ephemeral port) with the configured backlog,
    /// IPv4 or IPv6: `[::]:P` takes IPv4 connections too (their peers named
    /// `::ffff:a.b.c.d`) until [`set_only_v6`](TcpListener::set_only_v6).
    pub fn bind(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(runtime, addr, usize::MAX)
    }

    /// Listen with at most `backlog` connections waiting for `accept`.
    pub fn bind_with_backlog(runtime: &Runtime, addr: impl ToSocketAddrs, backlog: usize) -> io::Result<TcpListener> {
        let addr = first_addr(addr)?;
        let handle = runtime.with_stack(|stack, _| stack.tcp_listen(addr, backlog))?;
        Ok(TcpListener { runtime: runtime.clone(), handle, settings: Settings::default() })
    }

    /// Wait for the next connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let nonblocking = self.settings.nonblocking();
        let (handle, peer) = wait_for(&self.runtime, WaitOn::Tcp(self.handle), nonblocking, None, |stack, _| {
            stack.tcp_accept(self.handle)
        })?;
        Ok((TcpStream::from_handle(&self.runtime, handle), peer))
    }

    /// An endless iterator over accepted connections, like std's.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.tcp_local_addr(self.handle))
    }

    /// In non-blocking mode `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.settings.set_nonblocking(nonblocking);
        Ok(())
    }

    /// `IPV6_V6ONLY`: an IPv6 listener on `[::]` refuses IPv4 connections (their
    /// SYNs are reset) from now on. `InvalidInput` on an IPv4 listener.
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.tcp_set_only_v6(self.handle, only_v6))
    }

    pub fn only_v6(&self) -> io::Result<bool> {
        self.runtime.with_stack(|stack, _| stack.tcp_only_v6(self.handle))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, now| stack.tcp_close_listener(now, self.handle));
    }
}

/// A TCP connection. Dropping it closes it gracefully (FIN), or resets it if
/// received data was left unread (RFC 1122 4.2.2.13).
///
/// As with `std::net::TcpStream`, `&TcpStream` reads and writes too, so one
/// thread may read while another writes the same stream.
pub struct TcpStream {
    runtime: Runtime,
    handle: TcpHandle,
    /// Shared by clones from [`try_clone`](TcpStream::try_clone); the connection
    /// closes when the last one goes.
    owner: Arc<Owner>,
}

/// Closes the connection when the last handle is dropped; holds the settings
/// every handle shares.
struct Owner {
    runtime: Runtime,
    handle: TcpHandle,
    settings: Settings,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, now| stack.tcp_close(now, self.handle));
    }
}

impl TcpStream {
    fn from_handle(runtime: &Runtime, handle: TcpHandle) -> TcpStream {
        let owner = Arc::new(Owner { runtime: runtime.clone(), handle, settings: Settings::default() });
        TcpStream { runtime: runtime.clone(), handle, owner }
    }

    /// The runtime this connection lives on (a service may want to look at the
    /// rest of its stack, as HTTP's `/sockets` page does).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Another handle on the same connection (e.g. one thread reads while another
    /// writes), like `std::net::TcpStream::try_clone`: timeouts and non-blocking
    /// mode are the connection's, shared by every handle.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream { runtime: self.runtime.clone(), handle: self.handle, owner: Arc::clone(&self.owner) })
    }

    /// Open a connection (active open from an ephemeral port). Errors:
    /// `ConnectionRefused` when the peer answers RST, `TimedOut` after the SYN
    /// retries.
    pub fn connect(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_inner(runtime, first_addr(addr)?, None)
    }

    /// Like `connect`, giving up with `TimedOut` after `timeout`.
    pub fn connect_timeout(runtime: &Runtime, addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a zero connect timeout is not allowed"));
        }
        Self::connect_inner(runtime, *addr, Some(timeout))
    }

    fn connect_inner(runtime: &Runtime, addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let handle = runtime.with_stack(|stack, now| stack.tcp_connect(now, addr))?;
        let stream = TcpStream::from_handle(runtime, handle);
        match wait_for(runtime, WaitOn::Tcp(handle), false, timeout, |stack, _| stack.tcp_connect_status(handle)) {
            Ok(()) => Ok(stream),
            Err(e) => {
                runtime.with_stack(|stack, now| stack.tcp_abort(now, handle));
                drop(stream);
                Err(e)
            }
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.tcp_peer_addr(self.handle))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.tcp_local_addr(self.handle))
    }

    /// Shut down reading, writing (sends FIN after queued data) or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.runtime.with_stack(|stack, now| stack.tcp_shutdown(now, self.handle, how))
    }

    /// This connection's congestion control (Linux's `TCP_CONGESTION`), chosen
    /// before anything is written (`InvalidInput` after). New connections use
    /// `TcpConfig::congestion`, CUBIC by default.
    pub fn set_congestion(&self, algorithm: CongestionAlgorithm) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.tcp_set_congestion(self.handle, algorithm))
    }

    /// The name of this connection's congestion controller (`"cubic"`,
    /// `"newreno"`, …).
    pub fn congestion(&self) -> io::Result<&'static str> {
        self.runtime.with_stack(|stack, _| stack.tcp_congestion(self.handle))
    }

    /// Turn Nagle's algorithm off (`true`): small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.tcp_set_nodelay(self.handle, nodelay))
    }

    /// Keepalive on (`Some(idle)`: probe after that much silence, with the
    /// stack's configured interval and count) or off (`None`) — `SO_KEEPALIVE`
    /// with `TCP_KEEPIDLE`. For every knob see [`set_keepalive_params`](TcpStream::set_keepalive_params).
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        self.runtime.with_stack(|stack, now| {
            let mut keepalive = stack.tcp_keepalive(self.handle)?;
            keepalive.enabled = idle.is_some();
            keepalive.idle = idle.unwrap_or(keepalive.idle);
            stack.tcp_set_keepalive(now, self.handle, keepalive)
        })
    }

    /// Keepalive's every knob: on or off, idle time, interval, probe count
    /// (RFC 1122 4.2.3.6, Linux's `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
    pub fn set_keepalive_params(&self, keepalive: Keepalive) -> io::Result<()> {
        if keepalive.enabled && (keepalive.idle.is_zero() || keepalive.interval.is_zero() || keepalive.probes == 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "keepalive needs an idle time, an interval and a probe count",
            ));
        }
        self.runtime.with_stack(|stack, now| stack.tcp_set_keepalive(now, self.handle, keepalive))
    }

    /// The connection's keepalive settings.
    pub fn keepalive(&self) -> io::Result<Keepalive> {
        self.runtime.with_stack(|stack, _| stack.tcp_keepalive(self.handle))
    }

    /// Give up when sent data stays unacknowledged this long (RFC 5482, Linux's
    /// `TCP_USER_TIMEOUT`); `None` leaves only the retry limit.
    pub fn set_user_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a zero user timeout is not allowed (use None)"));
        }
        self.runtime.with_stack(|stack, now| stack.tcp_set_user_timeout(now, self.handle, timeout))
    }

    /// `None` blocks forever; a zero duration is refused as std does.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.owner.settings.set_read_timeout(timeout)
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.owner.settings.read_timeout())
    }

    /// `None` blocks forever; a zero duration is refused as std does.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.owner.settings.set_write_timeout(timeout)
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.owner.settings.write_timeout())
    }

    /// In non-blocking mode calls that would wait return `WouldBlock` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.owner.settings.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Size the send buffer (bytes written but not yet acknowledged).
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.tcp_set_send_buffer(self.handle, bytes))
    }

    /// Size the receive buffer: the largest window offered to the peer.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.tcp_set_recv_buffer(self.handle, bytes))
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (handle, settings) = (self.handle, &self.owner.settings);
        wait_for(&self.runtime, WaitOn::Tcp(handle), settings.nonblocking(), settings.read_timeout(), |stack, now| {
            stack.tcp_recv(now, handle, buf)
        })
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (handle, settings) = (self.handle, &self.owner.settings);
        wait_for(&self.runtime, WaitOn::Tcp(handle), settings.nonblocking(), settings.write_timeout(), |stack, now| {
            stack.tcp_send(now, handle, buf)
        })
    }

    /// Data is handed to the stack by `write`; there is nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream").field("handle", &self.handle).finish()
    }
}
