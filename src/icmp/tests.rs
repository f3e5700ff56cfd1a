//! ICMP through the whole core: echo, and what must never be answered.

use crate::testutil::*;

#[test]
fn echo_request_gets_an_echo_reply_with_the_same_id_seq_and_data() {
    let mut s = stack();
    s.input(ms(0), &icmp_echo_request(PEER, US, 0xbeef, 17, b"ping payload"));
    let out = drain_parsed(&mut s);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].src, out[0].dst, out[0].protocol), (US, PEER, PROTO_ICMP));
    let reply = out[0].icmp();
    // RFC 792 / RFC 1122 3.2.2.6: type 0, code 0, identifier, sequence number and
    // data returned unchanged.
    assert_eq!((reply.icmp_type, reply.code), (0, 0));
    assert_eq!(reply.echo_id_seq(), (0xbeef, 17));
    assert_eq!(reply.data, b"ping payload");
    let c = s.counters();
    assert_eq!((c.icmp_rx, c.icmp_rx_echo_request, c.icmp_tx_echo_reply), (1, 1, 1));
    assert!(events(&mut s).is_empty());
}

#[test]
fn empty_echo_is_answered_too() {
    let mut s = stack();
    s.input(ms(0), &icmp_echo_request(PEER, US, 1, 2, &[]));
    let reply = drain_parsed(&mut s)[0].icmp();
    assert_eq!((reply.icmp_type, reply.echo_id_seq(), reply.data.len()), (0, (1, 2), 0));
}

#[test]
fn fragmented_echo_is_reassembled_and_the_reply_is_fragmented() {
    let mut s = stack();
    let data = pattern(4000);
    let request = icmp_echo_message(7, 99, &data);
    // Fragments arrive out of order (RFC 791 §3.2: reassembly places them by offset).
    let mut pieces = fragments(PEER, US, PROTO_ICMP, 0x5151, &request, 1200);
    pieces.reverse();
    for p in &pieces {
        s.input(ms(0), p);
    }
    assert_eq!(s.counters().ip_frag_reassembled, 1);

    let out = drain_parsed(&mut s);
    // 8 + 4,000 bytes of ICMP in 1,480-byte pieces: 3 fragments within the MTU.
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|p| p.header.len() + p.payload.len() <= 1500));
    assert!(out.iter().all(|p| (p.src, p.dst) == (US, PEER)));
    let reply = parse_icmp(&reassemble(&out));
    assert_eq!((reply.icmp_type, reply.code), (0, 0));
    assert_eq!(reply.echo_id_seq(), (7, 99));
    assert_eq!(reply.data, data);
    let c = s.counters();
    assert_eq!((c.ip_tx_fragmented, c.ip_tx_fragments), (1, 3));
}

#[test]
fn corrupt_or_truncated_icmp_is_dropped_without_answer() {
    let mut s = stack();
    let mut bad = icmp_echo_request(PEER, US, 1, 1, b"abcd");
    bad[30] ^= 0x01; // a data byte: the ICMP checksum no longer verifies
    s.input(ms(0), &bad);
    s.input(ms(0), &ip_packet(PEER, US, PROTO_ICMP, 1, &[8, 0, 0]));
    assert!(drain(&mut s).is_empty());
    let c = s.counters();
    assert_eq!((c.icmp_rx_bad_checksum, c.icmp_rx_truncated), (1, 1));
    assert_eq!(c.icmp_tx_echo_reply, 0);
}

#[test]
fn no_icmp_message_is_ever_answered_with_an_icmp_error() {
    let mut s = stack();
    // RFC 1122 3.2.2: never send an ICMP error about an ICMP error (here: about any
    // ICMP message other than an echo request, which only gets its echo reply).
    let quoted = udp_packet(US, PEER, 5000, 6000, b"x");
    let messages = [
        icmp_packet(PEER, US, 0, 0, [0, 1, 0, 1], b"echo reply"),
        icmp_packet(PEER, US, 3, 3, [0; 4], &quoted[..28]), // for a port with no socket
        icmp_packet(PEER, US, 3, 15, [0; 4], &quoted[..28]), // a code UDP ignores
        icmp_packet(PEER, US, 3, 3, [0; 4], b"not a header"),
        icmp_packet(PEER, US, 5, 1, [198, 18, 0, 7], &quoted[..28]), // redirect
        icmp_packet(PEER, US, 11, 0, [0; 4], &quoted[..28]),         // time exceeded
        icmp_packet(PEER, US, 42, 0, [0; 4], b"unknown type"),
    ];
    for m in &messages {
        s.input(ms(0), m);
    }
    assert!(drain(&mut s).is_empty());
    assert!(events(&mut s).is_empty());
    let c = s.counters();
    assert_eq!(c.icmp_rx, messages.len() as u64);
    assert_eq!((c.icmp_rx_dest_unreachable, c.icmp_rx_ignored), (3, 4));
    assert_eq!((c.icmp_tx_dest_unreachable, c.icmp_tx_rate_limited), (0, 0));
}

#[test]
fn echo_request_from_a_broadcast_source_is_not_answered() {
    let mut s = stack();
    // RFC 1122 3.2.1.3: such a source is not a host we could answer.
    s.input(ms(0), &icmp_echo_request(std::net::Ipv4Addr::BROADCAST, US, 1, 1, b"smurf"));
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.counters().ip_rx_bad_source, 1);
    assert_eq!(s.counters().icmp_rx, 0);
}
