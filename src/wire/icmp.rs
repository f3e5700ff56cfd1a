//! ICMPv4 messages (RFC 792): the few the stack reads and writes.

use etherparse::checksum::Sum16BitWords;
use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type};

/// ICMP header length (type, code, checksum, 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Destination-unreachable codes (RFC 792).
pub const CODE_NET_UNREACHABLE: u8 = 0;
pub const CODE_HOST_UNREACHABLE: u8 = 1;
pub const CODE_PORT_UNREACHABLE: u8 = 3;

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
    DestUnreachable { code: u8, quoted: &'a [u8] },
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
        Icmpv4Type::DestinationUnreachable(_) => {
            IcmpMessage::DestUnreachable { code: slice.code_u8(), quoted: slice.payload() }
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
    let kind = DestUnreachableHeader::from_values(code, 0).unwrap_or(DestUnreachableHeader::Port);
    let header = Icmpv4Header::with_checksum(Icmpv4Type::DestinationUnreachable(kind), quoted);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(quoted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_parses_and_is_checked() {
        let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 9 }), b"abc");
        let mut buf = header.to_bytes().to_vec();
        buf.extend_from_slice(b"abc");
        assert_eq!(parse(&buf), Ok(IcmpMessage::EchoRequest { id: 7, seq: 9, data: b"abc" }));
        buf[9] ^= 0x40;
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
        assert_eq!(buf[0], 3);
        assert_eq!(parse(&buf), Ok(IcmpMessage::DestUnreachable { code: 3, quoted: b"quoted header bytes" }));
    }
}
