//! Test helpers for driving a [`Stack`] with exact packets.
//!
//! The builders make packets as the kernel on the other side of the TUN would send
//! them, using the crate's own `wire` emitters (ICMP requests, which the stack never
//! sends, come from `etherparse` directly). The parse helpers take apart what
//! [`Stack::poll_transmit`] returns and check every checksum on the way, so a test
//! that reads a field has also checked that the packet was well formed.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use etherparse::checksum::Sum16BitWords;
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type};

use crate::config::StackConfig;
use crate::counters::Counters;
use crate::shared::Event;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ip_protocol::FRAGMENT;
use crate::wire::ipv4::{self, Ipv4Repr, MIN_HEADER_LEN};
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::{icmp, udp};

/// The stack's address (the default [`StackConfig::addr`]).
pub const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The kernel side of the link.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// A third host on the peer's side.
pub const OTHER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);

/// The stack's IPv6 address in the IPv6 tests (the benchmarking range, RFC 5180).
pub const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
/// The kernel side of the link over IPv6.
pub const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

pub use crate::wire::ip_protocol::ICMP as PROTO_ICMP;
pub use crate::wire::ip_protocol::UDP as PROTO_UDP;

/// A dual-stack stack: the defaults plus [`US6`].
pub fn stack6() -> Stack {
    Stack::new(StackConfig { addr6: Some(US6), ..StackConfig::default() })
}

/// An IPv6 packet from `src` to `dst` carrying `payload` (extension headers
/// and upper layer) under `next_header`.
pub fn ip6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ipv6::emit(&mut out, &Ipv6Repr { src, dst, next_header, hop_limit: 64, flow_label: 0 }, payload).expect("fits");
    out
}

/// What the stack sent over IPv6 (whole or in fragments, in order): source,
/// destination, Next Header and the upper-layer message, rebuilt.
pub fn sent6(stack: &mut Stack) -> Vec<(Ipv6Addr, Ipv6Addr, u8, Vec<u8>)> {
    let mut out: Vec<(Ipv6Addr, Ipv6Addr, u8, Vec<u8>)> = Vec::new();
    for p in drain(stack) {
        let ip = ipv6::parse(&p).expect("valid IPv6");
        assert!(p.len() <= 1500, "fits the MTU");
        if ip.next_header != FRAGMENT {
            out.push((ip.src, ip.dst, ip.next_header, ip.payload().to_vec()));
            continue;
        }
        let (frag, data) = ip.payload().split_at(8);
        let offset = usize::from(u16::from_be_bytes([frag[2], frag[3]]) >> 3) * 8;
        match out.last_mut() {
            Some(last) if offset > 0 => last.3.extend_from_slice(data),
            _ => out.push((ip.src, ip.dst, frag[0], data.to_vec())),
        }
    }
    out
}

/// A time `ms` milliseconds after the epoch.
pub fn ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A stack with the default configuration (address [`US`]).
pub fn stack() -> Stack {
    Stack::new(StackConfig::default())
}

/// `addr:port` as a `SocketAddr`.
pub fn sa(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}

/// `n` bytes of a recognisable, non-repeating-every-256 pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

/// One unfragmented IPv4 packet (TTL 64, no options) carrying `payload`.
pub fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr { src, dst, protocol, ttl: 64, id, dont_fragment: false };
    let mut out = Vec::new();
    ipv4::emit(&mut out, &repr, 0, false, payload).expect("payload fits one IPv4 packet");
    out
}

/// A UDP segment (header with a correct checksum, then `payload`) without IP.
pub fn udp_segment(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut seg = Vec::new();
    udp::emit(&mut seg, src, dst, sport, dport, payload).expect("payload fits UDP");
    seg
}

/// A whole UDP/IPv4 packet.
pub fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip_packet(src, dst, PROTO_UDP, 0x4242, &udp_segment(src, dst, sport, dport, payload))
}

/// An ICMP echo request message (type 8) without IP.
pub fn icmp_echo_message(id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(IcmpEchoHeader { id, seq }), data);
    let mut msg = header.to_bytes().to_vec();
    msg.extend_from_slice(data);
    msg
}

/// A whole ICMP echo request packet.
pub fn icmp_echo_request(src: Ipv4Addr, dst: Ipv4Addr, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    ip_packet(src, dst, PROTO_ICMP, 0x1cec, &icmp_echo_message(id, seq, data))
}

/// A whole ICMP destination-unreachable packet with `code`, quoting `quoted`.
pub fn icmp_dest_unreachable(src: Ipv4Addr, dst: Ipv4Addr, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    icmp::emit_dest_unreachable(&mut msg, code, quoted);
    ip_packet(src, dst, PROTO_ICMP, 0x0bad, &msg)
}

/// Any ICMP message (`icmp_type`, `code`, 4 "rest of header" bytes, data) with a
/// correct checksum, in a packet.
pub fn icmp_packet(src: Ipv4Addr, dst: Ipv4Addr, icmp_type: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut msg = vec![icmp_type, code, 0, 0];
    msg.extend_from_slice(&rest);
    msg.extend_from_slice(data);
    let sum = Sum16BitWords::new().add_slice(&msg).ones_complement();
    // Native order, as in `fix_ip_checksum`.
    msg[2..4].copy_from_slice(&sum.to_ne_bytes());
    ip_packet(src, dst, PROTO_ICMP, 0x0123, &msg)
}

/// The fragments a router would make of a datagram carrying `payload`: pieces of
/// `chunk` bytes (a multiple of 8) at increasing offsets, MF set on all but the last
/// (RFC 791 §2.3).
pub fn fragments(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, id: u16, payload: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    assert!(chunk > 0 && chunk.is_multiple_of(8), "fragment data is counted in 8-byte units");
    let repr = Ipv4Repr { src, dst, protocol, ttl: 64, id, dont_fragment: false };
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, piece)| {
            let mut out = Vec::new();
            let more = (i + 1) * chunk < payload.len();
            ipv4::emit(&mut out, &repr, i * chunk, more, piece).expect("fragment fits");
            out
        })
        .collect()
}

/// Recompute the IPv4 header checksum of `packet` after a test edited the header.
///
/// `Sum16BitWords` adds the words in native byte order, so its result is written back
/// with `to_ne_bytes` (the one's-complement sum is byte-order independent).
pub fn fix_ip_checksum(packet: &mut [u8]) {
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    packet[10..12].copy_from_slice(&[0, 0]);
    let sum = Sum16BitWords::new().add_slice(&packet[..header_len]).ones_complement();
    packet[10..12].copy_from_slice(&sum.to_ne_bytes());
}

/// Insert IP `options` (a multiple of 4 bytes) into an option-less packet, fixing
/// IHL, total length and checksum.
pub fn with_options(packet: &[u8], options: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && packet.len() >= MIN_HEADER_LEN);
    let mut out = packet[..MIN_HEADER_LEN].to_vec();
    out.extend_from_slice(options);
    out.extend_from_slice(&packet[MIN_HEADER_LEN..]);
    out[0] = 0x40 | ((MIN_HEADER_LEN + options.len()) / 4) as u8;
    let total = u16::try_from(out.len()).expect("fits");
    out[2..4].copy_from_slice(&total.to_be_bytes());
    fix_ip_checksum(&mut out);
    out
}

// ---------------------------------------------------------------------------
// Draining the stack
// ---------------------------------------------------------------------------

/// Whether a header's one's-complement sum, checksum included, verifies.
pub fn checksum_ok(header: &[u8]) -> bool {
    Sum16BitWords::new().add_slice(header).ones_complement() == 0
}

/// Every packet the stack queued for the link.
pub fn drain(stack: &mut Stack) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| stack.poll_transmit()).collect()
}

/// Every event the stack raised.
pub fn events(stack: &mut Stack) -> Vec<Event> {
    std::iter::from_fn(|| stack.poll_event()).collect()
}

/// The counters that differ between `before` and `after`, with their increase.
pub fn counter_changes(before: &Counters, after: &Counters) -> Vec<(&'static str, u64)> {
    before.iter().zip(after.iter()).filter(|(b, a)| b.1 != a.1).map(|(b, a)| (a.0, a.1.wrapping_sub(b.1))).collect()
}

// ---------------------------------------------------------------------------
// Parsing what the stack sent
// ---------------------------------------------------------------------------

/// An IPv4 packet from `poll_transmit`, taken apart (owned, so the test can keep it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub id: u16,
    pub ttl: u8,
    pub more_fragments: bool,
    pub frag_offset: usize,
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Sent {
    /// Whether this is one piece of a fragmented datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }

    /// Read the payload as UDP (checksum verified): `(sport, dport, data)`.
    pub fn udp(&self) -> (u16, u16, Vec<u8>) {
        assert_eq!(self.protocol, PROTO_UDP, "not UDP: {self:?}");
        let d = udp::parse(self.src, self.dst, &self.payload).expect("valid UDP");
        (d.src_port, d.dst_port, d.payload.to_vec())
    }

    /// Read the payload as ICMP (checksum verified).
    pub fn icmp(&self) -> Icmp {
        assert_eq!(self.protocol, PROTO_ICMP, "not ICMP: {self:?}");
        parse_icmp(&self.payload)
    }
}

/// Parse and validate a packet the stack produced (header checksum, lengths).
pub fn parse_sent(packet: &[u8]) -> Sent {
    let p = ipv4::parse(packet).expect("the stack sent a valid IPv4 packet");
    assert_eq!(
        usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        packet.len(),
        "total length matches the packet exactly (no padding from us)"
    );
    Sent {
        src: p.src,
        dst: p.dst,
        protocol: p.protocol,
        id: p.id,
        ttl: p.ttl,
        more_fragments: p.more_fragments,
        frag_offset: p.frag_offset,
        header: p.header.to_vec(),
        payload: p.payload.to_vec(),
    }
}

/// Drain the stack and parse every packet.
pub fn drain_parsed(stack: &mut Stack) -> Vec<Sent> {
    drain(stack).iter().map(|p| parse_sent(p)).collect()
}

/// An ICMP message taken apart: type, code, the 4 "rest of header" bytes, data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Icmp {
    pub icmp_type: u8,
    pub code: u8,
    pub rest: [u8; 4],
    pub data: Vec<u8>,
}

impl Icmp {
    /// `(id, seq)` of an echo or echo reply.
    pub fn echo_id_seq(&self) -> (u16, u16) {
        (u16::from_be_bytes([self.rest[0], self.rest[1]]), u16::from_be_bytes([self.rest[2], self.rest[3]]))
    }
}

/// Parse an ICMP message, verifying its checksum over the whole message.
pub fn parse_icmp(msg: &[u8]) -> Icmp {
    assert!(msg.len() >= icmp::HEADER_LEN, "ICMP shorter than its header");
    assert_eq!(Sum16BitWords::new().add_slice(msg).ones_complement(), 0, "ICMP checksum verifies");
    Icmp {
        icmp_type: msg[0],
        code: msg[1],
        rest: [msg[4], msg[5], msg[6], msg[7]],
        data: msg[icmp::HEADER_LEN..].to_vec(),
    }
}

/// Put the fragments of one datagram back together, checking they agree on the
/// key, tile the payload exactly from offset 0, and that only the last lacks MF.
pub fn reassemble(pieces: &[Sent]) -> Vec<u8> {
    let first = pieces.first().expect("at least one fragment");
    let mut sorted: Vec<&Sent> = pieces.iter().collect();
    sorted.sort_by_key(|s| s.frag_offset);
    let mut whole = Vec::new();
    for (i, s) in sorted.iter().enumerate() {
        assert_eq!(
            (s.src, s.dst, s.protocol, s.id),
            (first.src, first.dst, first.protocol, first.id),
            "all fragments share the datagram's key"
        );
        assert_eq!(s.frag_offset, whole.len(), "fragments tile the payload");
        assert_eq!(s.more_fragments, i + 1 < sorted.len(), "MF on all but the last");
        whole.extend_from_slice(&s.payload);
    }
    whole
}

/// Proptest settings with `default` cases, unless the `PROPTEST_CASES`
/// environment variable asks for more (or fewer): `cargo test` stays quick, and a
/// soak run (`PROPTEST_CASES=20000 cargo test --release`) goes deep.
pub fn proptest_cases(default: u32) -> proptest::prelude::ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    proptest::prelude::ProptestConfig::with_cases(cases)
}
