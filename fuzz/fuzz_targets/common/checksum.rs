//! Checksum repair for packets a fuzz target builds or mutates: without it almost
//! every input would stop at the IPv4 or transport checksum check, and the layers
//! behind it would never see fuzzed bytes. Shared by `ip_input` and `two_stacks`
//! (each includes this file with `#[path]`).

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;

/// The one's-complement checksum of `bytes` (RFC 1071), ready to be stored big-endian.
pub fn checksum(bytes: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IHL × 4, if the buffer is long enough to hold that header.
pub fn header_len(packet: &[u8]) -> Option<usize> {
    let len = usize::from(packet.first()? & 0x0f) * 4;
    (len >= 20 && packet.len() >= len).then_some(len)
}

/// Recompute the IPv4 header checksum.
pub fn fix_ip_checksum(packet: &mut [u8]) {
    let Some(len) = header_len(packet) else {
        return;
    };
    packet[10] = 0;
    packet[11] = 0;
    let sum = checksum(&packet[..len], 0);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// Recompute the ICMP, UDP or TCP checksum over the payload the total length
/// describes.
pub fn fix_transport_checksum(packet: &mut [u8]) {
    let Some(hlen) = header_len(packet) else {
        return;
    };
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if total < hlen {
        return;
    }
    let protocol = packet[9];
    // The pseudo-header of UDP and TCP: addresses, protocol, transport length.
    let pseudo = |len: usize| {
        let words = [[12, 13], [14, 15], [16, 17], [18, 19]]
            .map(|[a, b]| u32::from(u16::from_be_bytes([packet[a], packet[b]])));
        words.iter().sum::<u32>() + u32::from(protocol) + (len & 0xffff) as u32
    };
    let (at, covered, initial) = match protocol {
        ICMP if total - hlen >= 4 => (2, total - hlen, 0),
        UDP if total - hlen >= 8 => {
            let udp_len = usize::from(u16::from_be_bytes([packet[hlen + 4], packet[hlen + 5]]));
            (6, udp_len.min(total - hlen), pseudo(udp_len))
        }
        TCP if total - hlen >= 20 => (16, total - hlen, pseudo(total - hlen)),
        _ => return,
    };
    let segment = &mut packet[hlen..total];
    segment[at] = 0;
    segment[at + 1] = 0;
    let sum = match checksum(&segment[..covered], initial) {
        // UDP sends a computed zero as all ones (zero means "no checksum").
        0 if protocol == UDP => 0xffff,
        sum => sum,
    };
    segment[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}
