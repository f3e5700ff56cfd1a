//! The virtio-net header that a TUN opened with `IFF_VNET_HDR` puts in front of
//! every packet, and the two offloads it makes possible.
//!
//! * **Receive (TSO from the kernel).** With `TUNSETOFFLOAD` the TUN claims to
//!   segment and checksum in "hardware", so the kernel's TCP hands it segments of up
//!   to 64 KiB (`gso_type` TCPv4, or TCPv6 over IPv6) whose TCP checksum is only
//!   seeded with the pseudo-header (`NEEDS_CSUM`). [`complete_checksum`] finishes the checksum, and
//!   the stack takes the 64 KiB segment as one: one read, one pass through TCP,
//!   instead of 44.
//! * **Transmit (TSO to the kernel).** [`coalesce`] glues a run of back-to-back
//!   full-sized segments of one connection into one super-segment and marks it
//!   `gso_type` TCPv4 with `gso_size` = their payload size; the kernel cuts it back
//!   into the very same segments. One write instead of dozens.
//!
//! The header's fields are in the machine's byte order (legacy virtio), which is
//! what the TUN driver uses unless told otherwise (`TUNSETVNETLE`). The IP and TCP
//! headers are read and patched only through `crate::wire`.

use std::ops::Range;

use crate::wire::field::Field;
use crate::wire::ipv4::{self, MAX_DATAGRAM};
use crate::wire::tcp::{self, field::FLG_ACK, field::FLG_PSH, Ipv4Segment};

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

/// Make a packet read from the TUN an ordinary IP packet: finish a partial
/// checksum (the sum from `csum_start` on is the same over either family's
/// pseudo-header seed), and accept a TCPv4 or TCPv6 super-segment as it is (its
/// IPv4 header already has the full length and a valid checksum; its IPv6
/// header the full Payload Length).
pub fn complete_checksum(header: &VnetHeader, packet: &mut [u8]) -> Result<(), VnetError> {
    match header.gso_type & !GSO_ECN {
        GSO_NONE | GSO_TCPV4 | GSO_TCPV6 => {}
        other => return Err(VnetError::UnsupportedGso(other)),
    }
    if header.flags & F_NEEDS_CSUM == 0 {
        return Ok(());
    }
    let start = usize::from(header.csum_start);
    let at = start + usize::from(header.csum_offset);
    // The field holds the folded pseudo-header sum; adding everything from
    // csum_start on, that seed included, gives the sum the checksum completes.
    if crate::wire::complete_partial_checksum(packet, start, at) {
        Ok(())
    } else {
        Err(VnetError::BadChecksumOffsets)
    }
}

/// One write to the TUN: a header and either one packet of the batch as it is or
/// a super-segment built from several.
#[derive(Debug, PartialEq, Eq)]
pub enum Write<'a> {
    Single(&'a [u8]),
    Merged { header: VnetHeader, packet: Vec<u8> },
}

/// The plain header: no offload, the packet is complete.
pub const PLAIN: VnetHeader =
    VnetHeader { flags: 0, gso_type: GSO_NONE, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };

/// What the stack sent in one batch, as TUN writes: every run of consecutive
/// segments that the kernel's TSO would cut out of one super-segment becomes that
/// super-segment; everything else goes as it is.
///
/// A run is mergeable when its segments belong to one connection, follow each
/// other in sequence, carry identical IP and TCP headers apart from the sequence
/// number, checksum and (on the last one only) PSH, have the same payload size
/// except the last, which may be shorter, and fit in one IPv4 datagram together.
/// Those are exactly the segments `tcp_gso_segment` produces from the merged one.
pub fn coalesce(batch: &[Vec<u8>]) -> Vec<Write<'_>> {
    // Each packet is looked at once; a run is then a slice of views.
    let views: Vec<Option<Ipv4Segment<'_>>> = batch.iter().map(|p| mergeable(p)).collect();
    let mut writes = Vec::new();
    let mut i = 0;
    while i < batch.len() {
        let Some(first) = views[i] else {
            writes.push(Write::Single(&batch[i]));
            i += 1;
            continue;
        };
        let mut end = i + 1;
        let mut total = batch[i].len();
        let mut last = first;
        while let Some(next) = views.get(end).copied().flatten() {
            if !can_follow(&first, &last, &next) || total + next.payload.len() > MAX_DATAGRAM {
                break;
            }
            total += next.payload.len();
            last = next;
            end += 1;
        }
        let merged = if end - i == 1 {
            None
        } else {
            let run: Vec<Ipv4Segment<'_>> = views[i..end].iter().flatten().copied().collect();
            merge(&run, total)
        };
        match merged {
            Some(merged) => writes.push(merged),
            None => writes.extend(batch[i..end].iter().map(|p| Write::Single(p))),
        }
        i = end;
    }
    writes
}

/// `packet`, if it is an unfragmented IPv4 packet without options carrying TCP with
/// data, whose flags are ACK or ACK+PSH; anything else is never merged.
fn mergeable(packet: &[u8]) -> Option<Ipv4Segment<'_>> {
    let s = tcp::split_ipv4(packet)?;
    let plain = s.ip_header.len() == ipv4::MIN_HEADER_LEN && !s.fragmented;
    (plain && (s.flags == FLG_ACK || s.flags == FLG_ACK | FLG_PSH) && !s.payload.is_empty()).then_some(s)
}

/// The IPv4 header fields that differ between the segments TSO cuts from one.
const IP_PER_SEGMENT: [Field; 3] = [ipv4::field::LENGTH, ipv4::field::IDENT, ipv4::field::CHECKSUM];
/// The TCP header fields that differ between the segments TSO cuts from one.
const TCP_PER_SEGMENT: [Field; 3] =
    [tcp::field::SEQ_NUM, tcp::field::FLAGS..tcp::field::FLAGS + 1, tcp::field::CHECKSUM];

/// Whether `next` may come after `last` in a run that starts with `first`.
fn can_follow(first: &Ipv4Segment<'_>, last: &Ipv4Segment<'_>, next: &Ipv4Segment<'_>) -> bool {
    let gso_size = first.payload.len();
    last.flags == FLG_ACK
        && last.payload.len() == gso_size
        && next.payload.len() <= gso_size
        && next.seq == last.seq.wrapping_add(gso_size as u32)
        && same_except(first.ip_header, next.ip_header, &IP_PER_SEGMENT)
        && same_except(first.tcp_header, next.tcp_header, &TCP_PER_SEGMENT)
}

/// Byte slices of equal length that differ at most within the `skip` ranges.
fn same_except(a: &[u8], b: &[u8], skip: &[Range<usize>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| x == y || skip.iter().any(|r| r.contains(&i)))
}

/// The super-segment for `run` (`total` bytes together): the first one's headers
/// with the last one's flags, the total length, a fresh IPv4 checksum and a TCP
/// checksum seeded with the pseudo-header only, as the kernel's own TSO expects.
/// `None` if the run is empty or a header cannot be patched (it cannot: each was
/// checked by `mergeable`, and the run fits `MAX_DATAGRAM`).
fn merge(run: &[Ipv4Segment<'_>], total: usize) -> Option<Write<'static>> {
    let (first, last) = (run.first()?, run.last()?);
    let tcp_at = first.ip_header.len();
    let headers = tcp_at + first.tcp_header.len();
    let mut packet = Vec::with_capacity(total);
    packet.extend_from_slice(first.ip_header);
    packet.extend_from_slice(first.tcp_header);
    for view in run {
        packet.extend_from_slice(view.payload);
    }
    let len = u16::try_from(packet.len()).ok()?;
    ipv4::set_total_len(&mut packet, len).ok()?;
    let segment = packet.get_mut(tcp_at..)?;
    if !tcp::set_flags(segment, last.flags) || !tcp::set_partial_checksum(first.src, first.dst, segment) {
        return None;
    }
    let header = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: u16::try_from(headers).ok()?,
        gso_size: u16::try_from(first.payload.len()).ok()?,
        csum_start: u16::try_from(tcp_at).ok()?,
        csum_offset: tcp::field::CHECKSUM.start as u16,
    };
    Some(Write::Merged { header, packet })
}

#[cfg(test)]
mod tests;
