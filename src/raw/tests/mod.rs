//! Raw IP protocol sockets through the whole core (IPv4 here, IPv6 in
//! `ipv6.rs`).

use std::io::ErrorKind;
use std::net::Ipv4Addr;

use crate::shared::{Event, QueueLimit};
use crate::testutil::*;

const EXPERIMENT: u8 = 253;

#[test]
fn the_stacks_own_protocols_and_reserved_numbers_cannot_be_bound() {
    let mut s = stack();
    for p in [1, 6, 17] {
        assert_eq!(s.raw_bind(p, Ipv4Addr::UNSPECIFIED).expect_err("ours").kind(), ErrorKind::AddrInUse, "{p}");
    }
    for p in [0, 255] {
        assert_eq!(s.raw_bind(p, Ipv4Addr::UNSPECIFIED).expect_err("reserved").kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(s.raw_bind(EXPERIMENT, OTHER).expect_err("not ours").kind(), ErrorKind::AddrNotAvailable);
}

#[test]
fn every_socket_of_the_protocol_gets_a_copy_and_nothing_is_answered() {
    let mut s = stack();
    let a = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    let b = s.raw_bind(EXPERIMENT, US).expect("bind");
    let other = s.raw_bind(254, Ipv4Addr::UNSPECIFIED).expect("bind");
    assert_eq!(s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"hello")), None);
    assert!(drain(&mut s).is_empty(), "a delivered datagram is not answered");
    for h in [a, b] {
        let got = s.raw_recv(h).expect("a copy");
        assert_eq!((&got.data[..], got.from.ip().to_string()), (&b"hello"[..], PEER.to_string()));
    }
    assert_eq!(s.raw_recv(other).expect_err("another protocol").kind(), ErrorKind::WouldBlock);
    assert_eq!(events(&mut s), [Event::RawReadable(a), Event::RawReadable(b)]);
    assert_eq!(s.counters().raw_rx_delivered, 2);
}

#[test]
fn a_connected_socket_hears_only_its_peer() {
    let mut s = stack();
    let h = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    s.raw_connect(h, OTHER).expect("connect");
    s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, 1, b"not for it"));
    assert_eq!(s.raw_recv(h).expect_err("filtered").kind(), ErrorKind::WouldBlock);
    let reply = drain_parsed(&mut s);
    assert_eq!(reply.len(), 1, "nobody wanted it: protocol unreachable");
    assert_eq!((reply[0].icmp().icmp_type, reply[0].icmp().code), (3, 2));
}

#[test]
fn with_the_header_included_a_reassembled_datagram_reads_as_if_unfragmented() {
    let mut s = stack();
    let h = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    s.raw_set_header_included(h, true).expect("open");
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    for piece in fragments(PEER, US, EXPERIMENT, 0x4242, &payload, 1480) {
        s.input(ms(1), &piece);
    }
    let got = s.raw_recv(h).expect("reassembled");
    let ip = crate::wire::ipv4::parse(&got.data).expect("a valid header, rebuilt");
    assert_eq!((ip.protocol, ip.src, ip.payload), (EXPERIMENT, PEER, &payload[..]));
    assert!(!ip.is_fragment());
}

#[test]
fn a_full_queue_drops_and_counts() {
    let mut s = stack();
    let h = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    s.raw_set_recv_queue(h, QueueLimit { datagrams: 2, bytes: 1 << 20 }).expect("open");
    for i in 0..5 {
        let verdict = s.input(ms(1), &ip_packet(PEER, US, EXPERIMENT, i, b"x"));
        assert_eq!(verdict.map(|r| r.as_str()), if i < 2 { None } else { Some("raw queue full") });
    }
    assert_eq!(s.counters().raw_rx_queue_full, 3);
    let info = &s.raw_sockets()[0];
    assert_eq!((info.queued_datagrams, info.dropped, info.protocol), (2, 3, EXPERIMENT));
    assert_eq!(s.check_invariants(), Ok(()));
}

#[test]
fn sending_goes_through_ip_output_and_is_fragmented_to_the_mtu() {
    let mut s = stack();
    let h = s.raw_bind(EXPERIMENT, Ipv4Addr::UNSPECIFIED).expect("bind");
    assert_eq!(s.raw_send_to(h, &[9; 4000], Some(PEER.into())).expect("sent"), 4000);
    let sent = drain_parsed(&mut s);
    assert_eq!(sent.len(), 3, "4000 bytes in 1480-byte fragments");
    assert!(sent.iter().all(|p| (p.src, p.dst, p.protocol) == (US, PEER, EXPERIMENT)));
    assert_eq!(s.raw_send_to(h, b"x", None).map_err(|e| e.kind()), Err(ErrorKind::NotConnected));
    assert_eq!(s.counters().raw_tx, 1);
    s.raw_close(h);
    assert!(s.raw_sockets().is_empty());
}

mod ipv6;
