//! Checksum verification for TCP and UDP, which cover an IPv4 pseudo-header.

use std::net::Ipv4Addr;

use etherparse::checksum::Sum16BitWords;

/// True if the one's-complement sum of the pseudo-header (RFC 9293 §3.1, RFC 768)
/// and the whole `segment`, checksum field included, is all ones.
///
/// Verifying by summing, rather than by recomputing the checksum and comparing it
/// with the field, matters: one's complement has two zeros, and a sender may write
/// either. Linux writes 0xFFFF where the computed checksum is 0 (`skb_checksum_help`
/// substitutes `CSUM_MANGLED_0`), which a compare-the-field check would reject as a
/// bad checksum about once in 65,536 segments.
pub fn verifies_with_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> bool {
    let Ok(len) = u16::try_from(segment.len()) else {
        return false;
    };
    Sum16BitWords::new()
        .add_4bytes(src.octets())
        .add_4bytes(dst.octets())
        .add_2bytes([0, protocol])
        .add_2bytes(len.to_be_bytes())
        .add_slice(segment)
        .ones_complement()
        == 0
}
