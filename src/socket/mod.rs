//! The blocking socket API, shaped like `std::net`, over a [`Runtime`](crate::Runtime).
//!
//! A socket holds a handle into the core and a clone of the runtime. Each call locks
//! the stack, asks the core, and — when the answer is "not yet" (`WouldBlock`) and the
//! socket is blocking — waits on the runtime's condition variable until the stack
//! changes or the socket's timeout passes.

mod udp;

pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// The first address `addr` resolves to (names are resolved by the host's resolver;
/// in practice programs pass literal addresses).
pub(crate) fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to use"))
}

pub(crate) fn stopped() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the tunstack runtime has shut down",
    )
}
