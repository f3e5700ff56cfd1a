//! `RawSocket`: whole IP datagrams of one protocol number through the user-space
//! stack, as Linux's `socket(AF_INET, SOCK_RAW, protocol)` — or, bound to an
//! IPv6 address, `socket(AF_INET6, SOCK_RAW, protocol)` (see [`crate::raw`]) —
//! for prototyping a protocol of your own on IP (RFC 3692's 253 and 254 are for
//! experiments).

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::settings::Settings;
use super::wait_for;
use crate::config::QueueLimit;
use crate::runtime::{Runtime, WaitOn};
use crate::shared::RawHandle;

/// A raw socket of one IP protocol. Dropping it closes the socket.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// # let runtime: tunstack::Runtime = unimplemented!();
/// let socket = tunstack::RawSocket::bind(&runtime, 253, std::net::Ipv4Addr::UNSPECIFIED)?; // or Ipv6Addr::UNSPECIFIED
/// let mut buf = [0u8; 65_536];
/// let (n, from) = socket.recv_from(&mut buf)?;
/// socket.send_to(&buf[..n], from)?; // an echo of protocol 253
/// # Ok(()) }
/// ```
pub struct RawSocket {
    runtime: Runtime,
    handle: RawHandle,
    settings: Settings,
}

impl RawSocket {
    /// Open a socket for IP protocol `protocol` receiving datagrams to `local`
    /// (the stack's address, or 0.0.0.0; over IPv6 its IPv6 address, or `::`),
    /// in `local`'s family. Errors: `AddrInUse` for ICMP (over IPv4), TCP and
    /// UDP (the stack speaks those itself), `InvalidInput` for 0 and 255 and,
    /// over IPv6, the extension headers; `AddrNotAvailable` for an address not
    /// ours.
    pub fn bind(runtime: &Runtime, protocol: u8, local: impl Into<IpAddr>) -> io::Result<RawSocket> {
        let local = local.into();
        let handle = runtime.with_stack(|stack, _| stack.raw_bind(protocol, local))?;
        Ok(RawSocket { runtime: runtime.clone(), handle, settings: Settings::default() })
    }

    /// Receive only from `peer` (of the socket's family); `send` goes there.
    pub fn connect(&self, peer: impl Into<IpAddr>) -> io::Result<()> {
        let peer = peer.into();
        self.runtime.with_stack(|stack, _| stack.raw_connect(self.handle, peer))
    }

    /// Reads include the IP header (as Linux's raw IPv4 sockets always do); an
    /// IPv6 socket refuses it (`InvalidInput`: its reads never do, RFC 3542 §3).
    pub fn set_header_included(&self, included: bool) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.raw_set_header_included(self.handle, included))
    }

    /// Send one datagram to `dst`; larger than the MTU, it is fragmented. An
    /// ICMPv6 socket's message is checksummed by the stack.
    pub fn send_to(&self, buf: &[u8], dst: impl Into<IpAddr>) -> io::Result<usize> {
        self.send_with(Some(dst.into()), buf)
    }

    /// Send one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_with(None, buf)
    }

    /// As `UdpSocket::send_with`: a blocking socket retries a full transmit queue
    /// (each call through the runtime ends by writing that queue out).
    fn send_with(&self, dst: Option<IpAddr>, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.runtime.with_stack(|stack, _| stack.raw_send_to(self.handle, buf, dst)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.settings.nonblocking() => continue,
                other => return other,
            }
        }
    }

    /// Receive one datagram and its source; bytes beyond `buf` are discarded.
    /// Over IPv6 the bytes are those after the IPv6 header and its extension
    /// headers.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr)> {
        let (nonblocking, timeout) = (self.settings.nonblocking(), self.settings.read_timeout());
        let datagram = wait_for(&self.runtime, WaitOn::Raw(self.handle), nonblocking, timeout, |stack, _| {
            stack.raw_recv(self.handle)
        })?;
        let n = datagram.data.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram.data[..n]);
        Ok((n, datagram.from.ip()))
    }

    /// `None` blocks forever; a zero duration is refused as std does.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.settings.set_read_timeout(timeout)
    }

    /// In non-blocking mode calls that would wait return `WouldBlock` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.settings.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Bound this socket's receive queue (datagrams and bytes); more are dropped
    /// and counted.
    pub fn set_recv_queue_capacity(&self, datagrams: usize, bytes: usize) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.raw_set_recv_queue(self.handle, QueueLimit { datagrams, bytes }))
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, _| stack.raw_close(self.handle));
    }
}

impl std::fmt::Debug for RawSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSocket").field("handle", &self.handle).finish()
    }
}
