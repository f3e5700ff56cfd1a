//! An in-memory point-to-point link between two stacks in one process.
//!
//! Built on a Unix datagram socket pair, so each end has a file descriptor the
//! runtime can `poll` like a TUN, packet boundaries are kept, and no network
//! interface or privilege is needed.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Device;

/// One end of a [`pair`].
#[derive(Debug)]
pub struct LinkDevice {
    socket: UnixDatagram,
    mtu: usize,
    /// Packets dropped because the other end's buffer was full, like a full wire queue.
    pub tx_dropped: AtomicU64,
}

/// Two connected ends of a link with the given MTU.
pub fn pair(mtu: usize) -> io::Result<(LinkDevice, LinkDevice)> {
    let (a, b) = UnixDatagram::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    let end = |socket| LinkDevice { socket, mtu, tx_dropped: AtomicU64::new(0) };
    Ok((end(a), end(b)))
}

impl Device for LinkDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.socket.recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        if packet.len() > self.mtu {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "packet larger than the link MTU"));
        }
        match self.socket.send(packet) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.tx_dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn readable_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_cross_whole() {
        let (a, b) = pair(1500).expect("pair");
        let mut buf = [0u8; 2000];
        assert_eq!(b.recv(&mut buf).expect("recv"), None);
        a.send(b"one").expect("send");
        a.send(b"three").expect("send");
        assert_eq!(b.recv(&mut buf).expect("recv"), Some(3));
        assert_eq!(b.recv(&mut buf).expect("recv"), Some(5));
        assert_eq!(&buf[..5], b"three");
        assert!(a.send(&[0; 1501]).is_err());
    }
}
