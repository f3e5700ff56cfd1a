//! Async UDP: [`UdpSocket`].

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

use super::{poll_core, send_datagram};
use crate::runtime::{Direction, Runtime, WaitOn};
use crate::shared::UdpHandle;
use crate::socket::first_addr;

/// A UDP socket for async code, bound to a port of the stack's UDP namespace.
/// Dropping it closes the socket and frees the port.
pub struct UdpSocket {
    runtime: Runtime,
    handle: UdpHandle,
}

impl UdpSocket {
    /// Bind to `addr` (`0.0.0.0:0` for any port), IPv4 or IPv6 (`[::]:P` serves
    /// both families until [`set_only_v6`](UdpSocket::set_only_v6); see the
    /// blocking [`crate::UdpSocket::bind`]). Binding never waits.
    pub fn bind(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addr = first_addr(addr)?;
        let handle = runtime.with_stack(|stack, _| stack.udp_bind(addr))?;
        Ok(UdpSocket { runtime: runtime.clone(), handle })
    }

    /// Fix the peer for `send`/`recv` (and hear its ICMP errors).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = first_addr(addr)?;
        self.runtime.with_stack(|stack, _| stack.udp_connect(self.handle, addr))
    }

    /// The next datagram and its source; bytes beyond `buf` are discarded.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// The next datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Udp(handle), Direction::Read, |stack, _| stack.udp_recv(handle)).map_ok(
            |datagram| {
                let n = datagram.data.len().min(buf.len());
                buf[..n].copy_from_slice(&datagram.data[..n]);
                (n, datagram.from)
            },
        )
    }

    /// Send one datagram to `addr`. It never waits for the network: a full
    /// transmit queue is written to the device at the end of every call, so the
    /// send is simply tried again (as the blocking socket does).
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = first_addr(addr)?;
        send_datagram(&self.runtime, |stack| stack.udp_send_to(self.handle, buf, addr))
    }

    /// Send one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        send_datagram(&self.runtime, |stack| stack.udp_send(self.handle, buf))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.udp_local_addr(self.handle))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.udp_peer_addr(self.handle))
    }

    /// `IPV6_V6ONLY`, as the blocking [`crate::UdpSocket::set_only_v6`].
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.udp_set_only_v6(self.handle, only_v6))
    }

    pub fn only_v6(&self) -> io::Result<bool> {
        self.runtime.with_stack(|stack, _| stack.udp_only_v6(self.handle))
    }

    /// Bound this socket's receive queue: at most `datagrams` datagrams and
    /// `bytes` payload bytes wait; more are dropped and counted.
    pub fn set_recv_queue_capacity(&self, datagrams: usize, bytes: usize) -> io::Result<()> {
        let limit = crate::config::QueueLimit { datagrams, bytes };
        self.runtime.with_stack(|stack, _| stack.udp_set_recv_queue(self.handle, limit))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, _| stack.udp_close(self.handle));
    }
}
