//! `UdpSocket`: datagrams through the user-space stack, in the shape of
//! `std::net::UdpSocket`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::settings::Settings;
use super::{first_addr, wait_for};
use crate::config::QueueLimit;
use crate::runtime::Runtime;
use crate::runtime::WaitOn;
use crate::shared::UdpHandle;

/// A UDP socket bound to a port of the stack's UDP namespace. Dropping it closes the
/// socket and releases the port.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// # let runtime: tunstack::Runtime = unimplemented!();
/// let socket = tunstack::UdpSocket::bind(&runtime, "0.0.0.0:7")?;
/// let mut buf = [0u8; 65_536];
/// let (n, from) = socket.recv_from(&mut buf)?;
/// socket.send_to(&buf[..n], from)?;
/// # Ok(()) }
/// ```
pub struct UdpSocket {
    runtime: Runtime,
    handle: UdpHandle,
    settings: Settings,
}

impl UdpSocket {
    /// Bind to `addr` on the stack (`0.0.0.0:0` for any port), IPv4 or IPv6:
    /// `[::]:P` is dual-stack, receiving IPv4 too from `::ffff:a.b.c.d` peers,
    /// until [`set_only_v6`](UdpSocket::set_only_v6). Errors: `AddrInUse` (the
    /// port's socket of that family is taken: IPv4 and IPv6 share the UDP
    /// ports), `PermissionDenied` (privileged port refused by config),
    /// `AddrNotAvailable`.
    pub fn bind(runtime: &Runtime, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addr = first_addr(addr)?;
        let handle = runtime.with_stack(|stack, _| stack.udp_bind(addr))?;
        Ok(UdpSocket { runtime: runtime.clone(), handle, settings: Settings::default() })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.udp_local_addr(self.handle))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.runtime.with_stack(|stack, _| stack.udp_peer_addr(self.handle))
    }

    /// Fix the peer for `send`/`recv`; datagrams from others are no longer accepted,
    /// and an ICMP port-unreachable from the peer makes the next call fail with
    /// `ConnectionRefused`.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addr = first_addr(addr)?;
        self.runtime.with_stack(|stack, _| stack.udp_connect(self.handle, addr))
    }

    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = first_addr(addr)?;
        self.send_with(|stack| stack.udp_send_to(self.handle, buf, addr))
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_with(|stack| stack.udp_send(self.handle, buf))
    }

    /// A send the core refused with `WouldBlock` found the transmit queue full.
    /// Every call through the runtime ends by writing that queue to the device, so
    /// a blocking socket simply tries again: each try starts with an empty queue
    /// unless another thread filled it in between, and then that thread's flush
    /// empties it. (A datagram needing more fragments than the queue can ever hold
    /// is refused as too big, not with `WouldBlock`.)
    fn send_with(&self, mut op: impl FnMut(&mut crate::Stack) -> io::Result<usize>) -> io::Result<usize> {
        loop {
            match self.runtime.with_stack(|stack, _| op(stack)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.settings.nonblocking() => continue,
                other => return other,
            }
        }
    }

    /// `IPV6_V6ONLY`: an IPv6 socket on `[::]` stops receiving IPv4, leaving the
    /// port's IPv4 side to an IPv4 socket. Unlike Linux it may be set after
    /// binding (binding happens at creation here); clearing it fails with
    /// `AddrInUse` while an IPv4 socket holds the port. `InvalidInput` on an
    /// IPv4 socket.
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.udp_set_only_v6(self.handle, only_v6))
    }

    pub fn only_v6(&self) -> io::Result<bool> {
        self.runtime.with_stack(|stack, _| stack.udp_only_v6(self.handle))
    }

    /// Receive one datagram; bytes beyond `buf` are discarded, as with std.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (nonblocking, timeout) = (self.settings.nonblocking(), self.settings.read_timeout());
        let datagram = wait_for(&self.runtime, WaitOn::Udp(self.handle), nonblocking, timeout, |stack, _| {
            stack.udp_recv(self.handle)
        })?;
        let n = datagram.data.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram.data[..n]);
        Ok((n, datagram.from))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// `None` blocks forever; a zero duration is refused as std does. Through
    /// `&self`, as std's, so one thread may change it while another waits.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.settings.set_read_timeout(timeout)
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.settings.read_timeout())
    }

    /// In non-blocking mode calls that would wait return `WouldBlock` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.settings.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Bound this socket's receive queue: at most `datagrams` datagrams and `bytes`
    /// payload bytes wait; more are dropped and counted.
    pub fn set_recv_queue_capacity(&self, datagrams: usize, bytes: usize) -> io::Result<()> {
        self.runtime.with_stack(|stack, _| stack.udp_set_recv_queue(self.handle, QueueLimit { datagrams, bytes }))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.runtime.with_stack(|stack, _| stack.udp_close(self.handle));
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket").field("handle", &self.handle).finish()
    }
}
