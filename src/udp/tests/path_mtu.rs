//! UDP over IPv6 and the per-destination path MTU (RFC 8201; `ip/ipv6/path_mtu.rs`):
//! exact packets in through `Stack::input` — a router's Packet Too Big quoting a
//! datagram we sent — and exact packets out of `poll_transmit`.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::{PathMtuConfig, StackConfig};
use crate::stack::Stack;
use crate::testutil::*;
use crate::time::Instant;
use crate::wire::icmpv6::{self, ErrorKind as Icmp6Kind};
use crate::wire::ip_protocol::{FRAGMENT, ICMPV6, UDP};
use crate::wire::ipv6;
use crate::wire::udp;

/// The destination a router says is behind a narrow link.
const D: Ipv6Addr = PEER6;
/// Another destination, on a path nobody complained about.
const E: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xe);
/// The router that sends Packet Too Big.
const ROUTER: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);

/// A Packet Too Big from [`ROUTER`] reporting `mtu`, quoting what fits of `packet`
/// (RFC 4443 §3.2: as much as fits 1,280 bytes).
fn packet_too_big(mtu: u32, packet: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    let quoted = &packet[..packet.len().min(1232)];
    icmpv6::emit_error(&mut message, ROUTER, US6, Icmp6Kind::PacketTooBig(mtu), quoted).expect("fits");
    ip6(ROUTER, US6, ICMPV6, &message)
}

/// Send `size` bytes from the stack's port 5000 to `dst`:9 (binding the port
/// the first time) and take the packets that leave.
fn send(s: &mut Stack, dst: Ipv6Addr, size: usize) -> Vec<Vec<u8>> {
    let h = match s.udp_sockets().first() {
        Some(socket) => socket.handle,
        None => s.udp_bind("[::]:5000".parse().expect("address")).expect("bound"),
    };
    assert_eq!(s.udp_send_to(h, &pattern(size), SocketAddr::new(dst.into(), 9)).expect("sent"), size);
    drain(s)
}

/// The UDP message (header and payload) the packets carry, rebuilt from their
/// fragments, checksum verified, and the length of each packet.
fn carried(packets: &[Vec<u8>], dst: Ipv6Addr) -> (Vec<u8>, Vec<usize>) {
    let mut message = Vec::new();
    for p in packets {
        let ip = ipv6::parse(p).expect("valid IPv6");
        assert_eq!((ip.src, ip.dst), (US6, dst));
        match ip.next_header {
            UDP => message.extend_from_slice(ip.payload()),
            FRAGMENT => message.extend_from_slice(&ip.payload()[8..]),
            other => panic!("next header {other}"),
        }
    }
    let d = udp::parse_v6(US6, dst, &message).expect("checksum verifies");
    assert_eq!((d.src_port, d.dst_port, d.payload), (5000, 9, &pattern(message.len() - 8)[..]));
    (message, packets.iter().map(Vec::len).collect())
}

#[test]
fn a_packet_too_big_for_d_fragments_the_next_datagram_to_d_only() {
    let mut s = stack6();
    let first = send(&mut s, D, 1400);
    assert_eq!(carried(&first, D).1, [40 + 8 + 1400], "1,448 bytes fit the link's 1,500");

    // A router: the next link is 1,280 bytes. The quote is ours, so it is believed.
    assert_eq!(s.input(ms(10), &packet_too_big(1280, &first[0])), None);
    assert_eq!(s.path_mtu_v6(D), Some(1280));
    assert_eq!(s.path_mtu_v6(E), Some(1500));
    assert_eq!(s.counters().ip6_pmtu_updates, 1);

    // To D: fragments of at most 1,280 bytes — 1,232 of data (a multiple of 8)
    // after the fixed and Fragment headers, then the 176 left.
    let second = send(&mut s, D, 1400);
    assert_eq!(carried(&second, D).1, [1280, 40 + 8 + 176]);
    assert_eq!(s.counters().ip6_tx_fragmented, 1);
    // To E: whole, as before.
    let other = send(&mut s, E, 1400);
    assert_eq!(carried(&other, E).1, [1448]);
    s.check_invariants().expect("invariants");
}

#[test]
fn a_packet_too_big_below_1280_lowers_the_path_mtu_to_1280_only() {
    let mut s = stack6();
    let first = send(&mut s, D, 1400);
    s.input(ms(10), &packet_too_big(1000, &first[0]));
    assert_eq!(s.path_mtu_v6(D), Some(1280), "RFC 8201 §4: never below IPv6's minimum link MTU");
    // Not even to a smaller size later, nor back up by a larger one.
    s.input(ms(11), &packet_too_big(576, &first[0]));
    s.input(ms(12), &packet_too_big(1400, &first[0]));
    assert_eq!(s.path_mtu_v6(D), Some(1280));
    assert_eq!(s.counters().ip6_pmtu_updates, 1);
    let lens = carried(&send(&mut s, D, 1400), D).1;
    assert_eq!(lens, [1280, 224], "no atomic fragments, no fragment below 1,280 but the last (RFC 8021)");
}

#[test]
fn a_packet_too_big_quoting_nothing_we_sent_changes_nothing() {
    let mut s = stack6();
    let ours = send(&mut s, D, 1400).remove(0);
    let forgeries: Vec<(&str, Vec<u8>)> = vec![
        ("another source", {
            let mut p = ours.clone();
            p[8..24].copy_from_slice(&E.octets());
            p
        }),
        ("a flow label we did not write", {
            let mut p = ours.clone();
            p[3] ^= 0x01;
            p
        }),
        ("a port no socket holds", {
            let mut p = ours.clone();
            p[40..42].copy_from_slice(&5001u16.to_be_bytes());
            p
        }),
    ];
    for (n, (what, quote)) in forgeries.iter().enumerate() {
        assert_eq!(
            s.input(ms(10), &packet_too_big(1280, quote)),
            Some(crate::shared::DropReason::Icmp6PacketTooBigUnmatched),
            "{what}"
        );
        assert_eq!(s.counters().icmp6_rx_ptb_unmatched, n as u64 + 1, "{what}");
        assert_eq!(s.path_mtu_v6(D), Some(1500), "{what}");
    }
    // A socket connected elsewhere did not send to D either.
    let h = s.udp_sockets()[0].handle;
    s.udp_connect(h, SocketAddr::new(E.into(), 9)).expect("connect");
    s.input(ms(11), &packet_too_big(1280, &ours));
    assert_eq!((s.counters().icmp6_rx_ptb_unmatched, s.counters().ip6_pmtu_updates), (4, 0));
    assert_eq!(carried(&send(&mut s, E, 1400), E).1, [1448]);
    assert_eq!(s.poll_deadline(), None, "nothing learned, nothing to age");
}

#[test]
fn a_learned_path_mtu_ages_out_after_the_aging_time() {
    let aging = Duration::from_secs(600);
    let config =
        StackConfig { addr6: Some(US6), path_mtu: PathMtuConfig { max_entries: 8, aging }, ..StackConfig::default() };
    let mut s = Stack::new(config);
    let first = send(&mut s, D, 1400);
    let learned = ms(10);
    s.input(learned, &packet_too_big(1300, &first[0]));
    assert_eq!(s.path_mtu_v6(D), Some(1300), "as reported");
    assert_eq!(s.poll_deadline(), Some(learned + aging), "RFC 8201 §4: 10 minutes after the decrease");

    s.handle_timeout(Instant::from_micros((learned + aging).micros() - 1));
    assert_eq!((s.path_mtu_v6(D), s.counters().ip6_pmtu_expired), (Some(1300), 0));
    assert_eq!(carried(&send(&mut s, D, 1400), D).1, [40 + 8 + 1248, 40 + 8 + 160], "1,248: 1,300 less 48, in eights");

    s.handle_timeout(learned + aging);
    assert_eq!((s.path_mtu_v6(D), s.counters().ip6_pmtu_expired), (Some(1500), 1));
    assert_eq!(s.poll_deadline(), None);
    assert_eq!(carried(&send(&mut s, D, 1400), D).1, [1448], "the link MTU is tried again");
}
