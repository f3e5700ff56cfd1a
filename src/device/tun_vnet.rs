//! Opening a TUN with `IFF_VNET_HDR` and offloads, and moving packets through it
//! with their virtio-net header (see [`super::vnet`] for what the offloads do).
//!
//! `tun-tap` opens TUNs without these flags, so this file makes the three system
//! calls itself: `open("/dev/net/tun")`, `ioctl(TUNSETIFF)` with `IFF_VNET_HDR`, and
//! `ioctl(TUNSETOFFLOAD)` with checksum and TCP segmentation offload. Packets are
//! read and written with `readv`/`writev`, the header in one buffer and the packet
//! in the other (or, for a super-segment, in several), so none is copied.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::vnet::{VnetHeader, HEADER_LEN};

/// `struct ifreq` as `TUNSETIFF` reads it: the name, then the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Open `/dev/net/tun` as TUN `name` with virtio-net headers and turn on checksum
/// offload and TSO for IPv4 and IPv6. Returns the descriptor (non-blocking) and the
/// name the kernel gave.
pub(super) fn open(name: &str) -> io::Result<(OwnedFd, String)> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("TUN name {name:?} is too long")));
    }
    // SAFETY: a NUL-terminated path literal; the result is checked before use.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = IfReq { name: [0; libc::IFNAMSIZ], flags: 0, _pad: [0; 22] };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    req.flags = (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `req` is laid out as.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let offloads = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
    // SAFETY: TUNSETOFFLOAD takes its argument by value; no memory is passed.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETOFFLOAD, libc::c_ulong::from(offloads)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = req.name.iter().position(|&b| b == 0).unwrap_or(libc::IFNAMSIZ);
    let given = String::from_utf8_lossy(&req.name[..len]).into_owned();
    Ok((fd, given))
}

/// Read one packet into `buf` and its header; `Ok(None)` when none is waiting.
pub(super) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
    let mut header = [0u8; HEADER_LEN];
    let iov = [
        libc::iovec { iov_base: header.as_mut_ptr().cast(), iov_len: HEADER_LEN },
        libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() },
    ];
    // SAFETY: two iovecs over live, writable buffers of the stated lengths.
    let n = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    let n = n as usize;
    if n < HEADER_LEN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("TUN read of {n} bytes: no virtio-net header")));
    }
    Ok(Some((VnetHeader::parse(header), n - HEADER_LEN)))
}

/// Write one packet, `parts` in order, behind `header` — a packet as it is, or a
/// super-segment's headers and its segments' payloads where they lie (the
/// kernel copies them into one buffer anyway); `WouldBlock` when the TUN's
/// queue is full. At most `IOV_MAX` (1,024) buffers: a super-segment of 64 KiB
/// has at most 122 payloads even at IPv4's smallest MSS (536).
pub(super) fn send(fd: RawFd, header: &VnetHeader, parts: &[&[u8]]) -> io::Result<()> {
    let header = header.to_bytes();
    let iovec = |p: &[u8]| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() };
    // A lone packet (every write but a super-segment's) builds its two iovecs
    // on the stack: no allocation per packet.
    let one;
    let many: Vec<libc::iovec>;
    let iov: &[libc::iovec] = match parts {
        [packet] => {
            one = [iovec(&header), iovec(packet)];
            &one
        }
        _ => {
            many = std::iter::once(iovec(&header)).chain(parts.iter().map(|p| iovec(p))).collect();
            &many
        }
    };
    let count = libc::c_int::try_from(iov.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: iovecs over live buffers of the stated lengths; writev only reads them.
    let n = unsafe { libc::writev(fd, iov.as_ptr(), count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
