//! IPv4 input through the whole core: every malformed kind is dropped with its own
//! counter and nothing else happens; options are skipped; reassembly times out.

use std::time::Duration;

use crate::shared::Event;
use crate::stack::Stack;
use crate::testutil::*;

/// Feed `packet` to a fresh stack with a socket on UDP port 7 and return which
/// counters moved. Asserts that nothing was sent and no event was raised.
fn drop_reason(packet: &[u8]) -> Vec<(&'static str, u64)> {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    let before = s.counters().clone();
    s.input(ms(0), packet);
    assert!(drain(&mut s).is_empty(), "a dropped packet is never answered");
    assert!(events(&mut s).is_empty());
    assert!(s.udp_recv(h).is_err());
    counter_changes(&before, s.counters())
}

/// A valid datagram for the socket on port 7, to be damaged by each test case.
fn good() -> Vec<u8> {
    udp_packet(PEER, US, 40000, 7, b"payload!")
}

#[test]
fn a_good_packet_is_delivered() {
    assert_eq!(good().len(), 36);
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    s.input(ms(0), &good());
    assert_eq!(events(&mut s), [Event::UdpReadable(h)]);
    assert_eq!(s.counters().ip_rx_delivered, 1);
}

#[test]
fn each_malformed_kind_is_dropped_with_its_counter_and_no_output() {
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut p = good();
        f(&mut p);
        p
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // RFC 791 §3.1: the header checksum covers the header only.
        ("bad header checksum", edit(&|p| p[10] ^= 0x10), "ip_rx_bad_checksum"),
        ("a flipped address bit", edit(&|p| p[13] ^= 0x01), "ip_rx_bad_checksum"),
        ("empty", Vec::new(), "ip_rx_truncated"),
        ("shorter than 20 bytes", good()[..19].to_vec(), "ip_rx_truncated"),
        (
            "shorter than IHL says",
            edit(&|p| {
                p[0] = 0x4f; // 60-byte header in a 36-byte buffer
                p.truncate(36);
            }),
            "ip_rx_truncated",
        ),
        // Total length beyond the buffer (a packet cut short by the link)…
        ("cut short", good()[..30].to_vec(), "ip_rx_bad_total_len"),
        (
            "total length beyond the buffer",
            edit(&|p| {
                p[2..4].copy_from_slice(&37u16.to_be_bytes());
                fix_ip_checksum(p);
            }),
            "ip_rx_bad_total_len",
        ),
        // …or smaller than the header itself.
        (
            "total length below the header",
            edit(&|p| {
                p[2..4].copy_from_slice(&19u16.to_be_bytes());
                fix_ip_checksum(p);
            }),
            "ip_rx_bad_total_len",
        ),
        ("IHL 4", edit(&|p| p[0] = 0x44), "ip_rx_bad_header_len"),
        ("IHL 0", edit(&|p| p[0] = 0x40), "ip_rx_bad_header_len"),
        // Version 6 goes to IPv6 (ip/ipv6/tests.rs); any other version is refused here.
        ("version 7", edit(&|p| p[0] = 0x75), "ip_rx_bad_version"),
        ("version 0", edit(&|p| p[0] = 0x05), "ip_rx_bad_version"),
        ("not for us", udp_packet(PEER, OTHER, 40000, 7, b"payload!"), "ip_rx_not_for_us"),
        ("broadcast destination", udp_packet(PEER, std::net::Ipv4Addr::BROADCAST, 40000, 7, b"x"), "ip_rx_not_for_us"),
    ];
    for (what, packet, counter) in cases {
        // Exactly one reason per dropped packet, besides the packet count.
        assert_eq!(drop_reason(&packet), [("ip_rx_packets", 1), (counter, 1)], "{what}");
    }
}

/// RFC 1122 3.2.2.1: a protocol we do not implement is dropped, counted and
/// answered with ICMP protocol unreachable (type 3 code 2) quoting the datagram.
#[test]
fn an_unknown_protocol_is_answered_with_protocol_unreachable() {
    let mut s = stack();
    let packet = ip_packet(PEER, US, 253, 1, b"experimental");
    assert_eq!(s.input(ms(0), &packet).map(|r| r.as_str()), Some("unknown protocol"));
    let sent = drain_parsed(&mut s);
    assert_eq!(sent.len(), 1, "one error: {sent:?}");
    assert_eq!((sent[0].src, sent[0].dst), (US, PEER));
    let icmp = sent[0].icmp();
    assert_eq!((icmp.icmp_type, icmp.code), (3, 2));
    assert_eq!(&icmp.data[..], &packet[..], "the whole (short) datagram is quoted");
    let c = s.counters();
    assert_eq!((c.ip_rx_unknown_protocol, c.icmp_tx_dest_unreachable), (1, 1));
}

#[test]
fn options_are_skipped_and_the_datagram_still_delivered() {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    // RFC 1122 3.2.1.8: a host must accept (and may ignore) IP options.
    // Three NOPs and End-of-List, then a Record Route with room for one address.
    let options = [1, 1, 1, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    let packet = with_options(&good(), &options);
    assert_eq!(packet[0], 0x48);
    s.input(ms(0), &packet);
    let got = s.udp_recv(h).expect("delivered");
    assert_eq!((&got.data[..], got.from), (&b"payload!"[..], sa(PEER, 40000)));
    let c = s.counters();
    assert_eq!((c.ip_rx_with_options, c.ip_rx_delivered), (1, 1));
    assert!(drain(&mut s).is_empty());
}

#[test]
fn an_icmp_error_quotes_the_header_with_its_options() {
    let mut s = stack();
    let packet = with_options(&udp_packet(PEER, US, 40000, 9, b"nobody"), &[1, 1, 1, 0]);
    s.input(ms(0), &packet);
    let out = drain_parsed(&mut s);
    let icmp = out[0].icmp();
    // RFC 792: "Internet Header + 64 bits of Original Data Datagram".
    assert_eq!((icmp.icmp_type, icmp.code), (3, 3));
    assert_eq!(icmp.data, packet);
    assert_eq!(&icmp.data[24..32], &packet[24..32], "the UDP header after options");
}

#[test]
fn link_padding_after_total_length_is_ignored() {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    let mut padded = good();
    padded.extend_from_slice(&[0; 10]);
    s.input(ms(0), &padded);
    assert_eq!(&s.udp_recv(h).expect("delivered").data[..], b"payload!");
}

#[test]
fn fragments_are_reassembled_in_any_order_and_delivered_once() {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    let data = pattern(2000);
    let segment = udp_segment(PEER, US, 40000, 7, &data);
    let pieces = fragments(PEER, US, PROTO_UDP, 0x0102, &segment, 512);
    for i in [2, 0, 3, 1, 0] {
        s.input(ms(0), &pieces[i]);
    }
    assert_eq!(events(&mut s), [Event::UdpReadable(h)]);
    assert_eq!(s.udp_recv(h).expect("whole").data, data);
    let c = s.counters();
    assert_eq!((c.ip_frag_rx, c.ip_frag_reassembled, c.ip_frag_duplicate), (5, 1, 0));
    // The late copy of the first fragment starts a new datagram; it is held, not
    // delivered.
    assert_eq!(s.poll_deadline(), Some(ms(30_000)));
}

#[test]
fn overlapping_fragments_discard_the_datagram() {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    let segment = udp_segment(PEER, US, 40000, 7, &pattern(1000));
    let pieces = fragments(PEER, US, PROTO_UDP, 9, &segment, 512);
    let overlapping = fragments(PEER, US, PROTO_UDP, 9, &segment, 256);
    s.input(ms(0), &pieces[0]); // bytes 0..512
    s.input(ms(0), &overlapping[1]); // bytes 256..512 again: an overlap
    s.input(ms(0), &pieces[1]); // the rest arrives, but the datagram is gone
    assert!(s.udp_recv(h).is_err());
    assert_eq!(s.counters().ip_frag_overlap, 1);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn incomplete_reassembly_times_out_through_poll_deadline() {
    let mut s = stack();
    let h = s.udp_bind(sa(US, 7)).expect("bind");
    let segment = udp_segment(PEER, US, 40000, 7, &pattern(2000));
    let pieces = fragments(PEER, US, PROTO_UDP, 0x0777, &segment, 1480);
    assert_eq!(s.poll_deadline(), None);
    let t0 = ms(1_000);
    s.input(t0, &pieces[0]);

    // The timer runs from the first fragment (30 s by default, like Linux).
    let deadline = t0 + Duration::from_secs(30);
    assert_eq!(s.poll_deadline(), Some(deadline));
    s.handle_timeout(ms(30_999));
    assert_eq!(s.counters().ip_frag_timeout, 0, "not yet");
    s.handle_timeout(deadline);
    assert_eq!(s.counters().ip_frag_timeout, 1);
    assert_eq!(s.poll_deadline(), None);
    // RFC 1122 3.3.2 permits a Time Exceeded message; this stack only counts.
    assert!(drain(&mut s).is_empty());

    // The missing fragment, arriving late, completes nothing.
    s.input(deadline, &pieces[1]);
    assert!(s.udp_recv(h).is_err());
    assert_eq!(s.counters().ip_frag_reassembled, 0);
    assert!(events(&mut s).is_empty());
}

#[test]
fn reassembly_memory_is_bounded() {
    let mut config = crate::StackConfig::default();
    config.reassembly.max_datagrams = 2;
    let mut s = Stack::new(config);
    let segment = udp_segment(PEER, US, 40000, 7, &pattern(100));
    for id in 1..=3 {
        s.input(ms(0), &fragments(PEER, US, PROTO_UDP, id, &segment, 64)[0]);
    }
    assert_eq!(s.counters().ip_frag_no_room, 1);
    assert!(drain(&mut s).is_empty());
}
