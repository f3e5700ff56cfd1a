//! IPv6 fixed header parsing and writing (RFC 8200 §3), and the Fragment header the
//! stack writes when it fragments its own output (§4.5).
//!
//! The fixed header is 40 bytes and has no checksum (the transports' pseudo-header
//! checksums cover the addresses, §8.1). What follows it — extension headers, then
//! the upper-layer data — is `payload_length` bytes long; the chain of extension
//! headers is walked by [`super::ipv6_ext`]. Parsing and writing the header itself is
//! etherparse's `Ipv6HeaderSlice` and `Ipv6Header`; this module fixes the order of
//! the checks so that each bad packet gets exactly one reason.
//!
//! Cost: a parse reads the 40 header bytes and slices the payload; nothing is
//! copied or allocated. Bounds: a payload is at most 65,535 bytes (the 16-bit field;
//! jumbograms, RFC 2675, are not supported: their Jumbo Payload option is refused as
//! an unrecognised option by the extension-header walk).

use std::net::Ipv6Addr;

use etherparse::{IpFragOffset, IpNumber, Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, Ipv6HeaderSlice};

/// Where each field of the fixed header sits (RFC 8200 §3).
pub mod field {
    use crate::wire::field::Field;

    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub const VER_TC_FLOW: Field = 0..4;
    /// Length of everything after the fixed header, in bytes.
    pub const PAYLOAD_LEN: Field = 4..6;
    /// The type of the header that follows (an extension header or a transport).
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = Ipv6Header::LEN;
/// Length of a Fragment header (RFC 8200 §4.5).
pub const FRAGMENT_HEADER_LEN: usize = Ipv6FragmentHeader::LEN;
/// The minimum link MTU every IPv6 link carries (RFC 8200 §5).
pub const MIN_MTU: usize = 1280;
/// The largest payload the 16-bit Payload Length field describes.
pub const MAX_PAYLOAD: usize = 65_535;

/// Why an IPv6 packet was refused, in the order the checks run. Each maps to one
/// drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Error {
    /// Shorter than the 40-byte fixed header.
    Truncated,
    /// Version field is not 6.
    BadVersion(u8),
    /// Payload Length beyond the buffer.
    BadPayloadLen,
}

/// A validated IPv6 packet: the fixed header's fields and the payload (extension
/// headers and upper-layer data), cut to Payload Length (trailing link padding is
/// ignored).
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The fixed header's Next Header: the first extension header or the transport.
    pub next_header: u8,
    pub hop_limit: u8,
    pub flow_label: u32,
    /// The whole packet, fixed header included, cut to 40 + Payload Length: the
    /// extension-header walk and ICMPv6 errors work on offsets into it.
    pub packet: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// Everything after the fixed header.
    pub fn payload(&self) -> &'a [u8] {
        self.packet.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// Parse and validate one IPv6 fixed header: length, version, Payload Length
/// against the buffer — in that order, so each bad packet gets one reason.
pub fn parse(buf: &[u8]) -> Result<Ipv6Packet<'_>, Ipv6Error> {
    let first = *buf.first().ok_or(Ipv6Error::Truncated)?;
    let version = first >> 4;
    if version != 6 {
        return Err(Ipv6Error::BadVersion(version));
    }
    let header = Ipv6HeaderSlice::from_slice(buf).map_err(|_| Ipv6Error::Truncated)?;
    let end = HEADER_LEN + usize::from(header.payload_length());
    Ok(Ipv6Packet {
        src: header.source_addr(),
        dst: header.destination_addr(),
        next_header: header.next_header().0,
        hop_limit: header.hop_limit(),
        flow_label: header.flow_label().value(),
        packet: buf.get(..end).ok_or(Ipv6Error::BadPayloadLen)?,
    })
}

/// Rewrite the Payload Length of the IPv6 packet at the start of `packet` (there
/// is no header checksum to follow it). Fails if `packet` does not start with a
/// whole version-6 fixed header.
pub fn set_payload_len(packet: &mut [u8], len: u16) -> Result<(), Ipv6Error> {
    let first = *packet.first().ok_or(Ipv6Error::Truncated)?;
    if first >> 4 != 6 {
        return Err(Ipv6Error::BadVersion(first >> 4));
    }
    if packet.len() < HEADER_LEN {
        return Err(Ipv6Error::Truncated);
    }
    packet[field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// What a new fixed header says, apart from the Payload Length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    /// The 20-bit Flow Label (RFC 6437; 0: no flow).
    pub flow_label: u32,
}

/// Append a fixed header for `payload_len` bytes to `out`; `None` if the length
/// does not fit the 16-bit field or the label its 20 bits.
pub fn emit_header(out: &mut Vec<u8>, repr: &Ipv6Repr, payload_len: usize) -> Option<()> {
    let header = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::try_new(repr.flow_label).ok()?,
        payload_length: u16::try_from(payload_len).ok()?,
        next_header: IpNumber(repr.next_header),
        hop_limit: repr.hop_limit,
        source: repr.src.octets(),
        destination: repr.dst.octets(),
    };
    out.extend_from_slice(&header.to_bytes());
    Some(())
}

/// Append one unfragmented packet (fixed header, then `payload`) to `out`.
pub fn emit(out: &mut Vec<u8>, repr: &Ipv6Repr, payload: &[u8]) -> Option<()> {
    emit_header(out, repr, payload.len())?;
    out.extend_from_slice(payload);
    Some(())
}

/// Append one fragment (RFC 8200 §4.5): the fixed header with Next Header 44, a
/// Fragment header naming `repr.next_header`, then `piece`, which sits at byte
/// `offset` (a multiple of 8) of the fragmentable part. `None` if the offset is not
/// a multiple of 8 or does not fit the 13-bit field.
pub fn emit_fragment(
    out: &mut Vec<u8>,
    repr: &Ipv6Repr,
    id: u32,
    offset: usize,
    more_fragments: bool,
    piece: &[u8],
) -> Option<()> {
    if !offset.is_multiple_of(8) {
        return None;
    }
    let frag_offset = IpFragOffset::try_new(u16::try_from(offset / 8).ok()?).ok()?;
    let fragment = Ipv6FragmentHeader::new(IpNumber(repr.next_header), frag_offset, more_fragments, id);
    let outer = Ipv6Repr { next_header: etherparse::ip_number::IPV6_FRAG.0, ..*repr };
    emit_header(out, &outer, FRAGMENT_HEADER_LEN + piece.len())?;
    out.extend_from_slice(&fragment.to_bytes());
    out.extend_from_slice(piece);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
    const B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

    fn sample(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        emit(&mut out, &Ipv6Repr { src: A, dst: B, next_header: 17, hop_limit: 64, flow_label: 0 }, payload)
            .expect("fits");
        out
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let buf = sample(b"hello");
        assert_eq!(buf.len(), 45);
        assert_eq!(buf[0], 0x60);
        let p = parse(&buf).expect("valid");
        assert_eq!((p.src, p.dst, p.next_header, p.hop_limit, p.flow_label), (A, B, 17, 64, 0));
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.packet, &buf[..]);
    }

    #[test]
    fn each_defect_has_its_reason() {
        let good = sample(b"data");
        assert_eq!(parse(&[]).err(), Some(Ipv6Error::Truncated));
        assert_eq!(parse(&good[..39]).err(), Some(Ipv6Error::Truncated));
        let mut v4 = good.clone();
        v4[0] = 0x45;
        assert_eq!(parse(&v4).err(), Some(Ipv6Error::BadVersion(4)));
        // The version is read before the length: one byte is enough to say "not 6".
        assert_eq!(parse(&[0x70]).err(), Some(Ipv6Error::BadVersion(7)));
        assert_eq!(parse(&good[..43]).err(), Some(Ipv6Error::BadPayloadLen));
        let mut long = good.clone();
        long[field::PAYLOAD_LEN].copy_from_slice(&5u16.to_be_bytes());
        assert_eq!(parse(&long).err(), Some(Ipv6Error::BadPayloadLen));
    }

    #[test]
    fn trailing_padding_is_cut_off() {
        let mut buf = sample(b"abc");
        buf.extend_from_slice(&[0; 10]);
        assert_eq!(parse(&buf).expect("valid").payload(), b"abc");
    }

    #[test]
    fn set_payload_len_rewrites_the_field_only() {
        let good = sample(b"abcd");
        let mut longer = good.clone();
        set_payload_len(&mut longer, 1000).expect("a whole header");
        assert_eq!(&longer[field::PAYLOAD_LEN], &1000u16.to_be_bytes());
        assert_eq!((&longer[..4], &longer[6..]), (&good[..4], &good[6..]));
        assert_eq!(set_payload_len(&mut longer[..39], 4), Err(Ipv6Error::Truncated));
        assert_eq!(set_payload_len(&mut [], 4), Err(Ipv6Error::Truncated));
        let mut v4 = good.clone();
        v4[0] = 0x45;
        assert_eq!(set_payload_len(&mut v4, 4), Err(Ipv6Error::BadVersion(4)));
    }

    #[test]
    fn a_fragment_carries_its_header_and_piece() {
        let mut out = Vec::new();
        let repr = Ipv6Repr { src: B, dst: A, next_header: 58, hop_limit: 64, flow_label: 0 };
        emit_fragment(&mut out, &repr, 0xdead_beef, 1448, true, &[7; 16]).expect("fits");
        let p = parse(&out).expect("valid");
        assert_eq!(p.next_header, 44);
        let frag = &p.payload()[..FRAGMENT_HEADER_LEN];
        assert_eq!(frag[0], 58, "the fragment header names the original next header");
        assert_eq!(u16::from_be_bytes([frag[2], frag[3]]), (1448 / 8) << 3 | 1, "offset and M flag");
        assert_eq!(&frag[4..8], &0xdead_beefu32.to_be_bytes());
        assert_eq!(&p.payload()[FRAGMENT_HEADER_LEN..], &[7; 16]);
        assert!(emit_fragment(&mut out, &repr, 1, 4, true, &[]).is_none(), "unaligned offset");
        assert!(emit_fragment(&mut out, &repr, 1, 65_536, false, &[]).is_none(), "offset past 13 bits");
    }
}
