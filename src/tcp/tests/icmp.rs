//! ICMP errors for TCP (RFC 1122 4.2.3.9, RFC 5461, RFC 5927): a destination
//! unreachable quoting one of our segments ends a connection attempt, is kept as a
//! soft error once synchronized, and is dropped unless it quotes a connection and a
//! sequence number in flight.

use std::io::ErrorKind;
use std::time::Duration;

use super::harness::*;
use super::segment::{mss, sack_perm, seg, to_packet, ts, ws};
use crate::config::StackConfig;
use crate::tcp::State;
use crate::testutil::{drain, icmp_dest_unreachable, OTHER, PEER, US};

/// A router's destination unreachable with `code` quoting the first 28 bytes of the
/// segment the stack sent at relative sequence number `seq` on the script's
/// 4-tuple (IP header + 8 bytes of TCP, as RFC 792 asks at least).
fn unreachable_for(h: &Harness, code: u8, seq: u32) -> Vec<u8> {
    let ours = to_packet(&seg(".", h.iss().wrapping_add(seq)).win(WIN), US, h.port, PEER, h.peer_port);
    icmp_dest_unreachable(OTHER, US, code, &ours[..28])
}

fn connecting() -> (Harness, crate::shared::TcpHandle) {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    (h, conn)
}

#[test]
fn port_unreachable_during_syn_sent_refuses_the_connection() {
    let (mut h, conn) = connecting();
    let icmp = unreachable_for(&h, 3, 0);
    assert_eq!(h.stack.input(h.now, &icmp), None, "taken in");
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    assert_eq!(h.stack.tcp_connect_status(conn).expect_err("refused").kind(), ErrorKind::ConnectionRefused);
    assert_eq!(h.next_timer(), None, "no more SYNs");
    h.expect_nothing();
    assert_eq!(h.stack.counters().tcp_icmp_aborts, 1);
}

/// RFC 5461: a soft error ends a pending connection too, so `connect` learns of
/// an unreachable host in one round trip instead of after every SYN retry.
#[test]
fn host_unreachable_during_syn_sent_ends_the_attempt_with_that_error() {
    let (mut h, conn) = connecting();
    h.stack.input(h.now, &unreachable_for(&h, 1, 0));
    assert_eq!(h.stack.tcp_connect_status(conn).expect_err("unreachable").kind(), ErrorKind::HostUnreachable);
}

/// RFC 5927 §4.1: a sequence number not in flight marks a forged or stale error.
#[test]
fn an_error_quoting_a_sequence_number_not_in_flight_is_dropped() {
    let (mut h, conn) = connecting();
    for seq in [1, 1000, u32::MAX] {
        let verdict = h.stack.input(h.now, &unreachable_for(&h, 3, seq));
        assert_eq!(verdict.map(|r| r.as_str()), Some("tcp icmp out of window"), "seq {seq}");
    }
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent), "the attempt goes on");
    assert_eq!(h.stack.counters().tcp_rx_icmp_out_of_window, 3);
}

#[test]
fn an_error_for_no_connection_is_dropped() {
    let (mut h, conn) = connecting();
    h.peer_port += 1;
    let verdict = h.stack.input(h.now, &unreachable_for(&h, 3, 0));
    assert_eq!(verdict.map(|r| r.as_str()), Some("tcp icmp for no connection"));
    assert_eq!(h.stack.counters().tcp_rx_icmp_unmatched, 1);
    h.peer_port -= 1;
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent));
}

/// Once synchronized every error is soft (RFC 5927 §7): the connection carries on,
/// and only if it later times out does the program hear the error (Linux's
/// `sk_err_soft`) instead of a bare `TimedOut`.
#[test]
fn an_error_on_an_established_connection_is_soft_and_explains_a_later_timeout() {
    let mut config = StackConfig::default();
    config.tcp.max_retries = 2;
    let mut h = Harness::with_config(config);
    let conn = h.established_active();
    h.stack.tcp_send(h.now, conn, b"hello").expect("buffered");
    drain(&mut h.stack);
    let verdict = h.stack.input(h.now, &unreachable_for(&h, 3, 1));
    assert_eq!(verdict, None);
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established), "a hard error is soft once synchronized");
    assert_eq!(h.stack.counters().tcp_icmp_soft_errors, 1);
    for _ in 0..10 {
        h.advance(Duration::from_secs(60));
        drain(&mut h.stack);
    }
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    let mut buf = [0; 8];
    let err = h.stack.tcp_recv(h.now, conn, &mut buf).expect_err("timed out");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "the soft error, not TimedOut");
}
