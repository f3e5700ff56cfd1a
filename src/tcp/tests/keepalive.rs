//! Noticing a dead peer without data to send: keepalive (RFC 1122 4.2.3.6, with
//! Linux's idle / interval / count meanings) and the user timeout (RFC 5482).

use std::io::ErrorKind;
use std::time::Duration;

use super::harness::*;
use super::segment::seg;
use crate::tcp::{Keepalive, State};
use crate::testutil::drain;

const KEEPALIVE: Keepalive =
    Keepalive { enabled: true, idle: Duration::from_secs(10), interval: Duration::from_secs(2), probes: 3 };

/// The probe: no data, one byte below SND.UNA, so the peer must answer with an ACK.
fn probe() -> super::segment::Seg {
    seg(".", 0).ack(PEER_ISS + 1).win(WIN)
}

#[test]
fn keepalive_is_off_unless_asked_for() {
    let mut h = Harness::new();
    let conn = h.established_active();
    assert_eq!(h.next_timer(), None, "an idle connection without keepalive has no timer");
    assert!(!h.stack.tcp_keepalive(conn).expect("open").enabled);
}

/// A silent peer is given up `idle + probes × interval` after it last spoke: the
/// probes go at 10, 12 and 14 s, and at 16 s the connection resets (as Linux)
/// and fails with `TimedOut`.
#[test]
fn an_idle_connection_probes_after_the_idle_time_and_gives_up_after_the_count() {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_set_keepalive(h.now, conn, KEEPALIVE).expect("open");
    for wait in [10, 2, 2] {
        assert_eq!(h.run_next_timer(), Duration::from_secs(wait));
        h.expect(probe());
        assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    }
    assert_eq!(h.run_next_timer(), Duration::from_secs(2));
    h.expect(seg("R.", 1).ack(PEER_ISS + 1).win(0));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    let mut buf = [0; 4];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect_err("gone").kind(), ErrorKind::TimedOut);
    let c = h.stack.counters();
    assert_eq!((c.tcp_keepalive_probes, c.tcp_timeouts), (3, 1));
}

/// The peer's answer to a probe proves it alive: the count starts over, and the
/// next probe waits the whole idle time again.
#[test]
fn an_answered_probe_starts_the_idle_time_again() {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_set_keepalive(h.now, conn, KEEPALIVE).expect("open");
    assert_eq!(h.run_next_timer(), Duration::from_secs(10));
    h.expect(probe());
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.next_timer(), Some(Duration::from_secs(10)));
    for wait in [10, 2, 2] {
        assert_eq!(h.run_next_timer(), Duration::from_secs(wait));
        h.expect(probe());
    }
    assert_eq!(h.stack.counters().tcp_keepalive_probes, 4);
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}

/// RFC 5482: sent data unacknowledged for the user timeout ends the connection
/// then, however many retransmissions the retry limit would still allow.
#[test]
fn the_user_timeout_ends_a_connection_whose_data_stays_unacknowledged() {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_set_user_timeout(h.now, conn, Some(Duration::from_secs(3))).expect("open");
    let sent_at = h.now;
    h.stack.tcp_send(h.now, conn, b"hello").expect("buffered");
    drain(&mut h.stack);
    while h.stack.tcp_state(conn) == Some(State::Established) {
        h.run_next_timer();
        drain(&mut h.stack);
    }
    assert_eq!(h.now.saturating_duration_since(sent_at), Duration::from_secs(3), "exactly the user timeout");
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    let mut buf = [0; 4];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect_err("gone").kind(), ErrorKind::TimedOut);
}

/// An ACK of new data restarts the user timeout; with nothing in flight it stops.
#[test]
fn progress_restarts_the_user_timeout_and_an_idle_connection_has_none() {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_set_user_timeout(h.now, conn, Some(Duration::from_secs(3))).expect("open");
    assert_eq!(h.next_timer(), None, "nothing in flight, nothing to time");
    h.stack.tcp_send(h.now, conn, b"hello").expect("buffered");
    h.expect(seg(".P", 1).ack(PEER_ISS + 1).win(WIN).data(b"hello"));
    h.advance(Duration::from_millis(100));
    h.send(seg(".", PEER_ISS + 1).ack(6).win(PEER_WIN));
    assert_eq!(h.next_timer(), None, "all acknowledged: the user timeout stopped");
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}
