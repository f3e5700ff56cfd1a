//! Transmit offload: gluing the stack's back-to-back TCP segments into the
//! super-segments the kernel's TSO cuts apart again (`tcp_gso_segment`), for IPv4
//! (`gso_type` TCPv4) and IPv6 (TCPv6).
//!
//! The core still emits MSS-sized segments, each with its own complete header;
//! this is the only place that knows they may leave as one. What a super-segment
//! is, byte for byte: the first segment's IP and TCP headers, the last one's
//! flags (PSH, if any, belongs at the end), every payload in order, the IP length
//! of the whole — IPv4's Total Length with a fresh header checksum and an IP ID
//! the kernel increments per segment, or IPv6's Payload Length (no header
//! checksum, no ID: the Flow Label, the same on every segment of a flow, is just
//! copied) — and a TCP checksum seeded with the pseudo-header sum only, which the
//! kernel completes per segment. The virtio-net header says `NEEDS_CSUM` from
//! `csum_start` (the TCP header) with the field at `csum_offset` 16, `gso_size` =
//! the first segment's payload, `hdr_len` = both headers.
//!
//! Bounds: a super-segment is at most 65,535 bytes (the largest IPv4 datagram;
//! over IPv6 it keeps the kernel's own TSO size, 64 KiB, well inside the
//! Payload Length field). Cost: one pass over each packet's headers to compare;
//! the payloads are not copied — a super-segment is its patched headers and the
//! segments' payloads where they lie, written with one `writev`.

use std::net::IpAddr;
use std::ops::Range;

use super::{VnetHeader, F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6};
use crate::wire::field::Field;
use crate::wire::ipv4::{self, MAX_DATAGRAM};
use crate::wire::ipv6;
use crate::wire::tcp::{self, field::FLG_ACK, field::FLG_PSH, IpSegment};

/// One write to the TUN: a header and either one packet of the batch as it is or
/// a super-segment built from several.
#[derive(Debug, PartialEq, Eq)]
pub enum Write<'a> {
    Single(&'a [u8]),
    /// A super-segment: `head` (the patched IP and TCP headers), then the
    /// `payloads` in order — gathered by the write, never copied together.
    Merged {
        header: VnetHeader,
        head: Vec<u8>,
        payloads: Vec<&'a [u8]>,
    },
}

#[cfg(test)]
impl Write<'_> {
    /// A merged write's packet in one buffer, as the kernel receives it.
    pub(super) fn merged_packet(&self) -> Option<Vec<u8>> {
        let Write::Merged { head, payloads, .. } = self else { return None };
        Some(payloads.iter().fold(head.clone(), |mut packet, p| {
            packet.extend_from_slice(p);
            packet
        }))
    }
}

/// What the stack sent in one batch, as TUN writes: every run of consecutive
/// segments that the kernel's TSO would cut out of one super-segment becomes that
/// super-segment; everything else goes as it is.
///
/// A run is mergeable when its segments belong to one connection, follow each
/// other in sequence, carry identical IP and TCP headers apart from the sequence
/// number, checksum and (on the last one only) PSH, have the same payload size
/// except the last, which may be shorter, and fit in 65,535 bytes together.
/// Those are exactly the segments `tcp_gso_segment` produces from the merged one.
pub fn coalesce(batch: &[Vec<u8>]) -> Vec<Write<'_>> {
    // Each packet is looked at once; a run is then a slice of views.
    let views: Vec<Option<IpSegment<'_>>> = batch.iter().map(|p| mergeable(p)).collect();
    let mut writes = Vec::new();
    let mut i = 0;
    while i < batch.len() {
        let Some(first) = views[i] else {
            writes.push(Write::Single(&batch[i]));
            i += 1;
            continue;
        };
        let mut end = i + 1;
        let mut total = first.ip_header.len() + first.tcp_header.len() + first.payload.len();
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
            let run: Vec<IpSegment<'_>> = views[i..end].iter().flatten().copied().collect();
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

/// `packet`, if it carries TCP with data, flags ACK or ACK+PSH, in an IPv4 packet
/// without options that is not a fragment or in an IPv6 packet without extension
/// headers; anything else is never merged.
fn mergeable(packet: &[u8]) -> Option<IpSegment<'_>> {
    let s = tcp::split(packet)?;
    let plain = match s.src {
        IpAddr::V4(_) => s.ip_header.len() == ipv4::MIN_HEADER_LEN && !s.fragmented,
        IpAddr::V6(_) => s.ip_header.len() == ipv6::HEADER_LEN,
    };
    (plain && (s.flags == FLG_ACK || s.flags == FLG_ACK | FLG_PSH) && !s.payload.is_empty()).then_some(s)
}

/// The IPv4 header fields that differ between the segments TSO cuts from one.
const IPV4_PER_SEGMENT: [Field; 3] = [ipv4::field::LENGTH, ipv4::field::IDENT, ipv4::field::CHECKSUM];
/// The IPv6 header field that differs between them (everything else — traffic
/// class, Flow Label, hop limit, addresses — is the flow's).
const IPV6_PER_SEGMENT: [Field; 1] = [ipv6::field::PAYLOAD_LEN];
/// The TCP header fields that differ between the segments TSO cuts from one.
const TCP_PER_SEGMENT: [Field; 3] =
    [tcp::field::SEQ_NUM, tcp::field::FLAGS..tcp::field::FLAGS + 1, tcp::field::CHECKSUM];

/// Whether `next` may come after `last` in a run that starts with `first`. IP
/// headers of the two families differ in length, so a run never mixes them.
fn can_follow(first: &IpSegment<'_>, last: &IpSegment<'_>, next: &IpSegment<'_>) -> bool {
    let gso_size = first.payload.len();
    let ip_per_segment: &[Field] = if first.src.is_ipv4() { &IPV4_PER_SEGMENT } else { &IPV6_PER_SEGMENT };
    last.flags == FLG_ACK
        && last.payload.len() == gso_size
        && next.payload.len() <= gso_size
        && next.seq == last.seq.wrapping_add(gso_size as u32)
        && same_except(first.ip_header, next.ip_header, ip_per_segment)
        && same_except(first.tcp_header, next.tcp_header, &TCP_PER_SEGMENT)
}

/// Byte slices of equal length that differ at most within the `skip` ranges.
pub(super) fn same_except(a: &[u8], b: &[u8], skip: &[Range<usize>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| x == y || skip.iter().any(|r| r.contains(&i)))
}

/// The super-segment for `run` (`total` bytes together): the first one's headers
/// with the last one's flags, the IP length of the whole (IPv4: total length and
/// a fresh header checksum; IPv6: Payload Length), and a TCP checksum seeded with
/// the pseudo-header only, as the kernel's own TSO expects. `None` if the run is
/// empty or a header cannot be patched (it cannot: each was checked by
/// `mergeable`, and the run fits `MAX_DATAGRAM`).
fn merge<'a>(run: &[IpSegment<'a>], total: usize) -> Option<Write<'a>> {
    let (first, last) = (run.first()?, run.last()?);
    let tcp_at = first.ip_header.len();
    let headers = tcp_at + first.tcp_header.len();
    let mut head = Vec::with_capacity(headers);
    head.extend_from_slice(first.ip_header);
    head.extend_from_slice(first.tcp_header);
    let len = u16::try_from(total).ok()?;
    let gso_type = if first.src.is_ipv4() {
        ipv4::set_total_len(&mut head, len).ok()?;
        GSO_TCPV4
    } else {
        ipv6::set_payload_len(&mut head, len.checked_sub(ipv6::HEADER_LEN as u16)?).ok()?;
        GSO_TCPV6
    };
    let tcp_header = head.get_mut(tcp_at..)?;
    if !tcp::set_flags(tcp_header, last.flags)
        || !tcp::set_partial_checksum_of(first.src, first.dst, tcp_header, total - tcp_at)
    {
        return None;
    }
    let header = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type,
        hdr_len: u16::try_from(headers).ok()?,
        gso_size: u16::try_from(first.payload.len()).ok()?,
        csum_start: u16::try_from(tcp_at).ok()?,
        csum_offset: tcp::field::CHECKSUM.start as u16,
    };
    Some(Write::Merged { header, head, payloads: run.iter().map(|view| view.payload).collect() })
}
