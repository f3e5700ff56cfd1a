//! The virtio-net header that a TUN opened with `IFF_VNET_HDR` puts in front of
//! every packet, and the two offloads it makes possible.
//!
//! * **Receive (TSO from the kernel).** With `TUNSETOFFLOAD` the TUN claims to
//!   segment and checksum in "hardware", so the kernel's TCP hands it segments of up
//!   to 64 KiB (`gso_type` TCPv4) whose TCP checksum is only seeded with the
//!   pseudo-header (`NEEDS_CSUM`). [`complete_checksum`] finishes the checksum, and
//!   the stack takes the 64 KiB segment as one: one read, one pass through TCP,
//!   instead of 44.
//! * **Transmit (TSO to the kernel).** [`coalesce`] glues a run of back-to-back
//!   full-sized segments of one connection into one super-segment and marks it
//!   `gso_type` TCPv4 with `gso_size` = their payload size; the kernel cuts it back
//!   into the very same segments. One write instead of dozens.
//!
//! The header's fields are in the machine's byte order (legacy virtio), which is
//! what the TUN driver uses unless told otherwise (`TUNSETVNETLE`). So are the
//! sums of etherparse's `Sum16BitWords`: they are written with `to_ne_bytes`.

use etherparse::checksum::Sum16BitWords;

/// Size of `struct virtio_net_hdr` (no `num_buffers`: the TUN's default).
pub const HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds
/// only the pseudo-header sum; the rest is still to be added.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_ECN`: a flag bit on top of the GSO type.
const GSO_ECN: u8 = 0x80;

/// Offset of the checksum field in a TCP header.
const TCP_CHECKSUM_AT: usize = 16;
/// IPv4 protocol number of TCP.
const PROTO_TCP: u8 = 6;
/// The largest IPv4 datagram.
const MAX_DATAGRAM: usize = 65_535;

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
    /// A segmentation type we did not ask for (UDP, TCPv6): taking such a packet
    /// whole would merge datagrams.
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
/// checksum, and accept a TCPv4 super-segment as it is (its IPv4 header already
/// has the full length and a valid checksum).
pub fn complete_checksum(header: &VnetHeader, packet: &mut [u8]) -> Result<(), VnetError> {
    match header.gso_type & !GSO_ECN {
        GSO_NONE | GSO_TCPV4 => {}
        other => return Err(VnetError::UnsupportedGso(other)),
    }
    if header.flags & F_NEEDS_CSUM == 0 {
        return Ok(());
    }
    let start = usize::from(header.csum_start);
    let at = start + usize::from(header.csum_offset);
    if at + 2 > packet.len() {
        return Err(VnetError::BadChecksumOffsets);
    }
    // The field holds the folded pseudo-header sum; adding everything from
    // csum_start on, that seed included, gives the sum the checksum completes.
    let sum = Sum16BitWords::new().add_slice(&packet[start..]).ones_complement();
    packet[at..at + 2].copy_from_slice(&sum.to_ne_bytes());
    Ok(())
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
    let views: Vec<Option<TcpView<'_>>> = batch.iter().map(|p| TcpView::of(p)).collect();
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
            if !first.can_follow(&last, &next) || total + next.payload.len() > MAX_DATAGRAM {
                break;
            }
            total += next.payload.len();
            last = next;
            end += 1;
        }
        if end - i == 1 {
            writes.push(Write::Single(&batch[i]));
        } else {
            let run: Vec<TcpView<'_>> = views[i..end].iter().flatten().copied().collect();
            writes.push(merge(&run, total));
        }
        i = end;
    }
    writes
}

/// The parts of an outgoing IPv4/TCP packet that coalescing looks at.
#[derive(Clone, Copy)]
struct TcpView<'a> {
    ip: &'a [u8],
    tcp: &'a [u8],
    payload: &'a [u8],
    seq: u32,
}

/// TCP flag bits.
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

impl<'a> TcpView<'a> {
    /// An unfragmented IPv4 packet without options carrying TCP with data, whose
    /// flags are ACK or ACK+PSH; anything else is never merged.
    fn of(packet: &'a [u8]) -> Option<Self> {
        let ip = packet.get(..20)?;
        let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
        if ip[0] != 0x45 || ip[9] != PROTO_TCP || fragmented {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let rest = packet.get(20..total)?;
        let tcp_len = usize::from(rest.get(12)? >> 4) * 4;
        let tcp = rest.get(..tcp_len)?;
        let flags = tcp[13];
        if tcp_len < 20 || (flags != ACK && flags != ACK | PSH) {
            return None;
        }
        let payload = &rest[tcp_len..];
        if payload.is_empty() {
            return None;
        }
        Some(TcpView { ip, tcp, payload, seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]) })
    }

    /// Whether `next` may come after `last` in a run that starts with `self`.
    fn can_follow(&self, last: &TcpView<'_>, next: &TcpView<'_>) -> bool {
        let gso_size = self.payload.len();
        last.tcp[13] == ACK
            && last.payload.len() == gso_size
            && next.payload.len() <= gso_size
            && next.seq == last.seq.wrapping_add(gso_size as u32)
            && same_except(self.ip, next.ip, &[2, 3, 4, 5, 10, 11])
            && same_except(self.tcp, next.tcp, &[4, 5, 6, 7, 13, 16, 17])
    }
}

/// Byte slices of equal length that differ at most at the `skip` offsets.
fn same_except(a: &[u8], b: &[u8], skip: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| x == y || skip.contains(&i))
}

/// The super-segment for `run` (at least two segments, `total` bytes together):
/// the first one's headers with the last one's flags, the total length, a fresh
/// IPv4 checksum and a TCP checksum seeded with the pseudo-header only, as the
/// kernel's own TSO expects.
fn merge(run: &[TcpView<'_>], total: usize) -> Write<'static> {
    let (first, last_flags) = (run[0], run[run.len() - 1].tcp[13]);
    let headers = first.ip.len() + first.tcp.len();
    let mut packet = Vec::with_capacity(total);
    packet.extend_from_slice(first.ip);
    packet.extend_from_slice(first.tcp);
    for view in run {
        packet.extend_from_slice(view.payload);
    }
    let total = packet.len() as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    packet[10..12].copy_from_slice(&[0, 0]);
    let ip_sum = Sum16BitWords::new().add_slice(&packet[..20]).ones_complement();
    packet[10..12].copy_from_slice(&ip_sum.to_ne_bytes());
    let tcp_at = first.ip.len();
    packet[tcp_at + 13] = last_flags;
    let tcp_len = (packet.len() - tcp_at) as u16;
    let seed = !Sum16BitWords::new()
        .add_slice(&packet[12..20])
        .add_2bytes([0, PROTO_TCP])
        .add_2bytes(tcp_len.to_be_bytes())
        .ones_complement();
    packet[tcp_at + TCP_CHECKSUM_AT..tcp_at + TCP_CHECKSUM_AT + 2].copy_from_slice(&seed.to_ne_bytes());
    let header = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: headers as u16,
        gso_size: first.payload.len() as u16,
        csum_start: tcp_at as u16,
        csum_offset: TCP_CHECKSUM_AT as u16,
    };
    Write::Merged { header, packet }
}

#[cfg(test)]
mod tests;
