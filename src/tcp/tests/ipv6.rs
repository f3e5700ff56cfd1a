//! TCP over IPv6 and dual-stack listeners, exact segments in and out: the
//! handshake over each family to one `[::]` listener, the IPv6 MSS (the MTU less
//! 40 + 20 header bytes), the IPv4 peer named `::ffff:a.b.c.d`, `only_v6`
//! turning IPv4 SYNs away with a RST, an active open over IPv6, and ICMPv6
//! errors quoting our segments (Packet Too Big, RFC 8201; port unreachable).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::config::StackConfig;
use crate::stack::Stack;
use crate::testutil::{drain, ip_packet, ms, parse_sent, stack, US};
use crate::wire::icmpv6::{self, ErrorKind as Icmp6Kind};
use crate::wire::ip_protocol::{ICMPV6, TCP};
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::tcp::{self as wire, Flags, OptionLayout, Options, Segment};

const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

fn stack6() -> Stack {
    Stack::new(StackConfig { addr6: Some(US6), ..StackConfig::default() })
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

const SYN: Flags = Flags { syn: true, ack: false, fin: false, rst: false, psh: false, urg: false };
const ACK: Flags = Flags { syn: false, ack: true, fin: false, rst: false, psh: false, urg: false };

/// A segment from `src` to `dst` in an IP packet of their family.
fn packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: Flags,
    mss: Option<u16>,
    data: &[u8],
) -> Vec<u8> {
    let options = Options { mss, ..Options::default() };
    let segment =
        Segment { src_port: src.port(), dst_port: dst.port(), seq, ack, flags, window: 65_535, options, payload: data };
    let mut tcp = Vec::new();
    wire::emit_parts(&mut tcp, src.ip(), dst.ip(), &segment, &[], OptionLayout::Linux, wire::TxChecksum::Compute)
        .expect("fits");
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ip_packet(s, d, TCP, 1, &tcp),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut out = Vec::new();
            ipv6::emit(&mut out, &Ipv6Repr { src: s, dst: d, next_header: TCP, hop_limit: 64, flow_label: 0 }, &tcp)
                .expect("fits");
            out
        }
        _ => panic!("mixed families"),
    }
}

/// A segment the stack sent, checksum verified over its own family's
/// pseudo-header.
#[derive(Debug, PartialEq, Eq)]
struct Out {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: Flags,
    mss: Option<u16>,
    data: Vec<u8>,
}

fn sent(stack: &mut Stack) -> Vec<Out> {
    drain(stack)
        .iter()
        .map(|p| {
            let (src, dst, payload) = if p[0] >> 4 == 6 {
                let ip = ipv6::parse(p).expect("valid IPv6");
                assert_eq!(ip.next_header, TCP);
                (IpAddr::V6(ip.src), IpAddr::V6(ip.dst), ip.payload().to_vec())
            } else {
                let ip = parse_sent(p);
                assert_eq!(ip.protocol, TCP);
                (IpAddr::V4(ip.src), IpAddr::V4(ip.dst), ip.payload)
            };
            let seg = match (src, dst) {
                (IpAddr::V6(s), IpAddr::V6(d)) => wire::parse_v6(s, d, &payload),
                (IpAddr::V4(s), IpAddr::V4(d)) => wire::parse(s, d, &payload),
                _ => panic!("mixed families"),
            }
            .expect("the checksum verifies over the packet's own pseudo-header");
            Out {
                src: SocketAddr::new(src, seg.src_port),
                dst: SocketAddr::new(dst, seg.dst_port),
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                mss: seg.options.mss,
                data: seg.payload.to_vec(),
            }
        })
        .collect()
}

/// Complete a passive open from `peer` to `to` on `s`; returns our ISS.
fn handshake(s: &mut Stack, peer: SocketAddr, to: SocketAddr, expected_mss: u16) -> u32 {
    s.input(ms(0), &packet(peer, to, 1000, 0, SYN, Some(1400), &[]));
    let out = sent(s);
    assert_eq!(out.len(), 1, "{out:?}");
    let synack = &out[0];
    assert_eq!((synack.src, synack.dst, synack.ack), (to, peer, 1001));
    assert!(synack.flags.syn && synack.flags.ack, "{synack:?}");
    assert_eq!(synack.mss, Some(expected_mss));
    s.input(ms(1), &packet(peer, to, 1001, synack.seq.wrapping_add(1), ACK, None, &[]));
    synack.seq
}

#[test]
fn a_dual_stack_listener_takes_both_families_and_names_ipv4_peers_mapped() {
    let mut s = stack6();
    let listener = s.tcp_listen(addr("[::]:7"), 8).expect("listen");
    assert_eq!(s.tcp_local_addr(listener).expect("open"), addr("[::]:7"));

    // Over IPv6: MSS 1500 − 40 − 20.
    let (peer6, us6) = (addr("[2001:2::1]:40000"), addr("[2001:2::2]:7"));
    let iss = handshake(&mut s, peer6, us6, 1440);
    let (conn6, from) = s.tcp_accept(listener).expect("accepted");
    assert_eq!(from, peer6);
    s.input(ms(2), &packet(peer6, us6, 1001, iss.wrapping_add(1), ACK, None, b"hello"));
    let mut buf = [0u8; 16];
    assert_eq!(s.tcp_recv(ms(3), conn6, &mut buf).expect("data"), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(s.tcp_send(ms(3), conn6, b"world").expect("taken"), 5);
    let out: Vec<_> = sent(&mut s).into_iter().filter(|o| !o.data.is_empty()).collect();
    assert_eq!((out.len(), out[0].src, out[0].dst, &out[0].data[..]), (1, us6, peer6, &b"world"[..]));

    // Over IPv4 to the same listener: MSS 1500 − 20 − 20, the peer mapped.
    let (peer4, us4) = (addr("198.18.0.1:40000"), addr("198.18.0.2:7"));
    handshake(&mut s, peer4, us4, 1460);
    let (conn4, from) = s.tcp_accept(listener).expect("accepted");
    assert_eq!(from, addr("[::ffff:198.18.0.1]:40000"));
    assert_eq!(s.tcp_peer_addr(conn4).expect("open"), from);
    assert_eq!(s.tcp_local_addr(conn4).expect("open"), addr("[::ffff:198.18.0.2]:7"));
    s.check_invariants().expect("invariants");

    // only_v6: an IPv4 SYN now finds nobody and is reset; IPv6 still comes in.
    s.tcp_set_only_v6(listener, true).expect("an IPv6 listener");
    let late4 = addr("198.18.0.1:40001");
    s.input(ms(4), &packet(late4, us4, 5000, 0, SYN, None, &[]));
    let out = sent(&mut s);
    assert_eq!((out.len(), out[0].dst), (1, late4));
    assert!(out[0].flags.rst, "{out:?}");
    handshake(&mut s, addr("[2001:2::1]:40001"), us6, 1440);
    assert_eq!(s.tcp_accept(listener).expect("accepted").1, addr("[2001:2::1]:40001"));
    assert_eq!(s.counters().tcp_rx_no_socket, 1);
}

#[test]
fn an_ipv4_listener_is_ipv4_only_and_ipv6_needs_an_address() {
    let mut s = stack6();
    let four = s.tcp_listen(addr("0.0.0.0:7"), 8).expect("listen");
    assert_eq!(s.tcp_set_only_v6(four, true).expect_err("IPv4").kind(), ErrorKind::InvalidInput);
    assert_eq!(s.tcp_listen(addr("[::]:7"), 8).expect_err("one listener a port").kind(), ErrorKind::AddrInUse);
    assert_eq!(s.tcp_listen(addr("[2001:2::9]:8"), 8).expect_err("not ours").kind(), ErrorKind::AddrNotAvailable);
    s.input(ms(0), &packet(addr("[2001:2::1]:40000"), addr("[2001:2::2]:7"), 1000, 0, SYN, None, &[]));
    let out = sent(&mut s);
    assert!(out.len() == 1 && out[0].flags.rst, "an IPv6 SYN to an IPv4 listener is reset: {out:?}");

    let mut plain = stack();
    let refused = plain.tcp_connect(ms(0), addr("[2001:2::1]:80")).expect_err("no IPv6 address");
    assert_eq!(refused.kind(), ErrorKind::NetworkUnreachable);
    assert!(drain(&mut plain).is_empty());
}

#[test]
fn an_active_open_over_ipv6_offers_the_ipv6_mss_and_completes() {
    let mut s = stack6();
    let conn = s.tcp_connect(ms(0), addr("[2001:2::1]:80")).expect("connect");
    let out = sent(&mut s);
    assert_eq!(out.len(), 1);
    let syn = &out[0];
    assert_eq!((syn.src.ip(), syn.dst, syn.mss), (IpAddr::V6(US6), addr("[2001:2::1]:80"), Some(1440)));
    assert!(syn.flags.syn && !syn.flags.ack);
    let synack = Flags { syn: true, ack: true, ..Flags::default() };
    s.input(ms(1), &packet(syn.dst, syn.src, 7000, syn.seq.wrapping_add(1), synack, Some(1440), &[]));
    assert_eq!(s.tcp_connect_status(conn).map_err(|e| e.kind()), Ok(()));
    assert_eq!(s.tcp_peer_addr(conn).expect("open"), addr("[2001:2::1]:80"));
    let out = sent(&mut s);
    assert_eq!((out.len(), out[0].ack, out[0].flags.ack), (1, 7001, true), "{out:?}");
    // A mapped address connects over IPv4 and is named as written.
    let mapped = s.tcp_connect(ms(2), addr("[::ffff:198.18.0.1]:80")).expect("connect");
    let out = sent(&mut s);
    assert_eq!((out[0].src.ip(), out[0].dst, out[0].mss), (IpAddr::V4(US), addr("198.18.0.1:80"), Some(1460)));
    assert_eq!(s.tcp_peer_addr(mapped).expect("open"), addr("[::ffff:198.18.0.1]:80"));
    s.check_invariants().expect("invariants");
}

/// An ICMPv6 error from `from` to us quoting `quoted` (a packet we sent).
fn icmpv6_error(from: Ipv6Addr, kind: Icmp6Kind, quoted: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    icmpv6::emit_error(&mut message, from, US6, kind, quoted).expect("fits");
    let mut out = Vec::new();
    ipv6::emit(
        &mut out,
        &Ipv6Repr { src: from, dst: US6, next_header: ICMPV6, hop_limit: 64, flow_label: 0 },
        &message,
    )
    .expect("fits");
    out
}

#[test]
fn packet_too_big_lowers_the_path_mtu_never_below_1280_and_only_for_data_in_flight() {
    let mut s = stack6();
    let listener = s.tcp_listen(addr("[::]:7"), 8).expect("listen");
    let (peer, us) = (addr("[2001:2::1]:40000"), addr("[2001:2::2]:7"));
    handshake(&mut s, peer, us, 1440);
    let (conn, _) = s.tcp_accept(listener).expect("accepted");
    assert_eq!(s.tcp_send(ms(2), conn, &[0x42; 3000]).expect("taken"), 3000);
    let flight = drain(&mut s);
    // Two full segments of the peer's MSS (1,400); Nagle holds the last 200.
    assert_eq!(flight.len(), 2);
    assert_eq!(flight[0].len(), 40 + 20 + 1400);
    let router = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);

    // A router's Packet Too Big for 1,000 bytes: the floor is IPv6's 1,280.
    s.input(ms(3), &icmpv6_error(router, Icmp6Kind::PacketTooBig(1000), &flight[0][..1232.min(flight[0].len())]));
    assert_eq!(s.tcp_info(conn).expect("open").snd_mss, 1280 - 60);
    assert_eq!(s.counters().tcp_pmtu_reductions, 1);
    // Validated by TCP (in flight) and by IP (our Flow Label): the destination's
    // entry in IPv6's path MTU cache, for UDP and raw sends, follows.
    assert_eq!(
        (s.path_mtu_v6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1)), s.counters().ip6_pmtu_updates),
        (Some(1280), 1)
    );
    let resent = sent(&mut s);
    assert!(!resent.is_empty() && resent.iter().all(|o| o.data.len() <= 1220), "{resent:?}");

    // One quoting a sequence number not in flight is refused (RFC 5927).
    let mut stale = flight[0].clone();
    stale[40 + 4..40 + 8].copy_from_slice(&0u32.to_be_bytes());
    s.input(ms(4), &icmpv6_error(router, Icmp6Kind::PacketTooBig(1280), &stale));
    assert_eq!(s.counters().tcp_rx_icmp_out_of_window, 1);
    assert_eq!(s.counters().ip6_pmtu_updates, 1, "nor does it teach the cache");
}

#[test]
fn icmpv6_port_unreachable_ends_a_connect_over_ipv6() {
    let mut s = stack6();
    let conn = s.tcp_connect(ms(0), addr("[2001:2::1]:81")).expect("connect");
    let syn = drain(&mut s).remove(0);
    let kind = Icmp6Kind::DestUnreachable(icmpv6::CODE_PORT_UNREACHABLE);
    s.input(ms(1), &icmpv6_error(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1), kind, &syn));
    assert_eq!(s.tcp_connect_status(conn).expect_err("refused").kind(), ErrorKind::ConnectionRefused);
    assert_eq!(s.counters().tcp_icmp_aborts, 1);
}

#[test]
fn an_ipv4_listener_and_an_ipv6_only_one_share_a_port() {
    let mut s = stack6();
    let four = s.tcp_listen(addr("0.0.0.0:7"), 8).expect("listen");
    let six = s.tcp_listen(addr("[2001:2::2]:7"), 8).expect("IPv6 only: shares port 7");
    s.check_invariants().expect("invariants");
    handshake(&mut s, addr("[2001:2::1]:40000"), addr("[2001:2::2]:7"), 1440);
    handshake(&mut s, addr("198.18.0.1:40000"), addr("198.18.0.2:7"), 1460);
    assert_eq!(s.tcp_accept(six).expect("IPv6 to the IPv6 listener").1, addr("[2001:2::1]:40000"));
    assert_eq!(s.tcp_accept(four).expect("IPv4 to the IPv4 listener").1, addr("198.18.0.1:40000"));

    // The port stays bound until its last listener goes; a dual-stack listener
    // cannot take the IPv4 place while it is held.
    s.tcp_close_listener(ms(2), six);
    let dual = s.tcp_listen(addr("[::]:7"), 8);
    assert_eq!(dual.expect_err("IPv4's place is taken").kind(), ErrorKind::AddrInUse);
    let mut t = Stack::new(StackConfig { addr6: Some(US6), bind_v6only: true, ..StackConfig::default() });
    let four = t.tcp_listen(addr("0.0.0.0:8"), 8).expect("listen");
    let six = t.tcp_listen(addr("[::]:8"), 8).expect("bind_v6only: [::] starts IPv6-only");
    assert_eq!(t.tcp_set_only_v6(six, false).expect_err("IPv4 is held").kind(), ErrorKind::AddrInUse);
    t.tcp_close_listener(ms(0), four);
    t.tcp_set_only_v6(six, false).expect("now free");
    assert!(t.tcp_ports().is_bound(8));
    t.tcp_close_listener(ms(0), six);
    assert!(!t.tcp_ports().is_bound(8));
    t.check_invariants().expect("invariants");
    s.check_invariants().expect("invariants");
}
