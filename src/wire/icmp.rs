//! ICMPv4 messages (RFC 792): the few the stack reads and writes.

use std::net::Ipv4Addr;

use etherparse::checksum::Sum16BitWords;
use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Ipv4HeaderSlice};

use super::field::{read_u16, read_u32};
use super::{ip_protocol, tcp, udp};

/// Where each field of the ICMP header sits (RFC 792).
pub mod field {
    use crate::wire::field::Field;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    /// Checksum over the whole message.
    pub const CHECKSUM: Field = 2..4;
    /// Echo and echo reply: identifier.
    pub const ECHO_IDENT: Field = 4..6;
    /// Echo and echo reply: sequence number.
    pub const ECHO_SEQ: Field = 6..8;
    /// Errors: the unused word (the next-hop MTU for "fragmentation needed").
    pub const UNUSED: Field = 4..8;
    /// Where the data begins: echo data, or an error's quote.
    pub const DATA: usize = 8;
}

/// ICMP header length (type, code, checksum, 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Destination-unreachable codes (RFC 792, RFC 1812 §5.2.7.1).
pub const CODE_NET_UNREACHABLE: u8 = 0;
pub const CODE_HOST_UNREACHABLE: u8 = 1;
pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
pub const CODE_PORT_UNREACHABLE: u8 = 3;
pub const CODE_FRAGMENTATION_NEEDED: u8 = 4;
pub const CODE_NET_PROHIBITED: u8 = 9;
pub const CODE_HOST_PROHIBITED: u8 = 10;
pub const CODE_ADMIN_PROHIBITED: u8 = 13;

/// Why an ICMP message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    /// Shorter than its header (or a timestamp message of the wrong size).
    Truncated,
    /// Checksum over the whole message does not verify.
    BadChecksum,
}

/// The ICMP messages the stack acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpMessage<'a> {
    /// Type 8: echo request, answered by an echo reply with the same id, seq and data.
    EchoRequest { id: u16, seq: u16, data: &'a [u8] },
    /// Type 3: destination unreachable; `quoted` is the offending IP header + data.
    /// For code 4 (fragmentation needed) `next_hop_mtu` is the MTU of the link that
    /// refused it (RFC 1191 §4; 0 from a router older than that RFC).
    DestUnreachable { code: u8, next_hop_mtu: u16, quoted: &'a [u8] },
    /// Anything else: read, counted, ignored.
    Other { icmp_type: u8, code: u8 },
}

/// Parse and checksum-verify one ICMP message (the whole IP payload).
pub fn parse(buf: &[u8]) -> Result<IcmpMessage<'_>, IcmpError> {
    let slice = Icmpv4Slice::from_slice(buf).map_err(|_| IcmpError::Truncated)?;
    if Sum16BitWords::new().add_slice(buf).ones_complement() != 0 {
        return Err(IcmpError::BadChecksum);
    }
    Ok(match slice.icmp_type() {
        Icmpv4Type::EchoRequest(echo) => IcmpMessage::EchoRequest { id: echo.id, seq: echo.seq, data: slice.payload() },
        Icmpv4Type::DestinationUnreachable(kind) => {
            let next_hop_mtu = match kind {
                DestUnreachableHeader::FragmentationNeeded { next_hop_mtu } => next_hop_mtu,
                _ => 0,
            };
            IcmpMessage::DestUnreachable { code: slice.code_u8(), next_hop_mtu, quoted: slice.payload() }
        }
        _ => IcmpMessage::Other { icmp_type: slice.type_u8(), code: slice.code_u8() },
    })
}

/// Append an echo reply (type 0) to `out` (RFC 792 "Echo or Echo Reply Message").
pub fn emit_echo_reply(out: &mut Vec<u8>, id: u16, seq: u16, data: &[u8]) {
    let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoReply(IcmpEchoHeader { id, seq }), data);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(data);
}

/// Append a destination-unreachable message (type 3) with `code` (3 = port
/// unreachable) quoting `quoted` — the original IP header and leading data bytes.
pub fn emit_dest_unreachable(out: &mut Vec<u8>, code: u8, quoted: &[u8]) {
    emit_dest_unreachable_mtu(out, code, 0, quoted);
}

/// A destination unreachable with a next-hop MTU (code 4, RFC 1191 §4), as a
/// router sends it.
pub fn emit_dest_unreachable_mtu(out: &mut Vec<u8>, code: u8, next_hop_mtu: u16, quoted: &[u8]) {
    let kind = DestUnreachableHeader::from_values(code, next_hop_mtu).unwrap_or(DestUnreachableHeader::Port);
    let header = Icmpv4Header::with_checksum(Icmpv4Type::DestinationUnreachable(kind), quoted);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(quoted);
}

/// The datagram an ICMP error is about, read from what the error quotes: the
/// datagram's IP header and at least its first 8 data bytes (RFC 792; RFC 1122
/// 3.2.2 asks for them so that the error can be matched to a connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// The datagram's source: us, if we sent it.
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// `ip_protocol::UDP` or `ip_protocol::TCP`.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// The quoted datagram's total length, as its header says (RFC 1191 §5 uses
    /// it when a router sends no next-hop MTU).
    pub total_len: u16,
    /// TCP only: the quoted segment's sequence number (inside the 8 bytes RFC 792
    /// guarantees), which RFC 5927 §4.1 checks against the connection's window.
    pub seq: Option<u32>,
}

/// Read the quoted IP header and the ports that follow it, for a UDP or TCP
/// datagram (both headers begin with the source and destination ports, the first 4
/// of the 8 quoted data bytes).
///
/// `None` if the quote does not hold a whole IPv4 header (version 4, IHL ≥ 5, IHL ×
/// 4 bytes) and 4 bytes after it, or the quoted protocol is neither UDP nor TCP.
/// The quoted header's checksum and total length are not checked: a quote is cut
/// short by design, and some routers rewrite the header before quoting it.
/// Behaves as the UDP-only reader it replaces for UDP.
pub fn parse_quoted(quoted: &[u8]) -> Option<Quoted> {
    let header = Ipv4HeaderSlice::from_slice(quoted).ok()?;
    let protocol = header.protocol().0;
    let (src_port, dst_port) = match protocol {
        ip_protocol::UDP => (udp::field::SRC_PORT, udp::field::DST_PORT),
        ip_protocol::TCP => (tcp::field::SRC_PORT, tcp::field::DST_PORT),
        _ => return None,
    };
    let data = quoted.get(header.slice().len()..)?;
    Some(Quoted {
        src: header.source_addr(),
        dst: header.destination_addr(),
        protocol,
        src_port: read_u16(data, src_port)?,
        dst_port: read_u16(data, dst_port)?,
        total_len: header.total_len(),
        seq: if protocol == ip_protocol::TCP { read_u32(data, tcp::field::SEQ_NUM) } else { None },
    })
}

/// The quoted datagram of an ICMP error for any protocol: its header's
/// addresses and number, and the quoted start of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedDatagram<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// The payload bytes quoted after the header (RFC 792: at least 8).
    pub payload: &'a [u8],
}

/// Read the quoted IP header of an ICMP error whatever the protocol behind it;
/// `None` if the quote does not hold a whole IPv4 header.
pub fn parse_quoted_datagram(quoted: &[u8]) -> Option<QuotedDatagram<'_>> {
    let header = Ipv4HeaderSlice::from_slice(quoted).ok()?;
    Some(QuotedDatagram {
        src: header.source_addr(),
        dst: header.destination_addr(),
        protocol: header.protocol().0,
        payload: quoted.get(header.slice().len()..)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4;

    #[test]
    fn echo_request_parses_and_is_checked() {
        let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 9 }), b"abc");
        let mut buf = header.to_bytes().to_vec();
        buf.extend_from_slice(b"abc");
        assert_eq!(parse(&buf), Ok(IcmpMessage::EchoRequest { id: 7, seq: 9, data: b"abc" }));
        buf[field::DATA + 1] ^= 0x40;
        assert_eq!(parse(&buf), Err(IcmpError::BadChecksum));
        assert_eq!(parse(&buf[..5]), Err(IcmpError::Truncated));
    }

    #[test]
    fn echo_reply_verifies() {
        let mut buf = Vec::new();
        emit_echo_reply(&mut buf, 1, 2, b"payload");
        assert_eq!(parse(&buf), Ok(IcmpMessage::Other { icmp_type: 0, code: 0 }));
    }

    #[test]
    fn dest_unreachable_round_trip() {
        let mut buf = Vec::new();
        emit_dest_unreachable(&mut buf, 3, b"quoted header bytes");
        assert_eq!(buf[field::TYPE], 3);
        assert_eq!(buf[field::CODE], 3);
        assert_eq!(&buf[field::DATA..], b"quoted header bytes");
        assert_eq!(
            parse(&buf),
            Ok(IcmpMessage::DestUnreachable { code: 3, next_hop_mtu: 0, quoted: b"quoted header bytes" })
        );
        let mut frag = Vec::new();
        emit_dest_unreachable_mtu(&mut frag, CODE_FRAGMENTATION_NEEDED, 1280, b"quoted");
        assert_eq!(parse(&frag), Ok(IcmpMessage::DestUnreachable { code: 4, next_hop_mtu: 1280, quoted: b"quoted" }));
    }

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// What an error about a `protocol` datagram from A:4000 to B:53 quotes: its IP
    /// header (with `options` words of NOPs) and the first 8 bytes of its data.
    fn quote(protocol: u8, options: usize) -> Vec<u8> {
        let repr = ipv4::Ipv4Repr { src: A, dst: B, protocol, ttl: 64, id: 1, dont_fragment: true };
        let mut packet = Vec::new();
        match protocol {
            ip_protocol::UDP => udp::emit(&mut packet, A, B, 4000, 53, b"a query").expect("fits"),
            _ => {
                let segment = tcp::Segment {
                    src_port: 4000,
                    dst_port: 53,
                    seq: 1,
                    ack: 2,
                    flags: tcp::Flags { ack: true, ..tcp::Flags::default() },
                    window: 100,
                    options: tcp::Options::default(),
                    payload: b"data",
                };
                tcp::emit(&mut packet, A, B, &segment).expect("fits")
            }
        }
        let mut datagram = Vec::new();
        ipv4::emit(&mut datagram, &repr, 0, false, &packet).expect("fits");
        let opt = vec![1; options * 4];
        datagram.splice(ipv4::MIN_HEADER_LEN..ipv4::MIN_HEADER_LEN, opt);
        datagram[ipv4::field::VER_IHL] = 0x45 + options as u8;
        datagram.truncate(ipv4::MIN_HEADER_LEN + options * 4 + 8);
        datagram
    }

    #[test]
    fn a_quoted_udp_or_tcp_header_gives_addresses_and_ports() {
        for protocol in [ip_protocol::UDP, ip_protocol::TCP] {
            for options in [0, 1, 10] {
                let q = parse_quoted(&quote(protocol, options));
                let seq = (protocol == ip_protocol::TCP).then_some(1);
                // The total length as the (unpatched) quoted header says.
                let total_len = q.map_or(0, |q| q.total_len);
                assert!(total_len > 20, "{total_len}");
                assert_eq!(q, Some(Quoted { src: A, dst: B, protocol, src_port: 4000, dst_port: 53, total_len, seq }));
            }
        }
    }

    #[test]
    fn a_quote_needs_only_the_header_and_the_ports() {
        let full = quote(ip_protocol::UDP, 1);
        let header = ipv4::MIN_HEADER_LEN + 4;
        assert!(parse_quoted(&full[..header + 4]).is_some());
        for cut in 0..header + 4 {
            assert_eq!(parse_quoted(&full[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn other_protocols_and_non_ipv4_quotes_give_nothing() {
        let mut icmp = quote(ip_protocol::UDP, 0);
        icmp[ipv4::field::PROTOCOL] = ip_protocol::ICMP;
        assert_eq!(parse_quoted(&icmp), None);
        let mut v6 = quote(ip_protocol::TCP, 0);
        v6[ipv4::field::VER_IHL] = 0x65;
        assert_eq!(parse_quoted(&v6), None);
        let mut ihl = quote(ip_protocol::TCP, 0);
        ihl[ipv4::field::VER_IHL] = 0x44;
        assert_eq!(parse_quoted(&ihl), None);
        assert_eq!(parse_quoted(&[]), None);
    }

    #[test]
    fn a_quote_is_read_despite_its_cut_length_and_a_stale_checksum() {
        let mut q = quote(ip_protocol::UDP, 0);
        q[ipv4::field::CHECKSUM].copy_from_slice(&[0xde, 0xad]);
        q[ipv4::field::LENGTH].copy_from_slice(&1500u16.to_be_bytes());
        assert_eq!(parse_quoted(&q).map(|q| q.dst_port), Some(53));
    }
}
