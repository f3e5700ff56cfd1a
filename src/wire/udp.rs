//! UDP header parsing and writing (RFC 768).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{UdpHeader, UdpSlice};

/// Where each field of the UDP header sits (RFC 768).
pub mod field {
    use crate::wire::field::Field;

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    /// Header and data, in bytes.
    pub const LENGTH: Field = 4..6;
    /// Zero means the sender computed none.
    pub const CHECKSUM: Field = 6..8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;
/// The largest UDP payload over IPv4: 65,535 − 20 (IP) − 8 (UDP).
pub const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 here: 65,535 (Payload Length) − 8 (the
/// Fragment header, which counts in it once the datagram is fragmented, RFC 8200
/// §4.5) − 8 (UDP). Jumbograms (RFC 2675) are not sent.
pub const MAX_PAYLOAD_V6: usize = 65_519;

/// Why a UDP datagram was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpError {
    /// Shorter than 8 bytes, or the length field disagrees with the IP payload.
    BadLength,
    /// The checksum does not verify.
    BadChecksum,
}

/// A validated UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// Parse a UDP datagram carried in an IPv4 payload from `src` to `dst`.
///
/// RFC 768: the length field covers header and data and must fit the IP payload
/// (bytes beyond it are ignored); a zero checksum means the sender computed none.
pub fn parse(src: Ipv4Addr, dst: Ipv4Addr, ip_payload: &[u8]) -> Result<UdpDatagram<'_>, UdpError> {
    parse_checked(ip_payload, |header, datagram| {
        header.checksum == 0 || super::verifies_with_pseudo_header(src, dst, super::ip_protocol::UDP, datagram)
    })
}

/// [`parse`] (either family) for a datagram whose checksum the link vouches for
/// (`RxChecksum::Vouched`, set by the stack's caller): the length is checked,
/// the checksum is not.
pub fn parse_vouched(ip_payload: &[u8]) -> Result<UdpDatagram<'_>, UdpError> {
    parse_checked(ip_payload, |_, _| true)
}

/// The length checks, then `verifies(header, the datagram's bytes)`.
fn parse_checked(
    ip_payload: &[u8],
    verifies: impl FnOnce(&UdpHeader, &[u8]) -> bool,
) -> Result<UdpDatagram<'_>, UdpError> {
    let slice = UdpSlice::from_slice(ip_payload).map_err(|_| UdpError::BadLength)?;
    let length = usize::from(slice.length());
    if length < HEADER_LEN || length > ip_payload.len() {
        return Err(UdpError::BadLength);
    }
    let header = slice.to_header();
    if !verifies(&header, &ip_payload[..length]) {
        return Err(UdpError::BadChecksum);
    }
    Ok(UdpDatagram { src_port: header.source_port, dst_port: header.destination_port, payload: slice.payload() })
}

/// Parse a UDP datagram carried over IPv6 from `src` to `dst`: as [`parse`], but
/// the checksum is mandatory (RFC 8200 §8.1) — a zero checksum field does not
/// verify (RFC 6935's exception for tunnels is not taken).
pub fn parse_v6(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Result<UdpDatagram<'_>, UdpError> {
    parse_checked(payload, |_, datagram| {
        super::verifies_with_pseudo_header_v6(src, dst, super::ip_protocol::UDP, datagram)
    })
}
/// Append a UDP header with its checksum, then `payload`, to `out`. `None` if the
/// payload is larger than a UDP length field can describe.
pub fn emit(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<()> {
    emit_with(out, src.into(), dst.into(), src_port, dst_port, payload)
}

/// Append a UDP header with its checksum over the IPv6 pseudo-header (RFC 8200
/// §8.1: mandatory; a sum of zero is sent as 0xffff, RFC 768), then `payload`.
pub fn emit_v6(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<()> {
    emit_with(out, src.into(), dst.into(), src_port, dst_port, payload)
}

/// The header, then `payload`, then the checksum over both and the
/// pseudo-header of `src` and `dst` (either family) written into the header.
fn emit_with(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, payload: &[u8]) -> Option<()> {
    let header = UdpHeader::without_ipv4_checksum(src_port, dst_port, payload.len()).ok()?;
    let start = out.len();
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    let Some(mut sum) = super::checksum(src, dst, super::ip_protocol::UDP, &out[start..]) else {
        out.truncate(start);
        return None;
    };
    // RFC 768: a checksum that computes to zero is sent as all ones (zero means
    // "no checksum").
    if sum == [0, 0] {
        sum = [0xff, 0xff];
    }
    out[start + field::CHECKSUM.start..start + field::CHECKSUM.end].copy_from_slice(&sum);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn round_trip_and_checksum() {
        let mut buf = Vec::new();
        emit(&mut buf, A, B, 4000, 7, b"ping").expect("fits");
        let d = parse(A, B, &buf).expect("valid");
        assert_eq!((d.src_port, d.dst_port, d.payload), (4000, 7, &b"ping"[..]));
        // The pseudo-header binds the checksum to the addresses.
        assert_eq!(parse(A, Ipv4Addr::new(198, 18, 0, 3), &buf).err(), Some(UdpError::BadChecksum));
    }

    #[test]
    fn zero_checksum_means_none() {
        let mut buf = Vec::new();
        emit(&mut buf, A, B, 1, 2, b"x").expect("fits");
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        buf[HEADER_LEN] = b'y';
        assert_eq!(parse(A, B, &buf).expect("unchecked").payload, b"y");
    }

    #[test]
    fn over_ipv6_the_checksum_is_written_and_mandatory() {
        let (a6, b6) = (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1), Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2));
        let mut buf = Vec::new();
        emit_v6(&mut buf, a6, b6, 4000, 7, b"ping").expect("fits");
        assert_ne!(&buf[field::CHECKSUM], &[0, 0]);
        let d = parse_v6(a6, b6, &buf).expect("valid");
        assert_eq!((d.src_port, d.dst_port, d.payload), (4000, 7, &b"ping"[..]));
        assert_eq!(parse_v6(b6, b6, &buf).err(), Some(UdpError::BadChecksum), "pseudo-header");
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        assert_eq!(parse_v6(a6, b6, &buf).err(), Some(UdpError::BadChecksum), "zero is no checksum only over IPv4");
    }

    #[test]
    fn length_must_fit() {
        let mut buf = Vec::new();
        emit(&mut buf, A, B, 1, 2, b"abcd").expect("fits");
        assert_eq!(parse(A, B, &buf[..7]).err(), Some(UdpError::BadLength));
        assert_eq!(parse(A, B, &buf[..10]).err(), Some(UdpError::BadLength));
        buf[field::LENGTH].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(parse(A, B, &buf).err(), Some(UdpError::BadLength));
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let mut good = Vec::new();
        emit(&mut good, A, B, 5353, 53, b"query bytes").expect("fits");
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            // Flipping the checksum to zero would mean "no checksum"; it cannot be
            // reached with one flip from this sample.
            assert!(parse(A, B, &bad).is_err(), "flip of bit {bit} went unnoticed");
        }
    }
}
