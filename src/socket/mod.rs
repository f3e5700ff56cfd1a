//! The blocking socket API, shaped like `std::net`, over a [`Runtime`](crate::Runtime).
//!
//! A socket holds a handle into the core and a clone of the runtime. Each call locks
//! the stack, asks the core, and — when the answer is "not yet" (`WouldBlock`) and the
//! socket is blocking — waits until the core reports an event for that socket or
//! the socket's timeout passes.

mod protocol;
mod raw;
mod settings;
mod tcp;
mod udp;

pub use protocol::ProtocolHandle;
pub use raw::RawSocket;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::runtime::WaitOn;

/// The first address `addr` resolves to (names are resolved by the host's resolver;
/// in practice programs pass literal addresses).
pub(crate) fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to use"))
}

pub(crate) fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the tunstack runtime has shut down")
}

/// Run `op` until it stops saying `WouldBlock`, waiting in between (unless
/// `nonblocking`) for an event that names `on`, for at most `timeout` (then
/// `TimedOut`).
pub(crate) fn wait_for<T>(
    runtime: &crate::Runtime,
    on: WaitOn,
    nonblocking: bool,
    timeout: Option<std::time::Duration>,
    mut op: impl FnMut(&mut crate::Stack, crate::Instant) -> io::Result<T>,
) -> io::Result<T> {
    let inner = runtime.inner();
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut stack = inner.lock();
    let mut timed_out = false;
    loop {
        let result = inner.call(&mut stack, &mut op);
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => {
                if inner.is_stopped() {
                    return Err(stopped());
                }
                if timed_out {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "socket call timed out"));
                }
                timed_out = !inner.wait(&mut stack, on, deadline);
            }
            other => return other,
        }
    }
}
