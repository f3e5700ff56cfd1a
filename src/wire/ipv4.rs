//! IPv4 header parsing and writing (RFC 791 §3.1).

use std::net::Ipv4Addr;

use etherparse::checksum::Sum16BitWords;
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, Ipv4HeaderSlice};

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// The largest IPv4 datagram: the total-length field is 16 bits.
pub const MAX_DATAGRAM: usize = 65_535;

/// Why an IPv4 packet was refused. Each maps to one drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Shorter than 20 bytes or than IHL × 4.
    Truncated,
    /// Version field is not 4.
    BadVersion(u8),
    /// IHL below 5.
    BadHeaderLen,
    /// Total length beyond the buffer or smaller than the header.
    BadTotalLen,
    /// Header checksum does not verify.
    BadChecksum,
}

/// A validated IPv4 packet: the header fields the stack uses and the payload, cut to
/// the header's total length (trailing link padding is ignored).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub id: u16,
    pub ttl: u8,
    pub more_fragments: bool,
    /// Fragment offset in bytes (the field × 8).
    pub frag_offset: usize,
    /// The header, options included (ICMP errors quote it).
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

impl Ipv4Packet<'_> {
    /// Whether this packet is one piece of a larger datagram (RFC 791 §2.3).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }

    /// Whether the header carries options (they are skipped, RFC 1122 3.2.1.8).
    pub fn has_options(&self) -> bool {
        self.header.len() > MIN_HEADER_LEN
    }
}

/// Parse and validate one IPv4 packet: version, IHL, total length against the
/// buffer, header checksum — in that order, so each bad packet gets one reason.
pub fn parse(buf: &[u8]) -> Result<Ipv4Packet<'_>, Ipv4Error> {
    let first = *buf.first().ok_or(Ipv4Error::Truncated)?;
    let version = first >> 4;
    if version != 4 {
        return Err(Ipv4Error::BadVersion(version));
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < MIN_HEADER_LEN {
        return Err(Ipv4Error::BadHeaderLen);
    }
    let header = Ipv4HeaderSlice::from_slice(buf).map_err(|_| Ipv4Error::Truncated)?;
    let total_len = usize::from(header.total_len());
    if total_len > buf.len() || total_len < header_len {
        return Err(Ipv4Error::BadTotalLen);
    }
    // RFC 791 §3.1: the one's-complement sum over a correct header, checksum field
    // included, is all ones, so its complement is zero.
    if Sum16BitWords::new().add_slice(header.slice()).ones_complement() != 0 {
        return Err(Ipv4Error::BadChecksum);
    }
    Ok(Ipv4Packet {
        src: header.source_addr(),
        dst: header.destination_addr(),
        protocol: header.protocol().0,
        id: header.identification(),
        ttl: header.ttl(),
        more_fragments: header.more_fragments(),
        frag_offset: usize::from(header.fragments_offset().value()) * 8,
        header: header.slice(),
        payload: buf.get(header_len..total_len).ok_or(Ipv4Error::BadTotalLen)?,
    })
}

/// What a new IPv4 header says, apart from lengths and checksum.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub id: u16,
    pub dont_fragment: bool,
}

/// Append one IPv4 packet (header without options, then `payload`) to `out`.
/// `frag_offset` is in bytes and must be a multiple of 8. Returns `None` if the
/// packet would not fit the 16-bit length or 13-bit offset fields.
pub fn emit(
    out: &mut Vec<u8>,
    repr: &Ipv4Repr,
    frag_offset: usize,
    more_fragments: bool,
    payload: &[u8],
) -> Option<()> {
    let payload_len = u16::try_from(payload.len()).ok()?;
    let mut header =
        Ipv4Header::new(payload_len, repr.ttl, IpNumber(repr.protocol), repr.src.octets(), repr.dst.octets()).ok()?;
    header.identification = repr.id;
    header.dont_fragment = repr.dont_fragment;
    header.more_fragments = more_fragments;
    header.fragment_offset = IpFragOffset::try_new(u16::try_from(frag_offset / 8).ok()?).ok()?;
    header.header_checksum = header.calc_header_checksum();
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            protocol: 17,
            ttl: 64,
            id: 0x1234,
            dont_fragment: false,
        };
        let mut out = Vec::new();
        emit(&mut out, &repr, 0, false, payload).expect("fits");
        out
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let buf = sample(b"hello");
        let p = parse(&buf).expect("valid");
        assert_eq!(p.src, Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(p.protocol, 17);
        assert_eq!(p.id, 0x1234);
        assert_eq!(p.payload, b"hello");
        assert!(!p.is_fragment());
    }

    #[test]
    fn each_defect_has_its_reason() {
        let good = sample(b"data");
        assert_eq!(parse(&[]).err(), Some(Ipv4Error::Truncated));
        assert_eq!(parse(&good[..12]).err(), Some(Ipv4Error::Truncated));
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(parse(&v6).err(), Some(Ipv4Error::BadVersion(6)));
        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(parse(&ihl).err(), Some(Ipv4Error::BadHeaderLen));
        assert_eq!(parse(&good[..22]).err(), Some(Ipv4Error::BadTotalLen));
        let mut sum = good.clone();
        sum[10] ^= 0x01;
        assert_eq!(parse(&sum).err(), Some(Ipv4Error::BadChecksum));
    }

    #[test]
    fn trailing_padding_is_cut_off() {
        let mut buf = sample(b"abc");
        buf.extend_from_slice(&[0; 10]);
        assert_eq!(parse(&buf).expect("valid").payload, b"abc");
    }

    #[test]
    fn every_single_bit_flip_in_the_header_is_caught() {
        let good = sample(b"x");
        for bit in 0..MIN_HEADER_LEN * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(parse(&bad).is_err(), "flip of bit {bit} went unnoticed");
        }
    }
}
