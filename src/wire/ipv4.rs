//! IPv4 header parsing and writing (RFC 791 §3.1).

use std::net::Ipv4Addr;

use etherparse::checksum::Sum16BitWords;
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, Ipv4HeaderSlice};

/// Where each field of the IPv4 header sits (RFC 791 §3.1). Options, if any, run
/// from [`MIN_HEADER_LEN`] to IHL × 4.
pub mod field {
    use crate::wire::field::Field;

    /// Version (high nibble) and IHL, the header length in 32-bit words (low nibble).
    pub const VER_IHL: usize = 0;
    /// DSCP (high six bits) and ECN (low two bits).
    pub const DSCP_ECN: usize = 1;
    /// Total length: header and data, in bytes.
    pub const LENGTH: Field = 2..4;
    /// Identification, shared by the fragments of one datagram.
    pub const IDENT: Field = 4..6;
    /// Flags (reserved, DF, MF: the high three bits) and the fragment offset in
    /// 8-byte units (the low 13 bits).
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    /// Header checksum: the header only, options included.
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

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
    let first = *buf.get(field::VER_IHL).ok_or(Ipv4Error::Truncated)?;
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
    let header = header_for(repr, frag_offset, more_fragments, payload.len())?;
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    Some(())
}

/// Write the 20-byte header of an unfragmented datagram for `repr` carrying
/// `payload_len` bytes into `out[..20]`, whose payload the caller has already
/// written after it (the transmit path builds a segment in place, so its
/// payload is copied once). `None`, with `out` unchanged, if `out` is shorter
/// than the header or the length does not fit.
pub fn write_header(out: &mut [u8], repr: &Ipv4Repr, payload_len: usize) -> Option<()> {
    let header = header_for(repr, 0, false, payload_len)?;
    let bytes = header.to_bytes();
    out.get_mut(..bytes.len())?.copy_from_slice(&bytes);
    Some(())
}

/// The header for `repr` with its checksum.
fn header_for(repr: &Ipv4Repr, frag_offset: usize, more_fragments: bool, payload_len: usize) -> Option<Ipv4Header> {
    let payload_len = u16::try_from(payload_len).ok()?;
    let mut header =
        Ipv4Header::new(payload_len, repr.ttl, IpNumber(repr.protocol), repr.src.octets(), repr.dst.octets()).ok()?;
    header.identification = repr.id;
    header.dont_fragment = repr.dont_fragment;
    header.more_fragments = more_fragments;
    header.fragment_offset = IpFragOffset::try_new(u16::try_from(frag_offset / 8).ok()?).ok()?;
    header.header_checksum = header.calc_header_checksum();
    Some(header)
}

/// Set the total-length field of the IPv4 header at the start of `packet` and
/// recompute its header checksum; the rest of the header, options included, is kept.
/// Used on headers the stack rebuilt or merged (an ICMP error's quote, a TSO
/// super-segment), never on input.
///
/// Fails, leaving `packet` unchanged, if it does not start with a whole IPv4 header
/// (`Truncated`, `BadVersion`, `BadHeaderLen`) or `total` is smaller than that
/// header (`BadTotalLen`). `total` is not checked against `packet.len()`: a quoted
/// header describes more bytes than are quoted.
pub fn set_total_len(packet: &mut [u8], total: u16) -> Result<(), Ipv4Error> {
    let header_len = header_len(packet)?;
    if usize::from(total) < header_len {
        return Err(Ipv4Error::BadTotalLen);
    }
    packet[field::LENGTH].copy_from_slice(&total.to_be_bytes());
    write_checksum(&mut packet[..header_len]);
    Ok(())
}

/// Recompute the header checksum of the IPv4 header at the start of `packet`, after
/// its fields were changed in place. Fails as [`set_total_len`] does, except that the
/// total length is not looked at.
pub fn fill_checksum(packet: &mut [u8]) -> Result<(), Ipv4Error> {
    let header_len = header_len(packet)?;
    write_checksum(&mut packet[..header_len]);
    Ok(())
}

/// The length of the whole IPv4 header (IHL × 4) at the start of `packet`, checked
/// by etherparse to be a version-4 header that `packet` holds entirely.
fn header_len(packet: &[u8]) -> Result<usize, Ipv4Error> {
    let first = *packet.get(field::VER_IHL).ok_or(Ipv4Error::Truncated)?;
    if first >> 4 != 4 {
        return Err(Ipv4Error::BadVersion(first >> 4));
    }
    if usize::from(first & 0x0f) * 4 < MIN_HEADER_LEN {
        return Err(Ipv4Error::BadHeaderLen);
    }
    Ipv4HeaderSlice::from_slice(packet).map(|h| h.slice().len()).map_err(|_| Ipv4Error::Truncated)
}

/// Write the checksum of `header` (exactly the header, at least 20 bytes long).
fn write_checksum(header: &mut [u8]) {
    header[field::CHECKSUM].copy_from_slice(&[0, 0]);
    let sum = Sum16BitWords::new().add_slice(header).ones_complement();
    // `Sum16BitWords` adds the words in native byte order, so its result goes back
    // in native order too (as etherparse's own header checksum does).
    header[field::CHECKSUM].copy_from_slice(&sum.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            protocol: crate::wire::ip_protocol::UDP,
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
        assert_eq!(p.protocol, crate::wire::ip_protocol::UDP);
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
        v6[field::VER_IHL] = 0x65;
        assert_eq!(parse(&v6).err(), Some(Ipv4Error::BadVersion(6)));
        let mut ihl = good.clone();
        ihl[field::VER_IHL] = 0x44;
        assert_eq!(parse(&ihl).err(), Some(Ipv4Error::BadHeaderLen));
        assert_eq!(parse(&good[..22]).err(), Some(Ipv4Error::BadTotalLen));
        let mut sum = good.clone();
        sum[field::CHECKSUM.start] ^= 0x01;
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

    #[test]
    fn set_total_len_rewrites_length_and_checksum_and_keeps_the_rest() {
        let good = sample(b"abcd");
        let mut longer = good.clone();
        set_total_len(&mut longer, 1000).expect("a whole header");
        assert_eq!(&longer[field::LENGTH], &1000u16.to_be_bytes());
        let changed = same_but(&good, &longer);
        assert!(!changed.is_empty());
        assert!(
            changed.iter().all(|i| field::LENGTH.contains(i) || field::CHECKSUM.contains(i)),
            "only length and checksum change: {changed:?}"
        );
        // A header of 1000 bytes' datagram, cut after 24: the checksum verifies, and
        // only the total length (now beyond the buffer) is refused.
        assert_eq!(parse(&longer).err(), Some(Ipv4Error::BadTotalLen));
        let mut back = longer.clone();
        set_total_len(&mut back, 24).expect("a whole header");
        assert_eq!(back, good, "setting the old length back restores the old bytes");
    }

    #[test]
    fn set_total_len_keeps_options_and_covers_them_with_the_checksum() {
        // IHL 6: one option word (four NOPs), then the payload.
        let mut buf = sample(b"xyz");
        buf.splice(MIN_HEADER_LEN..MIN_HEADER_LEN, [1, 1, 1, 1]);
        buf[field::VER_IHL] = 0x46;
        set_total_len(&mut buf, 27).expect("a whole header");
        let p = parse(&buf).expect("valid again");
        assert!(p.has_options());
        assert_eq!(p.payload, b"xyz");
    }

    #[test]
    fn set_total_len_refuses_what_is_not_a_whole_header() {
        let good = sample(b"");
        for cut in 0..MIN_HEADER_LEN {
            let mut short = good[..cut].to_vec();
            assert!(set_total_len(&mut short, 20).is_err(), "cut at {cut}");
            assert_eq!(short, good[..cut], "unchanged");
        }
        let mut v6 = good.clone();
        v6[field::VER_IHL] = 0x65;
        assert_eq!(set_total_len(&mut v6, 20), Err(Ipv4Error::BadVersion(6)));
        let mut ihl = good.clone();
        ihl[field::VER_IHL] = 0x44;
        assert_eq!(set_total_len(&mut ihl, 20), Err(Ipv4Error::BadHeaderLen));
        let mut options_cut = good.clone();
        options_cut[field::VER_IHL] = 0x46;
        assert_eq!(set_total_len(&mut options_cut, 40), Err(Ipv4Error::Truncated));
        let mut small = good.clone();
        assert_eq!(set_total_len(&mut small, 19), Err(Ipv4Error::BadTotalLen));
        assert_eq!(small, good);
    }

    #[test]
    fn fill_checksum_repairs_a_field_changed_in_place() {
        let mut buf = sample(b"data");
        buf[field::IDENT].copy_from_slice(&0xbeefu16.to_be_bytes());
        buf[field::TTL] = 3;
        assert_eq!(parse(&buf).err(), Some(Ipv4Error::BadChecksum));
        fill_checksum(&mut buf).expect("a whole header");
        let p = parse(&buf).expect("valid again");
        assert_eq!((p.id, p.ttl, p.protocol), (0xbeef, 3, buf[field::PROTOCOL]));
        assert_eq!(p.src.octets(), buf[field::SRC_ADDR]);
        assert_eq!(p.dst.octets(), buf[field::DST_ADDR]);
        assert_eq!(fill_checksum(&mut buf[..19]), Err(Ipv4Error::Truncated));
    }

    /// The offsets at which `a` and `b` differ.
    fn same_but(a: &[u8], b: &[u8]) -> Vec<usize> {
        a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect()
    }
}
