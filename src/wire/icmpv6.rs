//! ICMPv6 messages (RFC 4443): the few the stack reads and writes, over
//! etherparse's `Icmpv6Slice` and `Icmpv6Header`.
//!
//! Unlike ICMPv4, the ICMPv6 checksum covers a pseudo-header (RFC 4443 §2.3, RFC
//! 8200 §8.1): source and destination addresses, the message length, and Next
//! Header 58. So both parsing and writing need the packet's addresses. A message is
//! verified by summing, checksum field included, to all ones (see
//! [`super::verifies_with_pseudo_header`] for why not by comparing).
//!
//! Neighbor Discovery (RFC 4861) and Multicast Listener Discovery (RFC 2710, RFC
//! 3810) messages are told apart from the rest: a TUN has no link layer, so a host
//! on it has no use for them, but the kernel sends its router solicitations and MLD
//! reports on every IPv6-enabled link, and they deserve their own counter.

use std::net::Ipv6Addr;

use etherparse::icmpv6::{DestUnreachableCode, ParameterProblemCode, ParameterProblemHeader, TimeExceededCode};
use etherparse::{
    IcmpEchoHeader, Icmpv6Header, Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6FragmentHeaderSlice, Ipv6Header,
};

use super::field::{read_u16, read_u32};
use super::ip_protocol::{FRAGMENT, TCP, UDP};

/// Where each field of the ICMPv6 header sits (RFC 4443 §2.1).
pub mod field {
    use crate::wire::field::Field;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    /// Checksum over the pseudo-header and the whole message.
    pub const CHECKSUM: Field = 2..4;
    /// Errors: the pointer (parameter problem), the MTU (packet too big), or unused.
    pub const PARAM: Field = 4..8;
    /// Where the data begins: echo data, or an error's quote.
    pub const DATA: usize = 8;
}

/// ICMPv6 header length (type, code, checksum, 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Message types (RFC 4443 §2.1, RFC 4861 §4, RFC 2710 §3, RFC 3810 §5).
pub mod types {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    /// MLD query, report and done (RFC 2710).
    pub const MLD: std::ops::RangeInclusive<u8> = 130..=132;
    /// Router and neighbor solicitations and advertisements, redirect (RFC 4861).
    pub const NEIGHBOR_DISCOVERY: std::ops::RangeInclusive<u8> = 133..=137;
    /// MLDv2 report (RFC 3810).
    pub const MLD_V2_REPORT: u8 = 143;
}

/// Destination-unreachable codes (RFC 4443 §3.1).
pub const CODE_NO_ROUTE: u8 = 0;
pub const CODE_ADMIN_PROHIBITED: u8 = 1;
pub const CODE_ADDRESS_UNREACHABLE: u8 = 3;
pub const CODE_PORT_UNREACHABLE: u8 = 4;
/// Time-exceeded code: fragment reassembly time exceeded (RFC 4443 §3.3).
pub const CODE_REASSEMBLY_TIME_EXCEEDED: u8 = 1;
/// Parameter-problem codes (RFC 4443 §3.4, RFC 7112 §6, RFC 8883 §2).
pub const CODE_ERRONEOUS_FIELD: u8 = 0;
pub const CODE_UNRECOGNIZED_NEXT_HEADER: u8 = 1;
pub const CODE_UNRECOGNIZED_OPTION: u8 = 2;
pub const CODE_INCOMPLETE_CHAIN: u8 = 3;
pub const CODE_TOO_MANY_HEADERS: u8 = 8;

/// Why an ICMPv6 message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Error {
    /// Shorter than its 8-byte header.
    Truncated,
    /// The checksum over pseudo-header and message does not verify.
    BadChecksum,
}

/// The ICMPv6 messages the stack tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Message<'a> {
    /// Type 128, answered by an echo reply with the same id, seq and data.
    EchoRequest { id: u16, seq: u16, data: &'a [u8] },
    /// Types 1–4 (errors, RFC 4443 §3): `param` is the pointer or MTU word,
    /// `quoted` the start of the packet the error is about.
    Error { icmp_type: u8, code: u8, param: u32, quoted: &'a [u8] },
    /// Neighbor Discovery or MLD: no use on a TUN.
    NeighborOrMulticast { icmp_type: u8 },
    /// Anything else (echo replies, unknown informational types): read, ignored.
    Other { icmp_type: u8, code: u8 },
}

/// An ICMPv6 error to write (RFC 4443 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Type 1 with a code such as [`CODE_PORT_UNREACHABLE`].
    DestUnreachable(u8),
    /// Type 2 with the MTU of the link that refused the packet.
    PacketTooBig(u32),
    /// Type 3 with a code such as [`CODE_REASSEMBLY_TIME_EXCEEDED`].
    TimeExceeded(u8),
    /// Type 4: the code and the offset in the invoking packet of the field at fault.
    ParameterProblem { code: u8, pointer: u32 },
}

/// Parse and checksum-verify one ICMPv6 message (the upper-layer data of a packet
/// from `src` to `dst`).
pub fn parse(src: Ipv6Addr, dst: Ipv6Addr, buf: &[u8]) -> Result<Icmpv6Message<'_>, Icmpv6Error> {
    let slice = Icmpv6Slice::from_slice(buf).map_err(|_| Icmpv6Error::Truncated)?;
    if !slice.is_checksum_valid(src.octets(), dst.octets()) {
        return Err(Icmpv6Error::BadChecksum);
    }
    let (icmp_type, code) = (slice.type_u8(), slice.code_u8());
    let data = buf.get(field::DATA..).unwrap_or_default();
    Ok(match icmp_type {
        types::ECHO_REQUEST => {
            let [a, b, c, d] = slice.bytes5to8();
            let (id, seq) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            Icmpv6Message::EchoRequest { id, seq, data }
        }
        types::DEST_UNREACHABLE..=types::PARAMETER_PROBLEM => {
            let param = u32::from_be_bytes(slice.bytes5to8());
            Icmpv6Message::Error { icmp_type, code, param, quoted: data }
        }
        t if types::MLD.contains(&t) || types::NEIGHBOR_DISCOVERY.contains(&t) || t == types::MLD_V2_REPORT => {
            Icmpv6Message::NeighborOrMulticast { icmp_type }
        }
        _ => Icmpv6Message::Other { icmp_type, code },
    })
}

/// Append a message of `icmp_type` with `data` after its header, checksummed for
/// a packet from `src` to `dst`. `None` if the data is too long for a checksum.
fn emit(out: &mut Vec<u8>, src: Ipv6Addr, dst: Ipv6Addr, icmp_type: Icmpv6Type, data: &[u8]) -> Option<()> {
    let header = Icmpv6Header::with_checksum(icmp_type, src.octets(), dst.octets(), data).ok()?;
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(data);
    Some(())
}

/// Write the checksum of a whole ICMPv6 `message` (type, code, checksum, body)
/// sent from `src` to `dst` (RFC 4443 §2.3) over whatever its checksum field
/// held: what the stack does for a program's raw ICMPv6 socket, whose messages
/// it checksums itself (RFC 3542 §3.1). `None` when the message is shorter than
/// its type, code and checksum.
pub fn fill_checksum(message: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Option<()> {
    message.get_mut(field::CHECKSUM)?.fill(0);
    let sum = super::checksum(src.into(), dst.into(), super::ip_protocol::ICMPV6, message)?;
    message[field::CHECKSUM].copy_from_slice(&sum);
    Some(())
}

/// Append an echo reply (type 129, RFC 4443 §4.2) from `src` to `dst`.
pub fn emit_echo_reply(out: &mut Vec<u8>, src: Ipv6Addr, dst: Ipv6Addr, id: u16, seq: u16, data: &[u8]) -> Option<()> {
    emit(out, src, dst, Icmpv6Type::EchoReply(IcmpEchoHeader { id, seq }), data)
}

/// Append an echo request (type 128), as a peer sends it (tests, simulators).
pub fn emit_echo_request(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Option<()> {
    emit(out, src, dst, Icmpv6Type::EchoRequest(IcmpEchoHeader { id, seq }), data)
}

/// Append an error message from `src` to `dst` quoting `quoted` (the start of the
/// invoking packet). `None` for a code etherparse does not know for the type.
pub fn emit_error(out: &mut Vec<u8>, src: Ipv6Addr, dst: Ipv6Addr, kind: ErrorKind, quoted: &[u8]) -> Option<()> {
    let icmp_type = match kind {
        ErrorKind::DestUnreachable(code) => Icmpv6Type::DestinationUnreachable(DestUnreachableCode::from_u8(code)?),
        ErrorKind::PacketTooBig(mtu) => Icmpv6Type::PacketTooBig { mtu },
        ErrorKind::TimeExceeded(code) => Icmpv6Type::TimeExceeded(TimeExceededCode::from_u8(code)?),
        ErrorKind::ParameterProblem { code, pointer } => {
            Icmpv6Type::ParameterProblem(ParameterProblemHeader { code: ParameterProblemCode::from_u8(code)?, pointer })
        }
    };
    emit(out, src, dst, icmp_type, quoted)
}

/// The upper layer of an IPv6 packet, whole or quoted by an error: its fixed
/// header, the Next Header that ends the extension-header chain, and the bytes
/// after the chain. The chain is skipped with etherparse; `None` when the fixed
/// header is cut short, the chain is too broken to skip, or the packet is a
/// fragment other than the first (whose data is no upper-layer header).
pub fn upper_layer(packet: &[u8]) -> Option<(Ipv6Header, u8, &[u8])> {
    let (header, mut rest) = Ipv6Header::from_slice(packet).ok()?;
    let mut next = header.next_header;
    loop {
        if next == IpNumber(FRAGMENT) {
            let frag = Ipv6FragmentHeaderSlice::from_slice(rest).ok()?;
            if frag.fragment_offset().value() != 0 {
                return None;
            }
        }
        match Ipv6Header::skip_header_extension_in_slice(rest, next) {
            Ok((after, remaining)) if remaining.len() < rest.len() => (next, rest) = (after, remaining),
            Ok(_) => return Some((header, next.0, rest)),
            Err(_) => return None,
        }
    }
}

/// The UDP or TCP datagram an ICMPv6 error quotes (RFC 4443 §2.4 (c): as much
/// of it as fits), enough to find the socket it came from: the addresses of its
/// fixed header and the two ports that begin both transport headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted6 {
    /// The datagram's source: us, if we sent it.
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// `ip_protocol::UDP` or `ip_protocol::TCP`.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP only: the quoted segment's sequence number, which RFC 5927 §4.1
    /// checks against the connection's window.
    pub seq: Option<u32>,
}

/// Read a quoted IPv6 packet past its extension headers to the ports of its
/// UDP or TCP header; `None` if the quote stops before them or the protocol is
/// another.
pub fn parse_quoted(quoted: &[u8]) -> Option<Quoted6> {
    let (header, protocol, data) = upper_layer(quoted)?;
    if protocol != UDP && protocol != TCP {
        return None;
    }
    Some(Quoted6 {
        src: Ipv6Addr::from(header.source),
        dst: Ipv6Addr::from(header.destination),
        protocol,
        src_port: read_u16(data, super::udp::field::SRC_PORT)?,
        dst_port: read_u16(data, super::udp::field::DST_PORT)?,
        seq: if protocol == TCP { read_u32(data, super::tcp::field::SEQ_NUM) } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
    const B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

    #[test]
    fn echo_request_parses_and_its_checksum_covers_the_addresses() {
        let mut buf = Vec::new();
        emit_echo_request(&mut buf, A, B, 7, 9, b"abc").expect("fits");
        assert_eq!(parse(A, B, &buf), Ok(Icmpv6Message::EchoRequest { id: 7, seq: 9, data: b"abc" }));
        assert_eq!(parse(B, A, &buf), Ok(Icmpv6Message::EchoRequest { id: 7, seq: 9, data: b"abc" }), "symmetric");
        let other = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 9);
        assert_eq!(parse(A, other, &buf), Err(Icmpv6Error::BadChecksum), "pseudo-header");
        buf[field::DATA] ^= 1;
        assert_eq!(parse(A, B, &buf), Err(Icmpv6Error::BadChecksum));
        assert_eq!(parse(A, B, &buf[..7]), Err(Icmpv6Error::Truncated));
    }

    #[test]
    fn fill_checksum_gives_what_emit_gives_whatever_the_field_held() {
        let mut want = Vec::new();
        emit_echo_request(&mut want, A, B, 7, 9, b"odd").expect("fits");
        let mut message = want.clone();
        message[field::CHECKSUM].copy_from_slice(&[0xde, 0xad]);
        assert_eq!(fill_checksum(&mut message, A, B), Some(()));
        assert_eq!(message, want);
        assert_eq!(fill_checksum(&mut [128, 0, 0], A, B), None, "no checksum field");
    }

    #[test]
    fn echo_reply_is_read_as_other() {
        let mut buf = Vec::new();
        emit_echo_reply(&mut buf, B, A, 1, 2, b"payload").expect("fits");
        assert_eq!(buf[field::TYPE], types::ECHO_REPLY);
        assert_eq!(parse(B, A, &buf), Ok(Icmpv6Message::Other { icmp_type: 129, code: 0 }));
    }

    #[test]
    fn errors_round_trip_with_their_parameter() {
        let cases = [
            (ErrorKind::ParameterProblem { code: CODE_UNRECOGNIZED_NEXT_HEADER, pointer: 6 }, 4, 1, 6),
            (ErrorKind::ParameterProblem { code: CODE_TOO_MANY_HEADERS, pointer: 72 }, 4, 8, 72),
            (ErrorKind::DestUnreachable(CODE_PORT_UNREACHABLE), 1, 4, 0),
            (ErrorKind::TimeExceeded(CODE_REASSEMBLY_TIME_EXCEEDED), 3, 1, 0),
            (ErrorKind::PacketTooBig(1280), 2, 0, 1280),
        ];
        for (kind, icmp_type, code, param) in cases {
            let mut buf = Vec::new();
            emit_error(&mut buf, B, A, kind, b"the invoking packet").expect("known code");
            let quoted = &b"the invoking packet"[..];
            assert_eq!(parse(B, A, &buf), Ok(Icmpv6Message::Error { icmp_type, code, param, quoted }), "{kind:?}");
        }
        assert_eq!(emit_error(&mut Vec::new(), B, A, ErrorKind::ParameterProblem { code: 200, pointer: 0 }, &[]), None);
    }

    #[test]
    fn a_quoted_udp_datagram_is_read_past_its_extension_headers() {
        let mut udp = Vec::new();
        crate::wire::udp::emit_v6(&mut udp, B, A, 50_000, 4444, b"data").expect("fits");
        // Destination options (8 bytes of padding) before UDP.
        let mut payload = vec![UDP, 0, 1, 4, 0, 0, 0, 0];
        payload.extend_from_slice(&udp);
        let repr = crate::wire::ipv6::Ipv6Repr { src: B, dst: A, next_header: 60, hop_limit: 64, flow_label: 0 };
        let mut packet = Vec::new();
        crate::wire::ipv6::emit(&mut packet, &repr, &payload).expect("fits");
        let expected = Quoted6 { src: B, dst: A, protocol: UDP, src_port: 50_000, dst_port: 4444, seq: None };
        assert_eq!(parse_quoted(&packet), Some(expected));
        assert_eq!(parse_quoted(&packet[..40 + 8 + 3]), None, "cut before the ports");
        assert_eq!(parse_quoted(&packet[..30]), None, "cut in the fixed header");
    }

    #[test]
    fn neighbor_discovery_and_mld_are_told_apart() {
        for t in [133, 135, 130, 131, 143] {
            let mut buf = vec![t, 0, 0, 0, 0, 0, 0, 0];
            let sum = etherparse::checksum::Sum16BitWords::new()
                .add_16bytes(A.octets())
                .add_16bytes(B.octets())
                .add_4bytes(8u32.to_be_bytes())
                .add_2bytes([0, 58])
                .add_slice(&buf)
                .ones_complement();
            buf[field::CHECKSUM].copy_from_slice(&sum.to_ne_bytes());
            assert_eq!(parse(A, B, &buf), Ok(Icmpv6Message::NeighborOrMulticast { icmp_type: t }), "type {t}");
        }
    }
}
