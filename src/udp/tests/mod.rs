//! UDP through the whole core: exact packets in through `Stack::input`, exact
//! packets out of `poll_transmit`, events, counters.

mod ipv6;
mod path_mtu;

use std::io::ErrorKind;
use std::net::Ipv4Addr;

use crate::config::{QueueLimit, StackConfig};
use crate::ports::Protocol;
use crate::shared::Event;
use crate::stack::Stack;
use crate::testutil::*;
use crate::wire::udp::MAX_PAYLOAD_V4;

/// Bind `port` on the stack's address or fail the test.
fn bind(stack: &mut Stack, port: u16) -> super::UdpHandle {
    stack.udp_bind(sa(US, port)).expect("bind")
}

fn err_kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

// ---------------------------------------------------------------------------
// Demultiplexing
// ---------------------------------------------------------------------------

#[test]
fn datagram_goes_to_the_socket_bound_to_its_port() {
    let mut s = stack();
    let seven = bind(&mut s, 7);
    let other = bind(&mut s, 5000);
    s.input(ms(0), &udp_packet(PEER, US, 40000, 5000, b"for 5000"));

    // RFC 768: the destination port alone chooses the socket; nothing is sent back.
    assert_eq!(events(&mut s), [Event::UdpReadable(other)]);
    assert!(drain(&mut s).is_empty());
    let got = s.udp_recv(other).expect("queued");
    assert_eq!(&got.data[..], b"for 5000");
    assert_eq!(got.from, sa(PEER, 40000));
    assert_eq!(err_kind(s.udp_recv(seven)), ErrorKind::WouldBlock);
    assert_eq!(err_kind(s.udp_recv(other)), ErrorKind::WouldBlock);
    let c = s.counters();
    assert_eq!((c.ip_rx_delivered, c.udp_rx, c.udp_rx_delivered, c.udp_rx_no_port), (1, 1, 1, 0));
}

#[test]
fn a_bound_socket_sends_exact_udp() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    assert_eq!(s.udp_send_to(h, b"hello", sa(PEER, 7)).expect("sent"), 5);
    let out = drain_parsed(&mut s);
    assert_eq!(out.len(), 1);
    // RFC 1122 3.2.1.7: our TTL; RFC 768: checksum over the pseudo-header verifies.
    assert_eq!((out[0].src, out[0].dst, out[0].ttl), (US, PEER, 64));
    assert!(!out[0].is_fragment());
    assert_eq!(out[0].udp(), (5000, 7, b"hello".to_vec()));
    assert_eq!(s.counters().udp_tx, 1);
}

#[test]
fn corrupt_udp_is_dropped_silently() {
    let mut s = stack();
    let h = bind(&mut s, 7);
    let mut bad_sum = udp_packet(PEER, US, 1000, 7, b"data");
    bad_sum[30] ^= 0xff; // a payload byte: the UDP checksum no longer verifies
    s.input(ms(0), &bad_sum);
    let mut short = udp_packet(PEER, US, 1000, 7, b"data");
    short[25] = 40; // UDP length beyond the IP payload
    s.input(ms(0), &short);

    // No ICMP error for a datagram we could not even read (RFC 1122 4.1.3.4).
    assert!(drain(&mut s).is_empty());
    assert!(events(&mut s).is_empty());
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
    let c = s.counters();
    assert_eq!((c.udp_rx_bad_checksum, c.udp_rx_bad_length, c.udp_rx), (1, 1, 0));
}

// ---------------------------------------------------------------------------
// ICMP port unreachable
// ---------------------------------------------------------------------------

#[test]
fn unbound_port_is_answered_with_exactly_one_port_unreachable() {
    let mut s = stack();
    let original = udp_packet(PEER, US, 40000, 9999, b"anyone there?");
    s.input(ms(0), &original);

    let out = drain_parsed(&mut s);
    assert_eq!(out.len(), 1, "exactly one ICMP error");
    let reply = &out[0];
    assert_eq!((reply.src, reply.dst, reply.protocol), (US, PEER, PROTO_ICMP));
    let icmp = reply.icmp();
    // RFC 792: type 3 (destination unreachable), code 3 (port), 4 unused zero bytes.
    assert_eq!((icmp.icmp_type, icmp.code, icmp.rest), (3, 3, [0; 4]));
    // RFC 792 / RFC 1122 3.2.2: the original IP header + at least its first 64 bits
    // of data; RFC 1812 4.3.2.3: as much as fits in 576 bytes, which here is all.
    assert_eq!(&icmp.data[..28], &original[..28]);
    assert_eq!(icmp.data, original);
    assert!(events(&mut s).is_empty());
    let c = s.counters();
    assert_eq!((c.udp_rx_no_port, c.icmp_tx_dest_unreachable), (1, 1));
}

#[test]
fn port_unreachable_quote_is_cut_to_576_bytes() {
    let mut s = stack();
    let original = udp_packet(PEER, US, 40000, 9999, &pattern(1200));
    s.input(ms(0), &original);
    let out = drain_parsed(&mut s);
    // RFC 1812 4.3.2.3: the whole error, IP header included, stays within 576 bytes.
    let whole_len = out[0].header.len() + out[0].payload.len();
    assert_eq!(whole_len, 576);
    let icmp = out[0].icmp();
    assert_eq!(icmp.data, original[..576 - 20 - 8]);
}

#[test]
fn port_unreachable_for_a_reassembled_datagram_quotes_a_rebuilt_header() {
    let mut s = stack();
    let segment = udp_segment(PEER, US, 40000, 9999, &pattern(3000));
    for f in fragments(PEER, US, PROTO_UDP, 0x7777, &segment, 1480) {
        s.input(ms(0), &f);
    }
    let out = drain_parsed(&mut s);
    assert_eq!(out.len(), 1);
    let icmp = out[0].icmp();
    assert_eq!((icmp.icmp_type, icmp.code), (3, 3));
    // The quote starts with the header the datagram would have had unfragmented:
    // same key, total length of the whole datagram, then the UDP header.
    let quoted = &icmp.data;
    assert_eq!(quoted[0], 0x45);
    assert!(checksum_ok(&quoted[..20]), "the rebuilt header has a valid checksum");
    assert_eq!(usize::from(u16::from_be_bytes([quoted[2], quoted[3]])), 20 + segment.len());
    assert_eq!(u16::from_be_bytes([quoted[4], quoted[5]]), 0x7777);
    assert_eq!((quoted[6] & 0x3f, quoted[7]), (0, 0), "no MF, offset 0");
    assert_eq!(quoted[9], PROTO_UDP);
    assert_eq!(&quoted[12..16], &PEER.octets());
    assert_eq!(&quoted[16..20], &US.octets());
    assert_eq!(&quoted[20..28], &segment[..8]);
    assert_eq!(quoted.len(), 576 - 20 - 8);
    let c = s.counters();
    assert_eq!((c.ip_frag_reassembled, c.udp_rx_no_port), (1, 1));
}

#[test]
fn icmp_errors_are_rate_limited_and_the_bucket_refills_with_time() {
    // A burst of 3, then one error per 100 ms (RFC 1812 4.3.2.8).
    let mut s = Stack::new(StackConfig { icmp_error_burst: 3, icmp_errors_per_sec: 10, ..StackConfig::default() });
    let stray = udp_packet(PEER, US, 40000, 9999, b"x");
    let t0 = 5_000;
    for _ in 0..5 {
        s.input(ms(t0), &stray);
    }
    assert_eq!(drain(&mut s).len(), 3, "the burst");
    assert_eq!(s.counters().icmp_tx_rate_limited, 2);

    s.input(ms(t0 + 99), &stray);
    assert!(drain(&mut s).is_empty(), "no token earned yet");
    s.input(ms(t0 + 100), &stray);
    assert_eq!(drain(&mut s).len(), 1, "one token per 100 ms");
    s.input(ms(t0 + 100), &stray);
    assert!(drain(&mut s).is_empty());

    // A long quiet period refills up to the burst, not beyond.
    for _ in 0..5 {
        s.input(ms(t0 + 60_000), &stray);
    }
    assert_eq!(drain(&mut s).len(), 3);
    let c = s.counters();
    assert_eq!(c.udp_rx_no_port, 13, "every stray datagram is still counted");
    assert_eq!(c.icmp_tx_dest_unreachable, 7);
    assert_eq!(c.icmp_tx_rate_limited, 6);
}

#[test]
fn no_icmp_error_for_a_broadcast_or_multicast_source() {
    let mut s = stack();
    // RFC 1122 3.2.1.3 / 3.2.2: a datagram from a broadcast, multicast, "this
    // network" or our own address is discarded, never answered with an ICMP error
    // (which would go to many hosts, or to ourselves).
    let sources = [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 1, 2, 3),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(0, 1, 2, 3),
        Ipv4Addr::LOCALHOST,
        US,
    ];
    for src in sources {
        s.input(ms(0), &udp_packet(src, US, 40000, 9999, b"x"));
    }
    assert!(drain(&mut s).is_empty());
    let c = s.counters();
    assert_eq!(c.ip_rx_bad_source, sources.len() as u64);
    assert_eq!((c.udp_rx, c.udp_rx_no_port, c.icmp_tx_dest_unreachable), (0, 0, 0));
}

// ---------------------------------------------------------------------------
// Bounded receive queues
// ---------------------------------------------------------------------------

#[test]
fn a_full_queue_drops_and_counts_per_socket_and_globally() {
    let mut s = Stack::new(StackConfig {
        udp_recv_queue: QueueLimit { datagrams: 2, bytes: 1 << 20 },
        ..StackConfig::default()
    });
    let h = bind(&mut s, 7);
    for n in 1..=3u8 {
        s.input(ms(0), &udp_packet(PEER, US, 40000, 7, &[n]));
    }
    // One readable event (it is pending once however many datagrams came), no
    // ICMP: a full queue is not a missing port.
    assert_eq!(events(&mut s), [Event::UdpReadable(h)]);
    assert!(drain(&mut s).is_empty());
    let info = &s.udp_sockets()[0];
    assert_eq!((info.queued_datagrams, info.received, info.dropped), (2, 2, 1));
    assert_eq!(s.counters().udp_rx_queue_full, 1);
    assert_eq!(s.counters().udp_rx_delivered, 2);
    // The oldest datagrams were kept.
    assert_eq!(&s.udp_recv(h).expect("first").data[..], [1]);
    assert_eq!(&s.udp_recv(h).expect("second").data[..], [2]);
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
}

#[test]
fn shrinking_a_queue_sheds_the_newest_and_counts_them() {
    let mut s = stack();
    let h = bind(&mut s, 7);
    for n in 1..=4u8 {
        s.input(ms(0), &udp_packet(PEER, US, 40000, 7, &[n; 10]));
    }
    let one = QueueLimit { datagrams: 1, bytes: 1 << 20 };
    s.udp_set_recv_queue(h, one).expect("open socket");
    let info = &s.udp_sockets()[0];
    assert_eq!((info.queued_datagrams, info.dropped, info.limit), (1, 3, one));
    assert_eq!(s.counters().udp_rx_queue_full, 3);
    assert_eq!(&s.udp_recv(h).expect("kept").data[..], [1; 10]);

    // The byte bound counts too: 15 bytes hold one 10-byte datagram, not two.
    s.udp_set_recv_queue(h, QueueLimit { datagrams: 8, bytes: 15 }).expect("open socket");
    s.input(ms(0), &udp_packet(PEER, US, 40000, 7, &[5; 10]));
    s.input(ms(0), &udp_packet(PEER, US, 40000, 7, &[6; 10]));
    assert_eq!(s.udp_sockets()[0].queued_bytes, 10);
    assert_eq!(s.counters().udp_rx_queue_full, 4);
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

#[test]
fn tcp_and_udp_port_namespaces_are_independent() {
    let mut s = stack();
    bind(&mut s, 7);
    assert_eq!(s.udp_ports().protocol(), Protocol::Udp);
    assert_eq!(s.tcp_ports().protocol(), Protocol::Tcp);
    // UDP 7 is bound; TCP 7 is a different port and still free.
    assert!(s.udp_ports().is_bound(7));
    assert!(!s.tcp_ports().is_bound(7));
    assert!(s.tcp_ports().is_empty());
}

#[test]
fn binding_a_taken_port_is_addr_in_use() {
    let mut s = stack();
    bind(&mut s, 7);
    assert_eq!(err_kind(s.udp_bind(sa(US, 7))), ErrorKind::AddrInUse);
    assert_eq!(err_kind(s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 7))), ErrorKind::AddrInUse);
    assert_eq!(s.udp_ports().len(), 1);
}

#[test]
fn port_zero_is_ephemeral_and_close_releases_it() {
    let mut s = stack();
    let h = s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 0)).expect("ephemeral port");
    let port = s.udp_local_addr(h).expect("open").port();
    // RFC 6335 §6: ephemeral ports come from the dynamic range.
    assert!((49152..=65535).contains(&port), "{port}");
    assert!(s.udp_ports().is_bound(port));
    s.udp_close(h);
    assert!(!s.udp_ports().is_bound(port));
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::NotConnected, "stale handle");
    // The port can be bound again, explicitly.
    bind(&mut s, port);
}

#[test]
fn privileged_ports_can_be_refused() {
    let mut config = StackConfig::default();
    config.ports.allow_privileged = false;
    let mut s = Stack::new(config);
    assert_eq!(err_kind(s.udp_bind(sa(US, 53))), ErrorKind::PermissionDenied);
    assert_eq!(err_kind(s.udp_bind(sa(US, 1023))), ErrorKind::PermissionDenied);
    bind(&mut s, 1024);
    assert!(!s.udp_ports().is_bound(53));
}

#[test]
fn binding_a_foreign_address_is_addr_not_available() {
    let mut s = stack();
    assert_eq!(err_kind(s.udp_bind(sa(Ipv4Addr::new(10, 0, 0, 1), 7))), ErrorKind::AddrNotAvailable);
    assert!(s.udp_ports().is_empty(), "a refused bind takes no port");
    bind(&mut s, 7);
    s.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 8)).expect("wildcard");
}

// ---------------------------------------------------------------------------
// Sizes and fragmentation
// ---------------------------------------------------------------------------

#[test]
fn a_payload_beyond_65507_bytes_is_invalid_input() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    let too_big = vec![0; MAX_PAYLOAD_V4 + 1];
    assert_eq!(too_big.len(), 65_508);
    assert_eq!(err_kind(s.udp_send_to(h, &too_big, sa(PEER, 7))), ErrorKind::InvalidInput);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.counters().udp_tx, 0);
}

#[test]
fn the_largest_datagram_is_fragmented_and_reassembles_to_the_original() {
    let mut a = stack();
    let h = bind(&mut a, 5000);
    let payload = pattern(MAX_PAYLOAD_V4);
    assert_eq!(a.udp_send_to(h, &payload, sa(PEER, 7)).expect("sent"), 65_507);
    let packets = drain(&mut a);
    // 8 + 65,507 bytes of UDP in 1,480-byte pieces (RFC 791 §2.3).
    assert!(packets.len() >= 45, "{} fragments", packets.len());
    let parsed: Vec<Sent> = packets.iter().map(|p| parse_sent(p)).collect();
    assert!(packets.iter().all(|p| p.len() <= 1500));
    assert!(parsed.iter().all(Sent::is_fragment));
    let c = a.counters();
    assert_eq!((c.ip_tx_fragmented, c.ip_tx_fragments), (1, packets.len() as u64));

    // The peer (addresses swapped) reassembles them into the original datagram.
    let mut b = Stack::new(StackConfig { addr: PEER, ..StackConfig::default() });
    let hb = b.udp_bind(sa(PEER, 7)).expect("bind");
    for p in packets.iter().rev() {
        b.input(ms(0), p);
    }
    let got = b.udp_recv(hb).expect("reassembled");
    assert_eq!(got.from, sa(US, 5000));
    assert_eq!(got.data.len(), payload.len());
    assert!(got.data == payload);
    assert_eq!(b.counters().ip_frag_reassembled, 1);
}

// ---------------------------------------------------------------------------
// Connected sockets and ICMP errors
// ---------------------------------------------------------------------------

#[test]
fn a_connected_socket_only_receives_from_its_peer() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    s.udp_connect(h, sa(PEER, 6000)).expect("connect");
    s.input(ms(0), &udp_packet(PEER, US, 6001, 5000, b"wrong port"));
    s.input(ms(0), &udp_packet(OTHER, US, 6000, 5000, b"wrong host"));
    s.input(ms(0), &udp_packet(PEER, US, 6000, 5000, b"the peer"));
    assert_eq!(events(&mut s), [Event::UdpReadable(h)]);
    let got = s.udp_recv(h).expect("from the peer");
    assert_eq!((&got.data[..], got.from), (&b"the peer"[..], sa(PEER, 6000)));
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
    // No socket takes the others, so they are handled like an unbound port.
    assert_eq!(s.counters().udp_rx_no_port, 2);
}

/// Send one datagram from `h` and return the exact packet that went out.
fn send_one(s: &mut Stack, h: super::UdpHandle, to: (Ipv4Addr, u16)) -> Vec<u8> {
    s.udp_send_to(h, b"probe", sa(to.0, to.1)).expect("sent");
    let mut out = drain(s);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[test]
fn port_unreachable_refuses_the_next_recv_of_a_connected_socket_once() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    s.udp_connect(h, sa(PEER, 6000)).expect("connect");
    let sent = send_one(&mut s, h, (PEER, 6000));
    // The peer's answer quotes our header + 8 bytes of our datagram (RFC 792).
    s.input(ms(0), &icmp_dest_unreachable(PEER, US, 3, &sent[..28]));

    // RFC 1122 4.1.3.3: UDP passes the ICMP error up to the application.
    assert_eq!(events(&mut s), [Event::UdpError(h)]);
    assert!(s.udp_can_recv(h));
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::ConnectionRefused);
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock, "reported once");
    assert!(drain(&mut s).is_empty(), "no ICMP error about an ICMP error");
    assert_eq!(s.counters().icmp_rx_dest_unreachable, 1);
}

#[test]
fn host_unreachable_is_reported_on_the_next_send() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    s.udp_connect(h, sa(PEER, 6000)).expect("connect");
    let sent = send_one(&mut s, h, (PEER, 6000));
    // A router's error (another source) quoting our datagram counts too.
    s.input(ms(0), &icmp_dest_unreachable(OTHER, US, 1, &sent[..28]));
    assert_eq!(err_kind(s.udp_send(h, b"again")), ErrorKind::HostUnreachable);
    assert_eq!(s.udp_send(h, b"again").expect("error was taken"), 5);
}

#[test]
fn icmp_errors_are_ignored_by_unconnected_sockets_and_for_other_peers() {
    let mut s = stack();
    let open = bind(&mut s, 5000);
    let sent = send_one(&mut s, open, (PEER, 6000));
    s.input(ms(0), &icmp_dest_unreachable(PEER, US, 3, &sent[..28]));

    let connected = bind(&mut s, 5001);
    s.udp_connect(connected, sa(PEER, 6000)).expect("connect");
    let elsewhere = send_one(&mut s, connected, (PEER, 6001));
    s.input(ms(0), &icmp_dest_unreachable(PEER, US, 3, &elsewhere[..28]));

    // Like Linux: an unconnected socket cannot tell which peer refused, and a
    // connected one only hears about its own peer.
    assert!(events(&mut s).is_empty());
    assert_eq!(err_kind(s.udp_recv(open)), ErrorKind::WouldBlock);
    assert_eq!(err_kind(s.udp_recv(connected)), ErrorKind::WouldBlock);
    assert_eq!(s.counters().icmp_rx_dest_unreachable, 2);
}

#[test]
fn connect_clears_a_pending_error() {
    let mut s = stack();
    let h = bind(&mut s, 5000);
    s.udp_connect(h, sa(PEER, 6000)).expect("connect");
    let sent = send_one(&mut s, h, (PEER, 6000));
    s.input(ms(0), &icmp_dest_unreachable(PEER, US, 3, &sent[..28]));
    s.udp_connect(h, sa(PEER, 6001)).expect("reconnect");
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
}

// ---------------------------------------------------------------------------
// What the link vouches for (RxChecksum)
// ---------------------------------------------------------------------------

/// A datagram whose checksum field holds only the pseudo-header sum — what the
/// kernel hands a TUN with offloads — is dropped as a bad checksum when the
/// stack verifies, and delivered when the link vouches for it. A datagram
/// reassembled from fragments is verified whatever its last fragment's link
/// said.
#[test]
fn a_vouched_checksum_is_not_verified_but_a_reassembled_one_is() {
    use crate::shared::RxChecksum;
    let mut s = stack();
    let h = bind(&mut s, 5000);
    let mut partial = udp_packet(PEER, US, 40000, 5000, b"left to hardware");
    partial[20 + 6..20 + 8].copy_from_slice(&[0x12, 0x34]);
    s.input(ms(0), &partial);
    assert_eq!(s.counters().udp_rx_bad_checksum, 1, "verified: the field is not a checksum");
    s.input_with(ms(1), &partial, RxChecksum::Vouched);
    assert_eq!(&s.udp_recv(h).expect("delivered").data[..], b"left to hardware");
    assert_eq!(s.counters().udp_rx_bad_checksum, 1);

    let mut segment = udp_segment(PEER, US, 40000, 5000, &pattern(600));
    segment[6..8].copy_from_slice(&[0x12, 0x34]);
    let pieces = fragments(PEER, US, crate::wire::ip_protocol::UDP, 77, &segment, 304);
    let (last, first) = pieces.split_last().expect("fragments");
    for piece in first {
        s.input(ms(2), piece);
    }
    s.input_with(ms(3), last, RxChecksum::Vouched);
    assert_eq!(s.counters().ip_frag_reassembled, 1);
    assert_eq!(s.counters().udp_rx_bad_checksum, 2, "the reassembled datagram was verified");
    assert_eq!(err_kind(s.udp_recv(h)), ErrorKind::WouldBlock);
}
