//! Async raw IP protocol sockets: [`RawSocket`], the async twin of
//! [`crate::RawSocket`] (Linux's `SOCK_RAW` semantics over IPv4 or IPv6,
//! `src/raw/`).

use std::future::poll_fn;
use std::io;
use std::net::IpAddr;
use std::task::{Context, Poll};

use super::{poll_core, send_datagram};
use crate::runtime::{Direction, Runtime, WaitOn};
use crate::shared::RawHandle;

/// A raw socket of one IP protocol for async code. Dropping it closes it.
pub struct RawSocket {
    runtime: Runtime,
    handle: RawHandle,
}

impl RawSocket {
    /// Open a socket for IP protocol `protocol` receiving datagrams to `local`
    /// (the stack's address, or 0.0.0.0; over IPv6 its IPv6 address, or `::`),
    /// in `local`'s family. Errors as the blocking socket's.
    pub fn bind(runtime: &Runtime, protocol: u8, local: impl Into<IpAddr>) -> io::Result<RawSocket> {
        let local = local.into();
        let handle = runtime.with_stack(|stack, _| stack.raw_bind(protocol, local))?;
        Ok(RawSocket { runtime: runtime.clone(), handle })
    }

    /// Bound this socket's receive queue (datagrams and bytes); more are dropped
    /// and counted.
    pub fn set_recv_queue_capacity(&self, datagrams: usize, bytes: usize) -> io::Result<()> {
        let limit = crate::config::QueueLimit { datagrams, bytes };
        self.runtime.with_stack(|stack, _| stack.raw_set_recv_queue(self.handle, limit))
    }

    /// Receive only from `peer` (of the socket's family); `send` goes there.
    pub fn connect(&self, peer: impl Into<IpAddr>) -> io::Result<()> {
        let peer = peer.into();
        self.runtime.with_stack(|stack, _| stack.raw_connect(self.handle, peer))
    }

    /// The next datagram (its payload, or the whole datagram with
    /// `set_header_included`) and its source; bytes beyond `buf` are discarded.
    /// Over IPv6, the bytes after the IPv6 header and its extension headers.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, IpAddr)>> {
        let handle = self.handle;
        poll_core(&self.runtime, cx, WaitOn::Raw(handle), Direction::Read, |stack, _| stack.raw_recv(handle)).map_ok(
            |datagram| {
                let n = datagram.data.len().min(buf.len());
                buf[..n].copy_from_slice(&datagram.data[..n]);
                (n, datagram.from.ip())
            },
        )
    }

    /// Send one datagram to `dst` (fragmented when larger than the MTU). It
    /// never waits for the network: a full transmit queue is written out at the
    /// end of every call, so the send is tried again, as the blocking socket does.
    /// An ICMPv6 socket's message is checksummed by the stack.
    pub async fn send_to(&self, buf: &[u8], dst: impl Into<IpAddr>) -> io::Result<usize> {
        self.send_with(Some(dst.into()), buf)
    }

    /// Send one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_with(None, buf)
    }

    fn send_with(&self, dst: Option<IpAddr>, buf: &[u8]) -> io::Result<usize> {
        send_datagram(&self.runtime, |stack| stack.raw_send_to(self.handle, buf, dst))
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, _| stack.raw_close(self.handle));
    }
}
