//! The Linux TUN driver: a virtual point-to-point interface whose other end is this
//! process. The kernel routes packets for the stack's address into the TUN; we read
//! them as raw IPv4 (no packet-information prefix) and write our packets back.
//!
//! Two ways to open it: plain (with `tun-tap`), one packet per read and write; or
//! with offloads ([`TunConfig::offload`]), where a virtio-net header travels with
//! every packet, the kernel hands us TCP segments of up to 64 KiB and we hand it
//! runs of segments glued into one ([`super::vnet`], `device/tun_vnet.rs`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use tun_tap::{Iface, Mode};

use super::vnet::{self, VnetHeader, Write, PLAIN};
use super::{tun_vnet, wait_writable, Device};
use crate::RxChecksum;

/// A TUN interface opened and configured for the stack.
#[derive(Debug)]
pub struct TunDevice {
    fd: TunFd,
    name: String,
    mtu: usize,
    /// Whether the last packet read came with a checksum the kernel left to us
    /// and we vouch for (`vnet::accept`).
    vouched: AtomicBool,
    /// Whether the stack leaves TCP checksums to us (`offload_tx_checksum`).
    tx_partial: AtomicBool,
}

/// The descriptor, and how packets cross it.
#[derive(Debug)]
enum TunFd {
    /// One bare IP packet per read or write.
    Plain(Iface),
    /// A virtio-net header before every packet; offloads on.
    Vnet(OwnedFd),
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
    /// The kernel's IPv6 address and prefix length (e.g. 2001:2::1/64), if any:
    /// IPv6 is turned on for the interface (`disable_ipv6` 0) and the address
    /// added without duplicate address detection (`nodad`), usable at once.
    pub kernel_addr6: Option<(Ipv6Addr, u8)>,
    pub mtu: usize,
    /// Open with `IFF_VNET_HDR` and checksum/TCP segmentation offloads: the kernel
    /// passes TCP segments of up to 64 KiB, and runs of ours go out in one write.
    pub offload: bool,
}

impl TunDevice {
    /// Create the interface, set its MTU, give the kernel side its address and bring
    /// it up (with iproute2's `ip`, the commands an administrator would type).
    /// Needs `CAP_NET_ADMIN`.
    pub fn create(config: &TunConfig) -> io::Result<Self> {
        let cannot = |e: io::Error| {
            io::Error::new(
                e.kind(),
                match why_not(&config.name, &e) {
                    Some(why) => format!("cannot create TUN {}: {e} ({why})", config.name),
                    None => format!("cannot create TUN {}: {e}", config.name),
                },
            )
        };
        let (fd, name) = if config.offload {
            let (fd, name) = tun_vnet::open(&config.name).map_err(cannot)?;
            (TunFd::Vnet(fd), name)
        } else {
            let iface = Iface::without_packet_info(&config.name, Mode::Tun).map_err(cannot)?;
            set_nonblocking(iface.as_raw_fd())?;
            let name = iface.name().to_string();
            (TunFd::Plain(iface), name)
        };
        ip(&["link", "set", "dev", &name, "mtu", &config.mtu.to_string()])?;
        ip(&["addr", "add", &format!("{}/{}", config.kernel_addr, config.prefix_len), "dev", &name])?;
        if let Some((addr6, prefix6)) = config.kernel_addr6 {
            enable_ipv6(&name)?;
            ip(&["-6", "addr", "add", &format!("{addr6}/{prefix6}"), "dev", &name, "nodad"])?;
        }
        ip(&["link", "set", "dev", &name, "up"])?;
        Ok(TunDevice { fd, name, mtu: config.mtu, vouched: AtomicBool::new(false), tx_partial: AtomicBool::new(false) })
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the TUN was opened with offloads.
    pub fn offload(&self) -> bool {
        matches!(self.fd, TunFd::Vnet(_))
    }

    /// Write one packet behind a virtio-net header, waiting while the queue is full.
    /// The virtio-net header of a packet written alone: complete, unless the
    /// stack left its TCP checksum to us.
    fn lone_header(&self, packet: &[u8]) -> VnetHeader {
        if self.tx_partial.load(Ordering::Relaxed) {
            vnet::lone_header(packet)
        } else {
            PLAIN
        }
    }

    fn send_vnet(&self, fd: RawFd, header: &VnetHeader, parts: &[&[u8]]) -> io::Result<()> {
        loop {
            match tun_vnet::send(fd, header, parts) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(fd),
                other => return other,
            }
        }
    }
}

/// What to do about `e`, the failure to open the TUN `name`: the kernel's own
/// words (`Device or resource busy`) name the symptom, not the cause.
fn why_not(name: &str, e: &io::Error) -> Option<String> {
    let why = match e.raw_os_error()? {
        libc::EBUSY => {
            format!("{name} is already in use: another process, maybe another tunstack, has it open; stop it or choose another --tun")
        }
        libc::EPERM | libc::EACCES => "opening a TUN needs root (CAP_NET_ADMIN)".into(),
        libc::ENOENT | libc::ENODEV | libc::ENXIO => {
            "/dev/net/tun is missing: load the tun module (modprobe tun) or create the device node".into()
        }
        libc::EINVAL => format!("an interface named {name} exists and is not a TUN; choose another --tun"),
        _ => "needs root and /dev/net/tun".into(),
    };
    Some(why)
}

/// Turn IPv6 on for the interface `name` (it may be off by default, e.g. in a
/// namespace set up without it).
fn enable_ipv6(name: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    std::fs::write(&path, "0")
        .map_err(|e| io::Error::new(e.kind(), format!("cannot turn IPv6 on for {name} ({path}): {e}")))
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
        let fd = match &self.fd {
            TunFd::Plain(iface) => {
                return match iface.recv(buf) {
                    Ok(n) => Ok(Some(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) => Err(e),
                }
            }
            TunFd::Vnet(fd) => fd.as_raw_fd(),
        };
        loop {
            let Some((header, n)) = tun_vnet::recv(fd, buf)? else {
                return Ok(None);
            };
            let packet = buf.get_mut(..n).unwrap_or_default();
            match vnet::accept(&header, packet) {
                Ok(checksum) => {
                    self.vouched.store(checksum == RxChecksum::Vouched, Ordering::Relaxed);
                    return Ok(Some(n));
                }
                Err(e) => tracing::warn!(?e, ?header, len = n, "TUN packet with an unusable virtio-net header dropped"),
            }
        }
    }

    /// With offloads, yes: the kernel, as the NIC, finishes what we leave
    /// partial (`NEEDS_CSUM`), merged super-segments and lone segments alike.
    fn offload_tx_checksum(&self) -> bool {
        let offloads = matches!(self.fd, TunFd::Vnet(_));
        self.tx_partial.store(offloads, Ordering::Relaxed);
        offloads
    }

    fn rx_checksum(&self) -> RxChecksum {
        if self.vouched.load(Ordering::Relaxed) {
            RxChecksum::Vouched
        } else {
            RxChecksum::Verify
        }
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        match &self.fd {
            TunFd::Plain(iface) => loop {
                match iface.send(packet) {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(iface.as_raw_fd()),
                    Err(e) => return Err(e),
                }
            },
            TunFd::Vnet(fd) => self.send_vnet(fd.as_raw_fd(), &self.lone_header(packet), &[packet]),
        }
    }

    /// With offloads, runs of segments the kernel can cut apart again go out as one
    /// super-segment ([`vnet::coalesce`]).
    fn send_batch(&self, packets: &[Vec<u8>]) -> io::Result<()> {
        let TunFd::Vnet(fd) = &self.fd else {
            return packets.iter().try_for_each(|p| self.send(p));
        };
        for write in vnet::coalesce(packets) {
            match write {
                Write::Single(packet) => self.send_vnet(fd.as_raw_fd(), &self.lone_header(packet), &[packet])?,
                Write::Merged { header, head, payloads } => {
                    let parts: Vec<&[u8]> = std::iter::once(&head[..]).chain(payloads).collect();
                    self.send_vnet(fd.as_raw_fd(), &header, &parts)?
                }
            }
        }
        Ok(())
    }

    fn readable_fd(&self) -> RawFd {
        match &self.fd {
            TunFd::Plain(iface) => iface.as_raw_fd(),
            TunFd::Vnet(fd) => fd.as_raw_fd(),
        }
    }
}
