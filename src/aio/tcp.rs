//! Async TCP: [`TcpListener`], [`TcpStream`] and its owned halves.

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::poll_core;
use crate::runtime::{Direction, Runtime, WaitOn};
use crate::shared::TcpHandle;
use crate::socket::first_addr;

/// A listening TCP socket. Dropping it stops listening and resets connections
/// not yet accepted.
pub struct TcpListener {
    runtime: Runtime,
    handle: TcpHandle,
}

impl TcpListener {
    /// Listen on `addr` (port 0: an ephemeral port) with the configured backlog,
    /// IPv4 or IPv6 (`[::]:P` is dual-stack until
    /// [`set_only_v6`](TcpListener::set_only_v6)). Binding never waits, so it is
    /// not `async`.
    pub fn bind(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(runtime, addr, usize::MAX)
    }

    /// Listen with at most `backlog` connections waiting for `accept`.
    pub fn bind_with_backlog(runtime: &Runtime, addr: impl ToSocketAddrs, backlog: usize) -> io::Result<TcpListener> {
        let addr = first_addr(addr)?;
        let handle = runtime.with_stack(|stack, _| stack.tcp_listen(addr, backlog))?;
        Ok(TcpListener { runtime: runtime.clone(), handle })
    }

    /// The next established connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The next established connection, or `Pending` until one is.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Tcp(handle), Direction::Read, |stack, _| stack.tcp_accept(handle))
            .map_ok(|(conn, peer)| (TcpStream::from_handle(&self.runtime, conn), peer))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.tcp_local_addr(self.handle))
    }

    /// `IPV6_V6ONLY`, as the blocking [`crate::TcpListener::set_only_v6`].
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

/// One connection, shared by a stream's halves; closed when the last goes.
struct Conn {
    runtime: Runtime,
    handle: TcpHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, now| stack.tcp_close(now, self.handle));
    }
}

impl Conn {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Tcp(handle), Direction::Read, |stack, now| {
            stack.tcp_recv(now, handle, buf)
        })
    }

    fn poll_discard(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Tcp(handle), Direction::Read, |stack, now| {
            stack.tcp_discard(now, handle, max)
        })
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Tcp(handle), Direction::Write, |stack, now| {
            stack.tcp_send(now, handle, buf)
        })
    }

    /// Queue all of `buf`. Cancelled, it may have queued a part of it.
    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.poll_write(cx, buf)).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.runtime.with_stack(|stack, now| stack.tcp_shutdown(now, self.handle, how))
    }
}

/// A TCP connection for async code. Reads and writes take `&self`, so one task
/// may read while another writes; [`into_split`](TcpStream::into_split) gives
/// owned halves for tasks that must own them. Dropping the last of them closes
/// the connection (FIN; RST if received data was left unread, RFC 1122
/// 4.2.2.13).
pub struct TcpStream {
    conn: Arc<Conn>,
}

impl TcpStream {
    fn from_handle(runtime: &Runtime, handle: TcpHandle) -> TcpStream {
        TcpStream { conn: Arc::new(Conn { runtime: runtime.clone(), handle }) }
    }

    /// Open a connection (active open from an ephemeral port); ready once the
    /// handshake is done. Errors: `ConnectionRefused` (RST), `TimedOut` (SYN
    /// retries). Dropping the future closes the half-open connection.
    pub async fn connect(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let addr = first_addr(addr)?;
        let handle = runtime.with_stack(|stack, now| stack.tcp_connect(now, addr))?;
        let stream = TcpStream::from_handle(runtime, handle);
        poll_fn(|cx| {
            poll_core(runtime, cx, WaitOn::Tcp(handle), Direction::Write, |stack, _| stack.tcp_connect_status(handle))
        })
        .await?;
        Ok(stream)
    }

    /// Read into `buf`: at least one byte, or 0 at the end of the stream.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Throw away up to `max` received bytes, waiting for some: how many (0 at
    /// the end of the stream). Like `recv(…, MSG_TRUNC)`: nothing is copied.
    pub async fn discard(&self, max: usize) -> io::Result<usize> {
        poll_fn(|cx| self.poll_discard(cx, max)).await
    }

    pub fn poll_discard(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        self.conn.poll_discard(cx, max)
    }

    /// Queue bytes of `buf` to send: at least one, or an error.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Queue all of `buf`. Cancelled, it may have queued a part of it.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.conn.write_all(buf).await
    }

    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.conn.poll_read(cx, buf)
    }

    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.conn.poll_write(cx, buf)
    }

    /// Read without waiting: `WouldBlock` when nothing is there (for programs
    /// that wait with [`readable`](TcpStream::readable) themselves).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.runtime.with_stack(|stack, now| stack.tcp_recv(now, self.conn.handle, buf))
    }

    /// Queue without waiting: `WouldBlock` when the send buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.conn.runtime.with_stack(|stack, now| stack.tcp_send(now, self.conn.handle, buf))
    }

    /// Wait until a read would not block: data, the end of the stream, or an
    /// error (poll(2)'s POLLIN, POLLRDHUP, POLLERR or POLLHUP).
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_ready(cx, Direction::Read)).await
    }

    /// Wait until a write would take a byte or fail at once (POLLOUT, POLLERR,
    /// POLLHUP).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_ready(cx, Direction::Write)).await
    }

    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        let handle = self.conn.handle;
        poll_core(&self.conn.runtime, cx, WaitOn::Tcp(handle), direction, |stack, _| {
            let r = stack.tcp_readiness(handle);
            let ready = r.error || r.hang_up || if direction == Direction::Read { r.readable } else { r.writable };
            if ready {
                Ok(())
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        })
    }

    /// Shut down reading, writing (FIN after the queued data) or both. Never
    /// waits: the FIN goes when the queued data has.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.conn.shutdown(how)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.conn.runtime.with_stack(|stack, _| stack.tcp_peer_addr(self.conn.handle))
    }

    /// The runtime this connection lives on (a service may want to look at the
    /// rest of its stack, as HTTP's `/sockets` page does).
    pub fn runtime(&self) -> &Runtime {
        &self.conn.runtime
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.conn.runtime.with_stack(|stack, _| stack.tcp_local_addr(self.conn.handle))
    }

    /// Turn Nagle's algorithm off (`true`): small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.conn.runtime.with_stack(|stack, _| stack.tcp_set_nodelay(self.conn.handle, nodelay))
    }

    /// A read half and a write half that tasks can own. Dropping the write half
    /// shuts down writing (FIN), as tokio's does; the connection closes when
    /// both are gone.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf { conn: Arc::clone(&self.conn) }, OwnedWriteHalf { conn: self.conn })
    }
}

/// The reading half of a [`TcpStream`].
pub struct OwnedReadHalf {
    conn: Arc<Conn>,
}

impl OwnedReadHalf {
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.conn.poll_read(cx, buf)
    }
}

/// The writing half of a [`TcpStream`]; dropping it sends FIN.
pub struct OwnedWriteHalf {
    conn: Arc<Conn>,
}

impl OwnedWriteHalf {
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Queue all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.conn.write_all(buf).await
    }

    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.conn.poll_write(cx, buf)
    }

    /// Send FIN after the queued data, without waiting to be dropped.
    pub fn shutdown(&self) -> io::Result<()> {
        self.conn.shutdown(Shutdown::Write)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // The connection may be gone already (reset): nothing left to shut.
        let _ = self.conn.shutdown(Shutdown::Write);
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::TcpStream").field("handle", &self.conn.handle).finish()
    }
}
