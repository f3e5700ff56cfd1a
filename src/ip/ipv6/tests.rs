//! IPv6 input through the whole core, exact packets in and out: each malformed
//! kind is dropped with its own counter and answered with the ICMPv6 error RFC
//! 8200 asks for (or none); fragments reassemble, overlap, time out.

use std::net::Ipv6Addr;

use crate::config::StackConfig;
use crate::shared::DropReason;
use crate::stack::Stack;
use crate::testutil::{counter_changes, drain, ms, pattern};
use crate::wire::icmpv6;
use crate::wire::ip_protocol::{DEST_OPTIONS, FRAGMENT, HOP_BY_HOP, ICMPV6, NO_NEXT_HEADER, ROUTING, TCP, UDP};
use crate::wire::ipv6::{self, Ipv6Repr};

const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
const MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

fn stack6() -> Stack {
    Stack::new(StackConfig { addr6: Some(US6), ..StackConfig::default() })
}

/// A packet from `src` to `dst` whose fixed header names `first`, then `chain`
/// (extension headers and upper-layer bytes, concatenated).
fn packet(src: Ipv6Addr, dst: Ipv6Addr, first: u8, chain: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = chain.concat();
    let mut out = Vec::new();
    ipv6::emit(&mut out, &Ipv6Repr { src, dst, next_header: first, hop_limit: 64, flow_label: 0 }, &body)
        .expect("fits");
    out
}

fn echo(src: Ipv6Addr, dst: Ipv6Addr, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    icmpv6::emit_echo_request(&mut msg, src, dst, id, seq, data).expect("fits");
    msg
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let header =
        etherparse::UdpHeader::with_ipv6_checksum(sport, dport, &ipv6_header(src, dst, UDP), data).expect("fits");
    [&header.to_bytes()[..], data].concat()
}

fn ipv6_header(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8) -> etherparse::Ipv6Header {
    etherparse::Ipv6Header {
        next_header: etherparse::IpNumber(next_header),
        source: src.octets(),
        destination: dst.octets(),
        ..Default::default()
    }
}

/// An 8-byte options header naming `next` and holding one option of `kind` with
/// 4 data bytes.
fn options(next: u8, kind: u8) -> [u8; 8] {
    [next, 0, kind, 4, 0, 0, 0, 0]
}

/// A Fragment header naming `next`.
fn fragment_header(next: u8, offset: usize, more: bool, id: u32) -> Vec<u8> {
    let off_m = ((offset / 8) as u16) << 3 | u16::from(more);
    [&[next, 0][..], &off_m.to_be_bytes(), &id.to_be_bytes()].concat()
}

/// The fragments of `message` (an ICMPv6 message from PEER6), `size` bytes each.
fn fragments(message: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    (0..message.len())
        .step_by(size)
        .map(|at| {
            let end = message.len().min(at + size);
            let frag = fragment_header(ICMPV6, at, end < message.len(), id);
            packet(PEER6, US6, FRAGMENT, &[&frag, &message[at..end]])
        })
        .collect()
}

/// One packet the stack sent, checked and taken apart: its ICMPv6 message.
#[derive(Debug, PartialEq, Eq)]
struct Sent6 {
    icmp_type: u8,
    code: u8,
    param: u32,
    data: Vec<u8>,
}

/// Reassemble what the stack sent (one packet, or fragments in order) and read
/// it as an ICMPv6 message from US6 to PEER6, checksum verified.
fn sent(stack: &mut Stack) -> Option<Sent6> {
    let packets = drain(stack);
    let mut message = Vec::new();
    for p in &packets {
        let ip = ipv6::parse(p).expect("the stack sent valid IPv6");
        assert_eq!(ip.packet.len(), p.len(), "no padding");
        assert_eq!((ip.src, ip.dst, ip.hop_limit), (US6, PEER6, 64));
        assert!(p.len() <= 1500, "fits the MTU");
        match ip.next_header {
            ICMPV6 => message.extend_from_slice(ip.payload()),
            FRAGMENT => message.extend_from_slice(&ip.payload()[8..]),
            other => panic!("unexpected next header {other}"),
        }
    }
    if packets.is_empty() {
        return None;
    }
    let parsed = icmpv6::parse(US6, PEER6, &message).expect("the checksum verifies");
    let param = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
    let _ = parsed;
    Some(Sent6 { icmp_type: message[0], code: message[1], param, data: message[8..].to_vec() })
}

fn param_problem(code: u8, pointer: u32, quoted: &[u8]) -> Option<Sent6> {
    Some(Sent6 { icmp_type: 4, code, param: pointer, data: quoted.to_vec() })
}

#[test]
fn an_echo_request_gets_its_exact_reply() {
    let mut s = stack6();
    let request = packet(PEER6, US6, ICMPV6, &[&echo(PEER6, US6, 0x1234, 7, b"ping data")]);
    assert_eq!(s.input(ms(0), &request), None);
    let reply = sent(&mut s).expect("a reply");
    assert_eq!(reply, Sent6 { icmp_type: 129, code: 0, param: 0x1234_0007, data: b"ping data".to_vec() });
    let c = s.counters();
    assert_eq!((c.ip6_rx_packets, c.ip6_rx_delivered, c.icmp6_rx_echo_request, c.icmp6_tx_echo_reply), (1, 1, 1, 1));
    assert_eq!((c.ip6_tx_packets, c.ip_rx_packets, c.ip_tx_packets), (1, 0, 0), "IPv4 untouched");
}

#[test]
fn with_ipv6_off_a_version_6_packet_is_dropped_as_disabled() {
    let mut s = Stack::new(StackConfig::default());
    let request = packet(PEER6, US6, ICMPV6, &[&echo(PEER6, US6, 1, 1, b"x")]);
    let before = s.counters().clone();
    assert_eq!(s.input(ms(0), &request), Some(DropReason::Ip6Disabled));
    assert_eq!(s.input(ms(0), &request).map(|r| r.as_str()), Some("ipv6 disabled"));
    assert!(drain(&mut s).is_empty());
    assert_eq!(counter_changes(&before, s.counters()), [("ip6_rx_packets", 2), ("ip6_rx_disabled", 2)]);
}

/// Feed `packet` to a fresh IPv6 stack: the counters that moved, the verdict, and
/// the ICMPv6 message sent back, if any.
fn outcome(packet: &[u8]) -> (Vec<(&'static str, u64)>, Option<DropReason>, Option<Sent6>) {
    let mut s = stack6();
    let before = s.counters().clone();
    let verdict = s.input(ms(0), packet);
    let reply = sent(&mut s);
    (counter_changes(&before, s.counters()), verdict, reply)
}

#[test]
fn each_malformed_kind_has_its_counter_and_the_error_rfc_8200_asks_for() {
    let ping = echo(PEER6, US6, 1, 1, b"abcdefgh");
    let good = packet(PEER6, US6, ICMPV6, &[&ping]);
    let rh = |kind: u8, left: u8| -> Vec<u8> { [&[ICMPV6, 0, kind, left][..], &[0; 4]].concat() };
    let nine_dest_options: Vec<[u8; 8]> = (0..9).map(|_| options(DEST_OPTIONS, 1)).collect();
    let chain: Vec<&[u8]> = nine_dest_options.iter().map(|h| &h[..]).collect();
    let mut long_payload_len = good.clone();
    long_payload_len[ipv6::field::PAYLOAD_LEN].copy_from_slice(&100u16.to_be_bytes());
    let mut zero_udp_checksum = udp6(PEER6, US6, 4000, 9, b"data");
    zero_udp_checksum[6..8].copy_from_slice(&[0, 0]);
    let mut bad_icmp = ping.clone();
    bad_icmp[9] ^= 1;
    let first_fragment_cut =
        packet(PEER6, US6, FRAGMENT, &[&fragment_header(DEST_OPTIONS, 0, true, 5), &[ICMPV6, 1, 1, 4, 0, 0, 0, 0]]);
    let frag_odd = packet(PEER6, US6, FRAGMENT, &[&fragment_header(ICMPV6, 8, true, 6), &[0; 12]]);
    let frag_huge = packet(PEER6, US6, FRAGMENT, &[&fragment_header(ICMPV6, 65_528, false, 7), &[0; 16]]);

    // (what, packet, counter, error: None or (code, pointer) of a Parameter Problem)
    type Case<'a> = (&'a str, Vec<u8>, &'a str, Option<Sent6>);
    let pp = |code, pointer, p: &Vec<u8>| param_problem(code, pointer, p);
    let mut cases: Vec<Case> = vec![
        ("shorter than the header", good[..39].to_vec(), "ip6_rx_truncated", None),
        ("payload length beyond the buffer", long_payload_len, "ip6_rx_bad_payload_len", None),
        ("not for us", packet(PEER6, PEER6, ICMPV6, &[&ping]), "ip6_rx_not_for_us", None),
        ("a multicast source", packet(ALL_ROUTERS, US6, ICMPV6, &[&ping]), "ip6_rx_bad_source", None),
        ("our own source", packet(US6, US6, ICMPV6, &[&ping]), "ip6_rx_bad_source", None),
        ("unspecified source to us", packet(Ipv6Addr::UNSPECIFIED, US6, ICMPV6, &[&ping]), "ip6_rx_bad_source", None),
        (
            "an extension header cut short",
            packet(PEER6, US6, DEST_OPTIONS, &[&[ICMPV6, 1, 1, 4, 0, 0, 0, 0]]),
            "ip6_rx_ext_truncated",
            None,
        ),
        (
            "option type 01: discard",
            packet(PEER6, US6, DEST_OPTIONS, &[&options(ICMPV6, 0x5e), &ping]),
            "ip6_rx_option_discard",
            None,
        ),
        ("no next header", packet(PEER6, US6, NO_NEXT_HEADER, &[]), "ip6_rx_no_next_header", None),
        ("TCP header unreadable", packet(PEER6, US6, TCP, &[&[0; 20]]), "tcp_rx_bad_header", None),
        ("UDP without a checksum", packet(PEER6, US6, UDP, &[&zero_udp_checksum]), "udp_rx_bad_checksum", None),
        ("ICMPv6 checksum wrong", packet(PEER6, US6, ICMPV6, &[&bad_icmp]), "icmp6_rx_bad_checksum", None),
        ("ICMPv6 shorter than its header", packet(PEER6, US6, ICMPV6, &[&ping[..7]]), "icmp6_rx_truncated", None),
    ];
    let answered: Vec<(&str, Vec<u8>, &str, u8, u32)> = vec![
        (
            "hop-by-hop not first",
            packet(PEER6, US6, DEST_OPTIONS, &[&options(HOP_BY_HOP, 1), &options(ICMPV6, 1), &ping]),
            "ip6_rx_hop_by_hop_not_first",
            1,
            40,
        ),
        (
            "an option past its header",
            packet(PEER6, US6, DEST_OPTIONS, &[&[ICMPV6, 0, 1, 5, 0, 0, 0, 0], &ping]),
            "ip6_rx_bad_option",
            0,
            42,
        ),
        (
            "option type 10",
            packet(PEER6, US6, DEST_OPTIONS, &[&options(ICMPV6, 0x9e), &ping]),
            "ip6_rx_option_unrecognized",
            2,
            42,
        ),
        (
            "option type 11 (Jumbo Payload)",
            packet(PEER6, US6, HOP_BY_HOP, &[&options(ICMPV6, 0xc2), &ping]),
            "ip6_rx_option_unrecognized",
            2,
            42,
        ),
        ("routing type 0 (RFC 5095)", packet(PEER6, US6, ROUTING, &[&rh(0, 1), &ping]), "ip6_rx_routing_type0", 0, 42),
        (
            "routing type 4, segments left",
            packet(PEER6, US6, ROUTING, &[&rh(4, 2), &ping]),
            "ip6_rx_routing_segments_left",
            0,
            42,
        ),
        ("nine extension headers", packet(PEER6, US6, DEST_OPTIONS, &chain), "ip6_rx_too_many_headers", 8, 104),
        ("unknown next header", packet(PEER6, US6, 253, &[b"experimental"]), "ip6_rx_unknown_next_header", 1, 6),
        (
            "unknown after options",
            packet(PEER6, US6, DEST_OPTIONS, &[&options(253, 1), b"experimental"]),
            "ip6_rx_unknown_next_header",
            1,
            40,
        ),
        ("first fragment without the whole chain (RFC 7112)", first_fragment_cut, "ip6_frag_incomplete_chain", 3, 0),
        ("non-final fragment not a multiple of 8", frag_odd, "ip6_frag_bad_length", 0, 4),
        ("fragment past 65,535 bytes", frag_huge, "ip6_frag_too_big", 0, 42),
    ];
    for (what, p, counter, code, pointer) in answered {
        let error = pp(code, pointer, &p);
        cases.push((what, p, counter, error));
    }
    for (what, p, counter, error) in cases {
        let (changes, verdict, reply) = outcome(&p);
        assert_eq!(verdict.map(|r| r.counter_name()), Some(counter), "{what}: the verdict names the counter");
        assert!(changes.contains(&(counter, 1)), "{what}: {changes:?}");
        assert_eq!(reply, error, "{what}");
        let sent_errors = changes.iter().find(|(n, _)| *n == "icmp6_tx_param_problem").map_or(0, |c| c.1);
        assert_eq!(sent_errors, u64::from(error.is_some()), "{what}: {changes:?}");
    }
}

#[test]
fn a_closed_udp_port_answers_port_unreachable_quoting_the_datagram() {
    let p = packet(PEER6, US6, UDP, &[&udp6(PEER6, US6, 40000, 9, b"hello")]);
    let (changes, verdict, reply) = outcome(&p);
    assert_eq!(verdict, Some(DropReason::UdpNoPort));
    assert_eq!(reply, Some(Sent6 { icmp_type: 1, code: 4, param: 0, data: p.clone() }));
    assert!(changes.contains(&("icmp6_tx_dest_unreachable", 1)), "{changes:?}");
}

#[test]
fn router_solicitations_and_mld_reports_are_counted_and_ignored() {
    let mut rs = vec![133, 0, 0, 0, 0, 0, 0, 0];
    let sum = |src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]| {
        etherparse::checksum::Sum16BitWords::new()
            .add_16bytes(src.octets())
            .add_16bytes(dst.octets())
            .add_4bytes((msg.len() as u32).to_be_bytes())
            .add_2bytes([0, ICMPV6])
            .add_slice(msg)
            .ones_complement()
            .to_ne_bytes()
    };
    let c = sum(LINK_LOCAL, ALL_ROUTERS, &rs);
    rs[2..4].copy_from_slice(&c);
    let solicitation = packet(LINK_LOCAL, ALL_ROUTERS, ICMPV6, &[&rs]);
    // An MLDv2 report as the kernel sends it: hop-by-hop Router Alert, from ::.
    let mut report = vec![143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let c = sum(Ipv6Addr::UNSPECIFIED, MLDV2_ROUTERS, &report);
    report[2..4].copy_from_slice(&c);
    let router_alert = [ICMPV6, 0, 5, 2, 0, 0, 1, 0];
    let mld = packet(Ipv6Addr::UNSPECIFIED, MLDV2_ROUTERS, HOP_BY_HOP, &[&router_alert, &report]);
    for p in [solicitation, mld] {
        let (changes, verdict, reply) = outcome(&p);
        assert_eq!((verdict, reply), (None, None));
        let expected = [("ip6_rx_packets", 1), ("ip6_rx_delivered", 1), ("icmp6_rx", 1), ("icmp6_rx_nd_mld", 1)];
        assert_eq!(changes, expected);
    }
}

#[test]
fn to_a_multicast_group_only_an_option_of_type_10_is_answered() {
    let ping = echo(PEER6, ALL_ROUTERS, 1, 1, b"x");
    let eleven = packet(PEER6, ALL_ROUTERS, DEST_OPTIONS, &[&options(ICMPV6, 0xde), &ping]);
    let (changes, verdict, reply) = outcome(&eleven);
    assert_eq!((verdict, reply), (Some(DropReason::Ip6OptionUnrecognized), None), "{changes:?}");
    let ten = packet(PEER6, ALL_ROUTERS, DEST_OPTIONS, &[&options(ICMPV6, 0x9e), &ping]);
    let (_, verdict, reply) = outcome(&ten);
    assert_eq!((verdict, reply), (Some(DropReason::Ip6OptionUnrecognized), param_problem(2, 42, &ten)));
    // Unknown protocols and echoes to a group: dropped or ignored, never answered.
    let (_, verdict, reply) = outcome(&packet(PEER6, ALL_ROUTERS, 253, &[b"x"]));
    assert_eq!((verdict, reply), (Some(DropReason::Ip6NotForUs), None));
    let (changes, verdict, reply) = outcome(&packet(PEER6, ALL_ROUTERS, ICMPV6, &[&ping]));
    assert_eq!((verdict, reply), (None, None));
    assert!(changes.contains(&("icmp6_rx_ignored", 1)), "{changes:?}");
}

#[test]
fn an_icmpv6_error_is_never_answered_with_one() {
    let mut error = Vec::new();
    icmpv6::emit_error(&mut error, PEER6, US6, icmpv6::ErrorKind::DestUnreachable(4), b"whatever").expect("fits");
    let p = packet(PEER6, US6, ROUTING, &[&[ICMPV6, 0, 0, 1, 0, 0, 0, 0], &error]);
    let (changes, verdict, reply) = outcome(&p);
    assert_eq!((verdict, reply), (Some(DropReason::Ip6RoutingType0), None));
    assert!(!changes.iter().any(|(n, _)| n.starts_with("icmp6_tx")), "{changes:?}");
}

#[test]
fn a_fragmented_4000_byte_echo_is_reassembled_in_any_order_and_answered_in_fragments() {
    let data = pattern(4000);
    let message = echo(PEER6, US6, 9, 3, &data);
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let mut s = stack6();
        let pieces = fragments(&message, 1448, 0xabcd);
        for (n, &i) in order.iter().enumerate() {
            assert_eq!(s.input(ms(n as u64), &pieces[i]), None);
        }
        let reply = sent(&mut s).expect("a reply");
        assert_eq!(reply, Sent6 { icmp_type: 129, code: 0, param: 0x0009_0003, data: data.clone() });
        let c = s.counters();
        assert_eq!((c.ip6_frag_rx, c.ip6_frag_reassembled, c.ip6_tx_fragmented, c.ip6_tx_fragments), (3, 1, 1, 3));
        assert_eq!(s.poll_deadline(), None, "nothing left in reassembly");
        s.check_invariants().expect("invariants");
    }
}

#[test]
fn an_atomic_fragment_is_a_whole_packet() {
    // RFC 6946: offset 0, no M flag — delivered at once, not held.
    let p = packet(PEER6, US6, FRAGMENT, &[&fragment_header(ICMPV6, 0, false, 1), &echo(PEER6, US6, 1, 2, b"atom")]);
    let (changes, verdict, reply) = outcome(&p);
    assert_eq!(verdict, None);
    assert_eq!(reply.map(|r| (r.icmp_type, r.data)), Some((129, b"atom".to_vec())));
    assert!(changes.contains(&("ip6_frag_atomic", 1)) && !changes.iter().any(|(n, _)| *n == "ip6_frag_reassembled"));
}

#[test]
fn overlapping_fragments_discard_the_whole_datagram() {
    let message = echo(PEER6, US6, 9, 3, &pattern(3000));
    let pieces = fragments(&message, 1448, 0x77);
    let mut s = stack6();
    assert_eq!(s.input(ms(0), &pieces[0]), None);
    // A fragment at offset 8 overlaps the first one's bytes (RFC 5722).
    let overlap = packet(PEER6, US6, FRAGMENT, &[&fragment_header(ICMPV6, 8, true, 0x77), &[0xee; 16]]);
    assert_eq!(s.input(ms(1), &overlap), Some(DropReason::Fragment6Overlap));
    // The rest arrive, but the datagram is gone: they start a new one that never completes.
    assert_eq!(s.input(ms(2), &pieces[1]), None);
    assert_eq!(s.input(ms(3), &pieces[2]), None);
    assert!(drain(&mut s).is_empty());
    let c = s.counters();
    assert_eq!((c.ip6_frag_overlap, c.ip6_frag_reassembled, c.icmp6_tx_echo_reply), (1, 0, 0));
    s.check_invariants().expect("invariants");
}

#[test]
fn a_datagram_timing_out_after_its_first_fragment_earns_time_exceeded() {
    let message = echo(PEER6, US6, 9, 3, &pattern(3000));
    let pieces = fragments(&message, 1448, 0x55);
    let mut s = stack6();
    s.input(ms(0), &pieces[0]);
    let other = fragments(&echo(PEER6, US6, 1, 1, &pattern(3000)), 1448, 0x56);
    s.input(ms(0), &other[1]); // no first fragment: expires quietly
    let mut to_group = fragments(&echo(PEER6, ALL_ROUTERS, 1, 1, &pattern(3000)), 1448, 0x57).remove(0);
    to_group[ipv6::field::DST_ADDR].copy_from_slice(&ALL_ROUTERS.octets());
    s.input(ms(0), &to_group); // a first fragment, but to a group: expires quietly too
    let deadline = s.poll_deadline().expect("a reassembly deadline");
    assert_eq!(deadline, ms(30_000));
    s.handle_timeout(deadline);
    let error = sent(&mut s).expect("time exceeded");
    assert_eq!((error.icmp_type, error.code), (3, 1));
    // The quote: the first fragment as it arrived, up to 1,232 bytes.
    assert_eq!(error.data, pieces[0][..1232]);
    let c = s.counters();
    assert_eq!((c.ip6_frag_timeout, c.icmp6_tx_time_exceeded), (3, 1));
    s.check_invariants().expect("invariants");
}

#[test]
fn errors_are_rate_limited() {
    let mut s = Stack::new(StackConfig { addr6: Some(US6), icmp_error_burst: 2, ..StackConfig::default() });
    let p = packet(PEER6, US6, 253, &[b"x"]);
    for _ in 0..5 {
        s.input(ms(0), &p);
    }
    let c = s.counters();
    assert_eq!((c.ip6_rx_unknown_next_header, c.icmp6_tx_param_problem, c.icmp6_tx_rate_limited), (5, 2, 3));
}

/// Each fragment is checked against its own headers, but the reassembled packet
/// takes the first fragment's: a long unfragmentable part there can push the
/// whole past 65,535 bytes, and the datagram is dropped rather than given a
/// Payload Length that lies.
#[test]
fn a_datagram_too_big_with_the_first_fragments_headers_is_dropped() {
    let mut s = stack6();
    let data = pattern(65_000);
    let mut big_options = vec![FRAGMENT, 255, 1, 253];
    big_options.resize(2048, 0);
    for at in (0..data.len()).step_by(1448) {
        let end = data.len().min(at + 1448);
        let frag = fragment_header(ICMPV6, at, end < data.len(), 0x99);
        let p = if at == 0 {
            packet(PEER6, US6, DEST_OPTIONS, &[&big_options, &frag, &data[at..end]])
        } else {
            packet(PEER6, US6, FRAGMENT, &[&frag, &data[at..end]])
        };
        let verdict = s.input(ms(0), &p);
        assert_eq!(verdict, (end == data.len()).then_some(DropReason::Fragment6TooBig), "fragment at {at}");
    }
    assert!(drain(&mut s).is_empty());
    assert_eq!((s.counters().ip6_frag_too_big, s.counters().ip6_frag_reassembled), (1, 0));
    s.check_invariants().expect("invariants");
}

/// Our echo replies follow the path MTU cache too: a Packet Too Big quoting one
/// (an echo reply is something we send) lowers the path MTU of its destination,
/// and the next reply there leaves in fragments that fit (RFC 8201).
#[test]
fn a_packet_too_big_about_an_echo_reply_fragments_the_next_reply() {
    let mut s = stack6();
    let request = packet(PEER6, US6, ICMPV6, &[&echo(PEER6, US6, 1, 1, &pattern(1400))]);
    s.input(ms(0), &request);
    let reply = drain(&mut s);
    assert_eq!(reply.iter().map(Vec::len).collect::<Vec<_>>(), [40 + 8 + 1400]);
    let router = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);
    let mut ptb = Vec::new();
    icmpv6::emit_error(&mut ptb, router, US6, icmpv6::ErrorKind::PacketTooBig(1280), &reply[0][..1232]).expect("fits");
    assert_eq!(s.input(ms(1), &packet(router, US6, ICMPV6, &[&ptb])), None);
    assert_eq!((s.path_mtu_v6(PEER6), s.counters().ip6_pmtu_updates), (Some(1280), 1));
    s.input(ms(2), &request);
    let fragments = drain(&mut s);
    assert_eq!(fragments.iter().map(Vec::len).collect::<Vec<_>>(), [1280, 40 + 8 + 176]);
    assert!(fragments.iter().all(|p| p[6] == FRAGMENT));
    // A quote of an echo request is nothing we send.
    let mut forged = reply[0][..1232].to_vec();
    forged[40] = 128;
    ptb.clear();
    icmpv6::emit_error(&mut ptb, router, US6, icmpv6::ErrorKind::PacketTooBig(1280), &forged).expect("fits");
    let verdict = s.input(ms(3), &packet(router, US6, ICMPV6, &[&ptb]));
    assert_eq!(verdict, Some(DropReason::Icmp6PacketTooBigUnmatched));
}
