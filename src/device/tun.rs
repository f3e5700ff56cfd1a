//! The Linux TUN driver: a virtual point-to-point interface whose other end is this
//! process. The kernel routes packets for the stack's address into the TUN; we read
//! them as raw IPv4 (no packet-information prefix) and write our packets back.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;

use tun_tap::{Iface, Mode};

use super::{wait_writable, Device};

/// A TUN interface opened and configured for the stack.
#[derive(Debug)]
pub struct TunDevice {
    iface: Iface,
    mtu: usize,
}

/// How the kernel side of the TUN is set up.
#[derive(Clone, Debug)]
pub struct TunConfig {
    /// Interface name, e.g. `tun0`.
    pub name: String,
    /// The kernel's address on the interface and the prefix length, e.g.
    /// 198.18.0.1/24: the kernel then routes that subnet, our address included,
    /// into the TUN.
    pub kernel_addr: Ipv4Addr,
    pub prefix_len: u8,
    pub mtu: usize,
}

impl TunDevice {
    /// Create the interface, set its MTU, give the kernel side its address and bring
    /// it up (with iproute2's `ip`, the commands an administrator would type).
    /// Needs `CAP_NET_ADMIN`.
    pub fn create(config: &TunConfig) -> io::Result<Self> {
        let iface = Iface::without_packet_info(&config.name, Mode::Tun).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create TUN {}: {e} (needs root and /dev/net/tun)", config.name))
        })?;
        set_nonblocking(iface.as_raw_fd())?;
        let name = iface.name().to_string();
        ip(&["link", "set", "dev", &name, "mtu", &config.mtu.to_string()])?;
        ip(&["addr", "add", &format!("{}/{}", config.kernel_addr, config.prefix_len), "dev", &name])?;
        ip(&["link", "set", "dev", &name, "up"])?;
        Ok(TunDevice { iface, mtu: config.mtu })
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        self.iface.name()
    }
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip` (install iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Device for TunDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.iface.recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            match self.iface.send(packet) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(self.iface.as_raw_fd()),
                Err(e) => return Err(e),
            }
        }
    }

    fn readable_fd(&self) -> RawFd {
        self.iface.as_raw_fd()
    }
}
