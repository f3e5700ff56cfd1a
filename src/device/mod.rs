//! Devices: where IP packets come from and go to. A device moves whole packets and
//! knows nothing about what is inside them.
//!
//! * [`tun::TunDevice`] — a Linux TUN interface; the kernel is on the other side.
//! * [`link::LinkDevice`] — one end of an in-memory point-to-point link, for tests
//!   and examples that connect two stacks without root.
//! * [`faults::FaultyDevice`] — wraps either and injects seeded loss, duplication,
//!   reordering, delay and corruption.
//! * [`CaptureDevice`](crate::capture::CaptureDevice) — wraps any of them and
//!   records every packet to a pcapng file (in [`crate::capture`]).

pub mod faults;
pub mod link;
pub mod tun;
mod tun_vnet;
pub mod vnet;

use std::io;
use std::os::fd::RawFd;

use crate::shared::DropReason;
use crate::RxChecksum;

/// A packet device the [`Runtime`](crate::Runtime) can drive.
///
/// `recv` must not block; the runtime waits on [`readable_fd`](Device::readable_fd)
/// with `poll(2)` instead, together with its own wake-up fd and the core's next
/// deadline, so nothing busy-waits.
pub trait Device: Send + Sync + 'static {
    /// Largest packet the device carries.
    fn mtu(&self) -> usize;
    /// Read one packet into `buf`; `Ok(None)` when none is waiting.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Write one packet.
    fn send(&self, packet: &[u8]) -> io::Result<()>;
    /// Write a batch of packets, in order: everything the stack produced in one
    /// round. A device that can merge packets (the TUN with offloads) overrides it.
    fn send_batch(&self, packets: &[Vec<u8>]) -> io::Result<()> {
        packets.iter().try_for_each(|p| self.send(p))
    }
    /// What the device vouches for in the packet `recv` returned last: its
    /// transport checksum need not be verified ([`RxChecksum::Vouched`]), or
    /// nothing ([`RxChecksum::Verify`], the default). The runtime passes it to
    /// [`Stack::input_with`](crate::Stack::input_with). Only the TUN with
    /// offloads vouches; a wrapper that can change packets (the fault injector)
    /// must not pass a vouch on.
    fn rx_checksum(&self) -> RxChecksum {
        RxChecksum::Verify
    }
    /// Asked once, by the runtime, before the stack sends anything: may the
    /// stack hand this device TCP segments whose checksum field holds only the
    /// pseudo-header sum, for the device to finish (transmit checksum offload,
    /// `StackConfig::tx_checksum_offload`)? A device that answers yes finishes
    /// every TCP segment's checksum from then on. Only the TUN with offloads
    /// does; the default is no.
    fn offload_tx_checksum(&self) -> bool {
        false
    }
    /// A file descriptor that polls readable when `recv` has a packet.
    fn readable_fd(&self) -> RawFd;
    /// Do deferred work (release held packets) and say when it is next needed.
    /// Only devices that hold packets back, like the fault injector, need this.
    fn service(&self) -> Option<std::time::Instant> {
        None
    }
    /// The stack has processed `packet`, the one `recv` returned last: `dropped`
    /// says why it discarded it, `None` if it took it in. The runtime calls this
    /// after every [`Stack::input`](crate::Stack::input). Devices that only move
    /// packets ignore it; the capture ([`CaptureDevice`](crate::capture::CaptureDevice))
    /// writes the packet with its drop reason, and wrappers pass it on.
    fn processed(&self, packet: &[u8], dropped: Option<DropReason>) {
        let _ = (packet, dropped);
    }
}

/// Wait until `fd` is writable (after a `WouldBlock` on send), at most 100 ms.
pub(crate) fn wait_writable(fd: RawFd) {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, 100) };
}

/// A shared device is a device: the runtime drives it while its owner can still
/// read its statistics.
impl<D: Device> Device for std::sync::Arc<D> {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).recv(buf)
    }
    fn send(&self, packet: &[u8]) -> io::Result<()> {
        (**self).send(packet)
    }
    fn send_batch(&self, packets: &[Vec<u8>]) -> io::Result<()> {
        (**self).send_batch(packets)
    }
    fn rx_checksum(&self) -> RxChecksum {
        (**self).rx_checksum()
    }
    fn offload_tx_checksum(&self) -> bool {
        (**self).offload_tx_checksum()
    }
    fn readable_fd(&self) -> RawFd {
        (**self).readable_fd()
    }
    fn service(&self) -> Option<std::time::Instant> {
        (**self).service()
    }
    fn processed(&self, packet: &[u8], dropped: Option<DropReason>) {
        (**self).processed(packet, dropped)
    }
}
