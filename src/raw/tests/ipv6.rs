//! Raw IPv6 sockets through the whole core, exact packets in and out: the
//! payload after every extension header in, the IPv6 header built and
//! fragmented at the source on the way out, ICMPv6 messages checksummed by the
//! stack (RFC 3542 §3, §3.1), one family a socket.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::shared::Event;
use crate::testutil::*;
use crate::wire::icmpv6::{self, Icmpv6Message};
use crate::wire::ip_protocol::{DEST_OPTIONS, FRAGMENT, ICMPV6};

const EXPERIMENT: u8 = 253;
const ANY6: Ipv6Addr = Ipv6Addr::UNSPECIFIED;
const OTHER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 9);

fn err_kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// A Destination Options header naming `next`, one PadN option filling it.
fn dest_options(next: u8) -> [u8; 8] {
    [next, 0, 1, 4, 0, 0, 0, 0]
}

#[test]
fn what_an_ipv6_socket_may_bind() {
    let mut s = stack6();
    for p in [6, 17] {
        assert_eq!(err_kind(s.raw_bind(p, ANY6)), ErrorKind::AddrInUse, "{p} is the stack's own");
    }
    for p in [0, 43, 44, 59, 60, 255] {
        assert_eq!(err_kind(s.raw_bind(p, ANY6)), ErrorKind::InvalidInput, "{p}: an extension header or reserved");
    }
    s.raw_bind(ICMPV6, ANY6).expect("ICMPv6 may be bound over IPv6");
    s.raw_bind(EXPERIMENT, US6).expect("our address");
    assert_eq!(err_kind(s.raw_bind(EXPERIMENT, PEER6)), ErrorKind::AddrNotAvailable);
    assert_eq!(err_kind(s.raw_bind(EXPERIMENT, US.to_ipv6_mapped())), ErrorKind::AddrNotAvailable);
    assert_eq!(err_kind(stack().raw_bind(EXPERIMENT, ANY6)), ErrorKind::AddrNotAvailable, "no IPv6 address");
    let h = s.raw_bind(EXPERIMENT, ANY6).expect("bind");
    assert_eq!(err_kind(s.raw_set_header_included(h, true)), ErrorKind::InvalidInput, "RFC 3542 §3");
    s.raw_set_header_included(h, false).expect("the payload alone is what it reads anyway");
    assert_eq!(err_kind(s.raw_connect(h, PEER)), ErrorKind::InvalidInput, "an IPv4 peer");
    assert_eq!(err_kind(s.raw_connect(h, ANY6)), ErrorKind::InvalidInput);
    assert_eq!(s.check_invariants(), Ok(()));
}

#[test]
fn a_read_is_the_payload_after_every_extension_header_and_only_its_family_reads_it() {
    let mut s = stack6();
    let v6 = s.raw_bind(EXPERIMENT, ANY6).expect("bind");
    let v4 = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    let packet = ip6(PEER6, US6, DEST_OPTIONS, &[&dest_options(EXPERIMENT)[..], b"hello"].concat());
    assert_eq!(s.input(ms(1), &packet), None);
    assert!(drain(&mut s).is_empty(), "taken: no Parameter Problem");
    let got = s.raw_recv(v6).expect("a copy");
    assert_eq!((&got.data[..], got.from.ip()), (&b"hello"[..], IpAddr::V6(PEER6)));
    assert_eq!(err_kind(s.raw_recv(v4)), ErrorKind::WouldBlock, "the IPv4 socket hears no IPv6");
    s.input(ms(2), &ip_packet(PEER, US, EXPERIMENT, 1, b"four"));
    assert_eq!(&s.raw_recv(v4).expect("IPv4's").data[..], b"four");
    assert_eq!(err_kind(s.raw_recv(v6)), ErrorKind::WouldBlock, "the IPv6 socket hears no IPv4");
    assert_eq!(events(&mut s), [Event::RawReadable(v6), Event::RawReadable(v4)]);
    let c = s.counters();
    assert_eq!((c.raw_rx_delivered, c.ip6_rx_delivered, c.ip6_rx_unknown_next_header), (2, 1, 0));
}

#[test]
fn a_fragmented_datagram_is_read_whole_and_a_closed_socket_brings_back_the_parameter_problem() {
    let mut s = stack6();
    let h = s.raw_bind(EXPERIMENT, US6).expect("bind");
    s.raw_connect(h, PEER6).expect("connect");
    let payload = pattern(3000);
    for (i, piece) in payload.chunks(1448).enumerate() {
        let more = (i + 1) * 1448 < payload.len();
        let off_m = (((i * 1448) / 8) as u16) << 3 | u16::from(more);
        let frag = [&[EXPERIMENT, 0][..], &off_m.to_be_bytes(), &7u32.to_be_bytes()].concat();
        s.input(ms(1), &ip6(PEER6, US6, FRAGMENT, &[&frag[..], piece].concat()));
    }
    assert_eq!(s.raw_recv(h).expect("reassembled").data, payload);
    assert_eq!(s.counters().ip6_frag_reassembled, 1);
    s.input(ms(2), &ip6(OTHER6, US6, EXPERIMENT, b"not its peer"));
    assert_eq!(err_kind(s.raw_recv(h)), ErrorKind::WouldBlock, "filtered by the connected peer");
    drain(&mut s);
    s.raw_close(h);
    s.input(ms(3), &ip6(PEER6, US6, EXPERIMENT, b"nobody"));
    let sent = sent6(&mut s);
    assert_eq!(sent.len(), 1, "Parameter Problem, as before any socket");
    let (_, _, next, message) = &sent[0];
    assert_eq!((*next, message[0], message[1]), (ICMPV6, 4, icmpv6::CODE_UNRECOGNIZED_NEXT_HEADER));
}

#[test]
fn a_send_gets_the_ipv6_header_and_is_fragmented_at_the_source() {
    let mut s = stack6();
    let h = s.raw_bind(EXPERIMENT, ANY6).expect("bind");
    assert_eq!(s.raw_send_to(h, b"tiny", Some(PEER6.into())).expect("sent"), 4);
    assert_eq!(sent6(&mut s), [(US6, PEER6, EXPERIMENT, b"tiny".to_vec())], "the payload as given");
    let big = pattern(4000);
    s.raw_connect(h, PEER6).expect("connect");
    assert_eq!(s.raw_send_to(h, &big, None).expect("sent"), 4000);
    let packets = drain(&mut s);
    assert_eq!(packets.len(), 3, "4,000 bytes in 1,448-byte fragments");
    let c = s.counters();
    assert_eq!((c.raw_tx, c.ip6_tx_fragmented, c.ip6_tx_fragments, c.ip_tx_packets), (2, 1, 3, 0));
    for (dst, kind) in [
        (IpAddr::V4(PEER), ErrorKind::InvalidInput),
        ("ff02::1".parse().expect("multicast"), ErrorKind::InvalidInput),
        (IpAddr::V6(PEER.to_ipv6_mapped()), ErrorKind::InvalidInput),
        (IpAddr::V6(ANY6), ErrorKind::InvalidInput),
    ] {
        assert_eq!(err_kind(s.raw_send_to(h, b"x", Some(dst))), kind, "{dst}");
    }
    let v4 = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    assert_eq!(err_kind(s.raw_send_to(v4, b"x", Some(PEER6.into()))), ErrorKind::InvalidInput, "another family");
}

#[test]
fn an_icmpv6_socket_gets_copies_of_valid_messages_and_its_sends_are_checksummed() {
    let mut s = stack6();
    let h = s.raw_bind(ICMPV6, ANY6).expect("bind");
    let mut request = Vec::new();
    icmpv6::emit_echo_request(&mut request, PEER6, US6, 5, 1, b"ping").expect("fits");
    s.input(ms(1), &ip6(PEER6, US6, ICMPV6, &request));
    assert_eq!(s.raw_recv(h).expect("a copy").data, request, "the message as it came");
    let replies = sent6(&mut s);
    assert_eq!(replies.len(), 1, "the stack still answers the echo itself");
    assert_eq!(replies[0].3[0], icmpv6::types::ECHO_REPLY);
    let mut bad = request.clone();
    bad[icmpv6::field::DATA] ^= 1;
    s.input(ms(2), &ip6(PEER6, US6, ICMPV6, &bad));
    assert_eq!(err_kind(s.raw_recv(h)), ErrorKind::WouldBlock, "a bad checksum is no one's");

    // The program's echo request, its checksum field garbage: the stack writes it.
    let mut own = Vec::new();
    icmpv6::emit_echo_request(&mut own, US6, PEER6, 9, 2, b"from a program").expect("fits");
    let mut garbled = own.clone();
    garbled[icmpv6::field::CHECKSUM].copy_from_slice(&[0xbe, 0xef]);
    assert_eq!(s.raw_send_to(h, &garbled, Some(PEER6.into())).expect("sent"), own.len());
    let sent = sent6(&mut s);
    assert_eq!(sent, [(US6, PEER6, ICMPV6, own.clone())]);
    let parsed = icmpv6::parse(US6, PEER6, &sent[0].3);
    assert_eq!(parsed, Ok(Icmpv6Message::EchoRequest { id: 9, seq: 2, data: b"from a program" }));
    assert_eq!(err_kind(s.raw_send_to(h, &[128, 0, 0], Some(PEER6.into()))), ErrorKind::InvalidInput, "no checksum");
}

/// A Packet Too Big from a router to us reporting `mtu`, quoting `packet`.
fn packet_too_big(mtu: u32, packet: &[u8]) -> Vec<u8> {
    let router = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);
    let mut message = Vec::new();
    let kind = icmpv6::ErrorKind::PacketTooBig(mtu);
    icmpv6::emit_error(&mut message, router, US6, kind, &packet[..packet.len().min(1232)]).expect("fits");
    ip6(router, US6, ICMPV6, &message)
}

#[test]
fn a_packet_too_big_about_a_raw_send_fragments_the_next_to_its_destination() {
    let mut s = stack6();
    let h = s.raw_bind(EXPERIMENT, ANY6).expect("bind");
    assert_eq!(s.raw_send_to(h, &pattern(1400), Some(PEER6.into())).expect("sent"), 1400);
    let first = drain(&mut s);
    assert_eq!(first.iter().map(Vec::len).collect::<Vec<_>>(), [1440], "whole: 1,440 fits 1,500");
    // A router's word about it: believed, since a raw socket of 253 could send to PEER6.
    s.input(ms(5), &packet_too_big(1280, &first[0]));
    assert_eq!((s.path_mtu_v6(PEER6), s.counters().ip6_pmtu_updates), (Some(1280), 1));
    s.raw_send_to(h, &pattern(1400), Some(PEER6.into())).expect("sent");
    let second = drain(&mut s);
    assert_eq!(second.iter().map(Vec::len).collect::<Vec<_>>(), [1280, 40 + 8 + 168], "1,232 + 168 bytes");
    assert!(second.iter().all(|p| p[6] == FRAGMENT));
    s.raw_send_to(h, &pattern(1400), Some(OTHER6.into())).expect("sent");
    assert_eq!(drain(&mut s).iter().map(Vec::len).collect::<Vec<_>>(), [1440], "another destination: whole");
    // Once the socket is gone, a quote of protocol 253 is nothing we could send.
    s.raw_close(h);
    s.input(ms(6), &packet_too_big(1280, &[&first[0][..8], &OTHER6.octets(), &first[0][24..]].concat()));
    assert_eq!((s.path_mtu_v6(OTHER6), s.counters().icmp6_rx_ptb_unmatched), (Some(1500), 1));
    assert_eq!(s.check_invariants(), Ok(()));
}
