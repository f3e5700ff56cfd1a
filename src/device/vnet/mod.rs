//! The virtio-net header that a TUN opened with `IFF_VNET_HDR` puts in front of
//! every packet, and the two offloads it makes possible.
//!
//! * **Receive (TSO from the kernel).** With `TUNSETOFFLOAD` the TUN claims to
//!   segment and checksum in "hardware", so the kernel's TCP hands it segments of up
//!   to 64 KiB (`gso_type` TCPv4, or TCPv6 over IPv6) whose TCP checksum is only
//!   seeded with the pseudo-header (`NEEDS_CSUM`). [`accept`] checks the header
//!   and leaves that TCP checksum as it is: the kernel built the packet in memory and
//!   nothing can have corrupted it, so the device vouches for it
//!   (`RxChecksum::Vouched`) and the stack does not verify it — a pass over 64 KiB
//!   saved, where finishing and then verifying the checksum took two (a third of
//!   the process's time at 9 Gbit/s). The stack takes the 64 KiB segment as one:
//!   one read, one pass through TCP, instead of 44.
//! * **Transmit (TSO to the kernel).** [`coalesce`] (`coalesce.rs`) glues a run
//!   of back-to-back full-sized segments of one connection into one super-segment
//!   and marks it `gso_type` TCPv4 or TCPv6 with `gso_size` = their payload size;
//!   the kernel cuts it back into the very same segments. One write instead of
//!   dozens.
//!
//! The header's fields are in the machine's byte order (legacy virtio), which is
//! what the TUN driver uses unless told otherwise (`TUNSETVNETLE`). The IP and TCP
//! headers are read and patched only through `crate::wire`.

mod coalesce;

use crate::RxChecksum;

pub use coalesce::{coalesce, Write};

/// Size of `struct virtio_net_hdr` (no `num_buffers`: the TUN's default).
pub const HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds
/// only the pseudo-header sum; the rest is still to be added.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN`: a flag bit on top of the GSO type.
const GSO_ECN: u8 = 0x80;

/// `struct virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// Why a packet read from the TUN could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VnetError {
    /// A segmentation type we did not ask for (UDP): taking such a packet whole
    /// would merge datagrams.
    UnsupportedGso(u8),
    /// `csum_start`/`csum_offset` point outside the packet.
    BadChecksumOffsets,
}

impl VnetHeader {
    pub fn parse(bytes: [u8; HEADER_LEN]) -> Self {
        let word = |i: usize| u16::from_ne_bytes([bytes[i], bytes[i + 1]]);
        VnetHeader {
            flags: bytes[0],
            gso_type: bytes[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        }
    }

    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0; HEADER_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}

/// Take a packet read from the TUN as an IP packet for the stack, and say what
/// the device vouches for. A TCPv4 or TCPv6 super-segment is taken as it is (its
/// IPv4 header already has the full length and a valid checksum; its IPv6
/// header the full Payload Length). A partial TCP checksum (`NEEDS_CSUM` at the
/// TCP checksum's offset) is left partial and vouched for (Linux's
/// `CHECKSUM_PARTIAL`, which its own receive path does not verify either);
/// whoever needs the real checksum in a copy — the capture, the fault injector —
/// fills it in (`wire::fill_transport_checksum`). Any other partial checksum
/// (UDP's) is finished here, one pass from `csum_start` (the sum is the same
/// over either family's pseudo-header seed): the stack may quote such a
/// datagram in an ICMP error, and a quote should carry a real checksum.
/// Anything else the stack verifies.
pub fn accept(header: &VnetHeader, packet: &mut [u8]) -> Result<RxChecksum, VnetError> {
    match header.gso_type & !GSO_ECN {
        GSO_NONE | GSO_TCPV4 | GSO_TCPV6 => {}
        other => return Err(VnetError::UnsupportedGso(other)),
    }
    if header.flags & F_NEEDS_CSUM == 0 {
        return Ok(RxChecksum::Verify);
    }
    let start = usize::from(header.csum_start);
    let at = start + usize::from(header.csum_offset);
    if at + 2 > packet.len() {
        return Err(VnetError::BadChecksumOffsets);
    }
    if usize::from(header.csum_offset) == crate::wire::tcp::field::CHECKSUM.start {
        return Ok(RxChecksum::Vouched);
    }
    // The field holds the folded pseudo-header sum; adding everything from
    // csum_start on, that seed included, gives the sum the checksum completes.
    if crate::wire::complete_partial_checksum(packet, start, at) {
        Ok(RxChecksum::Verify)
    } else {
        Err(VnetError::BadChecksumOffsets)
    }
}

/// The header for a lone packet when the stack leaves TCP checksums to the
/// device (`StackConfig::tx_checksum_offload`): a whole TCP segment's checksum
/// holds only the pseudo-header sum, so the kernel is told to finish it
/// (`NEEDS_CSUM` from the TCP header on, the field at its offset 16); anything
/// else — not TCP, or an IPv4 fragment — is complete ([`PLAIN`]).
pub fn lone_header(packet: &[u8]) -> VnetHeader {
    match crate::wire::tcp::split(packet).filter(|s| !s.fragmented) {
        Some(segment) => match u16::try_from(segment.ip_header.len()) {
            Ok(csum_start) => VnetHeader {
                flags: F_NEEDS_CSUM,
                csum_start,
                csum_offset: crate::wire::tcp::field::CHECKSUM.start as u16,
                ..PLAIN
            },
            Err(_) => PLAIN,
        },
        None => PLAIN,
    }
}

/// The plain header: no offload, the packet is complete.
pub const PLAIN: VnetHeader =
    VnetHeader { flags: 0, gso_type: GSO_NONE, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };

#[cfg(test)]
mod tests;
