//! UDP over IPv6 and dual-stack sockets through the whole core: exact packets
//! in through `Stack::input`, exact packets out of `poll_transmit`, the
//! dual-stack port rules of `ip/dual_stack.rs`, ICMPv6 errors to connected sockets.

use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr};

use crate::config::StackConfig;
use crate::shared::{Event, UdpHandle};
use crate::stack::Stack;
use crate::testutil::*;
use crate::wire::icmp::CODE_PORT_UNREACHABLE as ICMP4_PORT_UNREACHABLE;
use crate::wire::icmpv6::{self, ErrorKind as Icmp6Kind, CODE_PORT_UNREACHABLE};
use crate::wire::ip_protocol::{FRAGMENT, ICMP, ICMPV6, UDP};
use crate::wire::udp::{self, MAX_PAYLOAD_V6};

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

fn err_kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

/// A UDP datagram over IPv6 from `src` to `dst`, checksummed.
fn udp6_packet(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut segment = Vec::new();
    udp::emit_v6(&mut segment, src, dst, sport, dport, data).expect("fits");
    ip6(src, dst, UDP, &segment)
}

/// The UDP datagram the stack sent over IPv6, checksum verified: (ports, payload).
fn sent_udp6(stack: &mut Stack, dst: Ipv6Addr) -> (u16, u16, Vec<u8>) {
    let sent = sent6(stack);
    assert_eq!(sent.len(), 1, "one datagram");
    let (src, to, next, message) = &sent[0];
    assert_eq!((*src, *to, *next), (US6, dst, UDP));
    let d = udp::parse_v6(*src, *to, message).expect("the mandatory checksum verifies");
    (d.src_port, d.dst_port, d.payload.to_vec())
}

fn bind(s: &mut Stack, at: &str) -> UdpHandle {
    let h = s.udp_bind(addr(at)).expect("bind");
    s.check_invariants().expect("invariants after bind");
    h
}

#[test]
fn an_ipv6_socket_receives_and_answers_byte_exact_in_one_packet_or_fragments() {
    let mut s = stack6();
    let h = bind(&mut s, "[2001:2::2]:7");
    for size in [0, 1, 1452, 4000] {
        let data = pattern(size);
        // Whole from the peer; the stack's answer goes whole or in fragments.
        let mut segment = Vec::new();
        udp::emit_v6(&mut segment, PEER6, US6, 40_000, 7, &data).expect("fits");
        for piece in fragments6(&segment, 1448, size as u32) {
            assert_eq!(s.input(ms(0), &piece), None, "size {size}");
        }
        assert_eq!(events(&mut s), [Event::UdpReadable(h)]);
        let got = s.udp_recv(h).expect("queued");
        assert_eq!((got.from, &got.data[..]), (addr("[2001:2::1]:40000"), &data[..]), "size {size}");
        assert_eq!(s.udp_send_to(h, &got.data, got.from).expect("sent"), size);
        assert_eq!(sent_udp6(&mut s, PEER6), (7, 40_000, data), "size {size}");
    }
    let c = s.counters();
    assert_eq!((c.udp_rx, c.udp_rx_delivered, c.udp_tx, c.ip6_rx_delivered), (4, 4, 4, 4));
    assert_eq!(c.ip6_tx_fragmented, 1, "40 + 8 + 1452 fits 1500; 4000 does not");
    assert_eq!(s.udp_local_addr(h).expect("open"), addr("[2001:2::2]:7"));
}

/// The IPv6 packets carrying `message` (UDP from PEER6), fragmented when it is
/// longer than `size`.
fn fragments6(message: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    if message.len() <= size {
        return vec![ip6(PEER6, US6, UDP, message)];
    }
    (0..message.len())
        .step_by(size)
        .map(|at| {
            let end = message.len().min(at + size);
            let off_m = ((at / 8) as u16) << 3 | u16::from(end < message.len());
            let header = [&[UDP, 0][..], &off_m.to_be_bytes(), &id.to_be_bytes()].concat();
            ip6(PEER6, US6, FRAGMENT, &[&header, &message[at..end]].concat())
        })
        .collect()
}

#[test]
fn a_dual_stack_socket_hears_both_families_and_names_ipv4_peers_mapped() {
    let mut s = stack6();
    let h = bind(&mut s, "[::]:7");
    s.input(ms(0), &udp_packet(PEER, US, 40_000, 7, b"over IPv4"));
    s.input(ms(0), &udp6_packet(PEER6, US6, 40_001, 7, b"over IPv6"));
    let v4 = s.udp_recv(h).expect("the IPv4 datagram");
    assert_eq!((v4.from, &v4.data[..]), (addr("[::ffff:198.18.0.1]:40000"), &b"over IPv4"[..]));
    let v6 = s.udp_recv(h).expect("the IPv6 datagram");
    assert_eq!((v6.from, &v6.data[..]), (addr("[2001:2::1]:40001"), &b"over IPv6"[..]));

    // Answering each at the address it came from: the IPv4 one goes out as IPv4.
    s.udp_send_to(h, b"back 4", v4.from).expect("sent");
    let out = drain_parsed(&mut s);
    assert_eq!((out.len(), out[0].src, out[0].dst), (1, US, PEER));
    assert_eq!(out[0].udp(), (7, 40_000, b"back 4".to_vec()));
    s.udp_send_to(h, b"back 6", v6.from).expect("sent");
    assert_eq!(sent_udp6(&mut s, PEER6), (7, 40_001, b"back 6".to_vec()));
    // A plain IPv4 address works as well as its mapped form.
    s.udp_send_to(h, b"plain", addr("198.18.0.1:40000")).expect("sent");
    assert_eq!(drain_parsed(&mut s)[0].udp(), (7, 40_000, b"plain".to_vec()));

    // Connected to the mapped address, it reports it so and hears only it.
    s.udp_connect(h, addr("[::ffff:198.18.0.1]:40000")).expect("connect");
    assert_eq!(s.udp_peer_addr(h).expect("connected"), addr("[::ffff:198.18.0.1]:40000"));
    s.input(ms(0), &udp6_packet(PEER6, US6, 40_001, 7, b"not the peer"));
    s.input(ms(0), &udp_packet(PEER, US, 40_000, 7, b"the peer"));
    assert_eq!(&s.udp_recv(h).expect("from the peer").data[..], b"the peer");
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
    assert_eq!(s.counters().udp_rx_no_port, 1, "the other one found no socket");
    assert_eq!(s.udp_local_addr(h).expect("open"), addr("[::]:7"));
}

#[test]
fn the_port_namespace_is_shared_one_socket_per_family() {
    let mut s = stack6();
    let dual = bind(&mut s, "[::]:7");
    assert_eq!(err_kind(s.udp_bind(addr("0.0.0.0:7"))), ErrorKind::AddrInUse, "dual-stack holds IPv4 too");
    assert_eq!(err_kind(s.udp_bind(addr("[2001:2::2]:7"))), ErrorKind::AddrInUse);

    // only_v6 gives up the IPv4 place, which an IPv4 socket may then take.
    s.udp_set_only_v6(dual, true).expect("IPv6 socket");
    assert!(s.udp_only_v6(dual).expect("open"));
    s.input(ms(0), &udp_packet(PEER, US, 40_000, 7, b"refused"));
    let out = drain_parsed(&mut s);
    assert_eq!((out.len(), out[0].protocol), (1, ICMP));
    assert_eq!((out[0].icmp().icmp_type, out[0].icmp().code), (3, ICMP4_PORT_UNREACHABLE));
    let v4 = bind(&mut s, "0.0.0.0:7");
    s.input(ms(0), &udp_packet(PEER, US, 40_000, 7, b"to the IPv4 socket"));
    s.input(ms(0), &udp6_packet(PEER6, US6, 40_000, 7, b"to the IPv6 socket"));
    assert_eq!(&s.udp_recv(v4).expect("IPv4").data[..], b"to the IPv4 socket");
    assert_eq!(&s.udp_recv(dual).expect("IPv6").data[..], b"to the IPv6 socket");
    assert_eq!(err_kind(s.udp_set_only_v6(dual, false)), ErrorKind::AddrInUse, "the IPv4 place is taken");
    assert_eq!(err_kind(s.udp_send_to(dual, b"x", addr("198.18.0.1:9"))), ErrorKind::NetworkUnreachable);
    let rows: Vec<_> = s.udp_sockets().into_iter().map(|i| i.local).collect();
    assert_eq!(rows, [addr("198.18.0.2:7"), addr("[::]:7")]);

    // The port stays bound until its last socket closes.
    s.udp_close(v4);
    assert!(s.udp_ports().is_bound(7));
    s.check_invariants().expect("invariants");
    s.udp_close(dual);
    assert!(!s.udp_ports().is_bound(7));
    s.check_invariants().expect("invariants");

    // An ephemeral port of one family is not handed to the other, and IPv6
    // address and IPv4 socket share a port as only_v6 does.
    let eph = bind(&mut s, "[::]:0");
    let port = s.udp_local_addr(eph).expect("open").port();
    assert_eq!(err_kind(s.udp_bind(SocketAddr::from((US, port)))), ErrorKind::AddrInUse);
    bind(&mut s, "[2001:2::2]:9");
    bind(&mut s, "0.0.0.0:9");
}

#[test]
fn icmpv6_port_unreachable_refuses_the_next_call_of_a_connected_socket() {
    let mut s = stack6();
    let open = bind(&mut s, "[::]:5000");
    let connected = bind(&mut s, "[::]:5001");
    s.udp_connect(connected, addr("[2001:2::1]:6000")).expect("connect");
    for h in [open, connected] {
        s.udp_send_to(h, b"probe", addr("[2001:2::1]:6000")).expect("sent");
        let sent = drain(&mut s).remove(0);
        let mut error = Vec::new();
        let kind = Icmp6Kind::DestUnreachable(CODE_PORT_UNREACHABLE);
        icmpv6::emit_error(&mut error, PEER6, US6, kind, &sent).expect("fits");
        s.input(ms(0), &ip6(PEER6, US6, ICMPV6, &error));
    }
    // Like IPv4 (and Linux): only the connected socket hears of it, once.
    assert_eq!(events(&mut s), [Event::UdpError(connected)]);
    assert_eq!(err_kind(s.udp_recv(connected)), ErrorKind::ConnectionRefused);
    assert_eq!(err_kind(s.udp_recv(connected)), ErrorKind::WouldBlock);
    assert_eq!(err_kind(s.udp_recv(open)), ErrorKind::WouldBlock);
    assert!(drain(&mut s).is_empty(), "no error about an error");
    assert_eq!(s.counters().icmp6_rx_errors, 2);
}

#[test]
fn a_closed_ipv6_port_is_answered_and_a_zero_checksum_is_dropped() {
    let mut s = stack6();
    let h = bind(&mut s, "[::]:7");
    let closed = udp6_packet(PEER6, US6, 40_000, 8, b"anyone?");
    s.input(ms(0), &closed);
    let sent = sent6(&mut s);
    assert_eq!((sent.len(), sent[0].2, sent[0].3[0], sent[0].3[1]), (1, ICMPV6, 1, CODE_PORT_UNREACHABLE));
    assert_eq!(&sent[0].3[8..], &closed[..], "quoting the whole datagram");

    let mut unchecked = udp6_packet(PEER6, US6, 40_000, 7, b"no sum");
    unchecked[46..48].copy_from_slice(&[0, 0]);
    s.input(ms(0), &unchecked);
    assert!(drain(&mut s).is_empty() && events(&mut s).is_empty());
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
    let c = s.counters();
    assert_eq!((c.udp_rx_no_port, c.udp_rx_bad_checksum, c.icmp6_tx_dest_unreachable), (1, 1, 1));
}

#[test]
fn misuse_is_refused_with_a_clear_error() {
    let mut s = stack6();
    let v4 = bind(&mut s, "0.0.0.0:0");
    assert_eq!(err_kind(s.udp_send_to(v4, b"x", addr("[2001:2::1]:7"))), ErrorKind::InvalidInput);
    assert_eq!(err_kind(s.udp_connect(v4, addr("[2001:2::1]:7"))), ErrorKind::InvalidInput);
    assert_eq!(err_kind(s.udp_set_only_v6(v4, true)), ErrorKind::InvalidInput);
    assert_eq!(err_kind(s.udp_bind(addr("[2001:2::9]:7"))), ErrorKind::AddrNotAvailable);
    assert_eq!(err_kind(s.udp_bind(addr("[::ffff:198.18.0.9]:7"))), ErrorKind::AddrNotAvailable);
    let mapped = bind(&mut s, "[::ffff:198.18.0.2]:53");
    assert_eq!(err_kind(s.udp_set_only_v6(mapped, true)), ErrorKind::InvalidInput, "IPv4 only by its address");
    assert_eq!(err_kind(s.udp_send_to(mapped, b"x", addr("[2001:2::1]:7"))), ErrorKind::NetworkUnreachable);
    let six = bind(&mut s, "[2001:2::2]:0");
    assert_eq!(err_kind(s.udp_send_to(six, b"x", addr("198.18.0.1:7"))), ErrorKind::NetworkUnreachable);
    let too_big = vec![0; MAX_PAYLOAD_V6 + 1];
    assert_eq!(err_kind(s.udp_send_to(six, &too_big, addr("[2001:2::1]:7"))), ErrorKind::InvalidInput);
    assert_eq!(s.udp_send_to(six, &too_big[1..], addr("[2001:2::1]:7")).expect("the largest fits"), MAX_PAYLOAD_V6);
    assert_eq!(sent_udp6(&mut s, PEER6).2.len(), MAX_PAYLOAD_V6);

    // Without an IPv6 address `[::]` still binds (and serves IPv4), but IPv6
    // cannot be reached.
    let mut plain = stack();
    let dual = plain.udp_bind(addr("[::]:7")).expect("bind");
    assert_eq!(err_kind(plain.udp_send_to(dual, b"x", addr("[2001:2::1]:7"))), ErrorKind::NetworkUnreachable);
    plain.input(ms(0), &udp_packet(PEER, US, 40_000, 7, b"v4"));
    assert_eq!(plain.udp_recv(dual).expect("IPv4 served").from, addr("[::ffff:198.18.0.1]:40000"));
}

#[test]
fn bind_v6only_makes_new_unspecified_ipv6_sockets_ipv6_only() {
    let mut s = Stack::new(StackConfig { addr6: Some(US6), bind_v6only: true, ..StackConfig::default() });
    let six = bind(&mut s, "[::]:7");
    assert!(s.udp_only_v6(six).expect("open"));
    let four = bind(&mut s, "0.0.0.0:7");
    assert!(!s.udp_only_v6(four).expect("open"));
    let mapped = bind(&mut s, "[::ffff:198.18.0.2]:8");
    assert!(!s.udp_only_v6(mapped).expect("open"), "an IPv4-mapped address is IPv4 whatever the default");
    s.udp_set_only_v6(six, false).expect_err("the IPv4 place is taken");
}

#[test]
fn an_icmpv4_error_reaches_a_dual_stack_socket_connected_to_a_mapped_peer() {
    let mut s = stack6();
    let h = bind(&mut s, "[::]:5000");
    s.udp_connect(h, addr("[::ffff:198.18.0.1]:6000")).expect("connect");
    s.udp_send(h, b"probe").expect("sent");
    let sent = drain(&mut s).remove(0);
    s.input(ms(0), &icmp_dest_unreachable(PEER, US, ICMP4_PORT_UNREACHABLE, &sent[..28]));
    assert_eq!(events(&mut s), [Event::UdpError(h)]);
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::ConnectionRefused);
}

#[test]
fn an_ipv6_packet_from_an_ipv4_mapped_source_is_not_taken_for_ipv4() {
    let mut s = stack6();
    let dual = bind(&mut s, "[::]:7");
    let four = bind(&mut s, "0.0.0.0:9");
    let mapped = PEER.to_ipv6_mapped();
    s.input(ms(0), &udp6_packet(mapped, US6, 40_000, 7, b"posing as IPv4"));
    s.input(ms(0), &udp6_packet(mapped, US6, 40_000, 9, b"posing as IPv4"));
    assert!(drain(&mut s).is_empty() && events(&mut s).is_empty());
    assert_eq!(
        (err_kind(s.udp_recv(dual)), err_kind(s.udp_recv(four))),
        (ErrorKind::WouldBlock, ErrorKind::WouldBlock)
    );
    assert_eq!((s.counters().ip6_rx_bad_source, s.counters().udp_rx), (2, 0));
}
