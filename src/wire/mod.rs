//! The wire: turning bytes into headers and headers into bytes.
//!
//! This layer is a thin adapter over [`etherparse`], which parses and writes the IPv4,
//! IPv6, UDP, ICMP and ICMPv6 headers and computes their checksums. Everything above it works with
//! the small, validated views defined here, so the protocol code never touches raw
//! offsets. Where a header must be read or patched in place (an ICMP error's quote,
//! the TUN's offloads), the functions here do it, and each header module names its
//! bytes in a `field` module (`ipv4::field::CHECKSUM`, `tcp::field::FLAGS`), as
//! smoltcp does. Nothing here allocates except the `emit` functions, and nothing
//! panics on any input.

pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6_ext;
pub mod rewrite;
pub mod tcp;
pub mod udp;

mod pseudo_sum;
pub(crate) use pseudo_sum::checksum;
pub use pseudo_sum::{
    complete_partial_checksum, fill_transport_checksum, verifies_with_pseudo_header, verifies_with_pseudo_header_v6,
};

/// IP protocol numbers (the IPv4 header's protocol field and IPv6's Next Header,
/// IANA "Assigned Internet Protocol Numbers"): the crate's one definition of them,
/// taken from etherparse.
///
/// Plain `u8` constants rather than a newtype: every protocol field in the crate
/// (`ipv4::Ipv4Packet::protocol`, `ipv4::Ipv4Repr::protocol`, the IP layer's
/// datagrams and send path) is a `u8`, so these replace the local `PROTO_*`
/// constants one for one, `match` arms included, without changing a signature.
/// etherparse's `IpNumber` is the newtype if one is ever wanted at the boundary.
pub mod ip_protocol {
    /// Internet Control Message Protocol (RFC 792).
    pub const ICMP: u8 = etherparse::ip_number::ICMP.0;
    /// Transmission Control Protocol (RFC 9293).
    pub const TCP: u8 = etherparse::ip_number::TCP.0;
    /// User Datagram Protocol (RFC 768).
    pub const UDP: u8 = etherparse::ip_number::UDP.0;
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOP_BY_HOP: u8 = etherparse::ip_number::IPV6_HOP_BY_HOP.0;
    /// IPv6 Routing header (RFC 8200 §4.4).
    pub const ROUTING: u8 = etherparse::ip_number::IPV6_ROUTE.0;
    /// IPv6 Fragment header (RFC 8200 §4.5).
    pub const FRAGMENT: u8 = etherparse::ip_number::IPV6_FRAG.0;
    /// ICMP for IPv6 (RFC 4443).
    pub const ICMPV6: u8 = etherparse::ip_number::IPV6_ICMP.0;
    /// IPv6 No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT_HEADER: u8 = etherparse::ip_number::IPV6_NO_NEXT_HEADER.0;
    /// IPv6 Destination Options (RFC 8200 §4.6).
    pub const DEST_OPTIONS: u8 = etherparse::ip_number::IPV6_DEST_OPTIONS.0;
}

/// Byte ranges of header fields, for the `field` modules of each header.
pub mod field {
    /// The bytes of one multi-byte field, e.g. `2..4`.
    pub type Field = core::ops::Range<usize>;

    /// The big-endian 16-bit field at `at` of `bytes`, if `bytes` is long enough.
    pub fn read_u16(bytes: &[u8], at: Field) -> Option<u16> {
        let b = bytes.get(at)?;
        Some(u16::from_be_bytes(b.try_into().ok()?))
    }

    /// The big-endian 32-bit field at `at` of `bytes`, if `bytes` is long enough.
    pub fn read_u32(bytes: &[u8], at: Field) -> Option<u32> {
        let b = bytes.get(at)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_big_endian_and_refuses_short_or_wrong_sized_ranges() {
            let bytes = [0x12, 0x34, 0x56, 0x78, 0x9a];
            assert_eq!(read_u16(&bytes, 1..3), Some(0x3456));
            assert_eq!(read_u32(&bytes, 1..5), Some(0x3456_789a));
            assert_eq!(read_u16(&bytes, 4..6), None, "past the end");
            assert_eq!(read_u32(&bytes, 0..3), None, "three bytes are not a u32");
            assert_eq!(read_u16(&[], 0..2), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn protocol_numbers_are_ianas() {
        assert_eq!((ip_protocol::ICMP, ip_protocol::TCP, ip_protocol::UDP), (1, 6, 17));
        use ip_protocol::*;
        assert_eq!((HOP_BY_HOP, ROUTING, FRAGMENT, ICMPV6, NO_NEXT_HEADER, DEST_OPTIONS), (0, 43, 44, 58, 59, 60));
    }

    proptest::proptest! {
        /// The readers and in-place writers take any bytes without panicking: each
        /// answers `None`/`Err`/`false` for what it cannot use.
        #[test]
        fn no_function_panics_on_any_bytes(
            mut bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            first in proptest::prelude::any::<u8>(),
            total in proptest::prelude::any::<u16>(),
            start in 0usize..130,
            at in 0usize..130,
        ) {
            // Bias towards what looks like IPv4 (version 4, some IHL) so the deeper
            // paths run too.
            if let Some(b) = bytes.first_mut() {
                *b = 0x40 | (first & 0x0f);
            }
            let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
            let _ = icmp::parse_quoted(&bytes);
            let _ = tcp::split_ipv4(&bytes);
            let _ = ipv4::set_total_len(&mut bytes.clone(), total);
            let _ = ipv4::fill_checksum(&mut bytes.clone());
            let _ = tcp::set_flags(&mut bytes.clone(), first);
            let _ = tcp::set_partial_checksum(a.into(), b.into(), &mut bytes.clone());
            let _ = tcp::fill_checksum(a.into(), b.into(), &mut bytes.clone());
            let _ = complete_partial_checksum(&mut bytes.clone(), start, at);
            let _ = field::read_u16(&bytes, start..at);
            let _ = field::read_u32(&bytes, start..at);
            let _ = rewrite::flow(&bytes);
            let _ = rewrite::set_source(&mut bytes.clone(), std::net::SocketAddrV4::new(a, total));
            let _ = rewrite::clamp_mss(&mut bytes.clone(), total);
            let _ = rewrite::nop_tcp_options(&mut bytes.clone(), |_| false);
            let (a6, b6) = (a.to_ipv6_mapped(), b.to_ipv6_mapped());
            let _ = icmpv6::parse(a6, b6, &bytes);
            let _ = verifies_with_pseudo_header_v6(a6, b6, first, &bytes);
            let _ = udp::parse_v6(a6, b6, &bytes);
            // The same bytes as IPv6: version 6, and a Payload Length that fits
            // often enough for the extension-header walk to run on them.
            if let Some(b) = bytes.first_mut() {
                *b = 0x60 | (first & 0x0f);
            }
            if bytes.len() >= ipv6::HEADER_LEN && total % 2 == 0 {
                let len = (bytes.len() - ipv6::HEADER_LEN) as u16;
                bytes[ipv6::field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
            }
            let _ = tcp::split(&bytes);
            let _ = ipv6::set_payload_len(&mut bytes.clone(), total);
            let _ = tcp::set_partial_checksum(a6.into(), b6.into(), &mut bytes.clone());
            let _ = tcp::fill_checksum(a6.into(), b6.into(), &mut bytes.clone());
            if let Ok(p) = ipv6::parse(&bytes) {
                let _ = ipv6_ext::walk(p.packet, ipv6_ext::Cursor::start(p.next_header), usize::from(first % 10));
            }
            let _ = ipv6_ext::walk(&bytes, ipv6_ext::Cursor { next_header: first, at, named_at: start, headers: 0 }, 8);
        }
    }
}
