//! Closing a connection (RFC 9293 §3.6, §3.10.4): active close through FIN-WAIT-1,
//! FIN-WAIT-2 and TIME-WAIT; passive close through CLOSE-WAIT and LAST-ACK;
//! simultaneous close through CLOSING; and half-closed connections in which data
//! still flows one way; and CLOSE before the handshake is done.

use std::net::Shutdown;
use std::time::Duration;

use super::harness::*;
use super::segment::{mss, sack_perm, seg, ts, ws};
use crate::config::StackConfig;
use crate::tcp::State;

/// A stack whose TIME-WAIT lasts 2 × 1 s.
fn short_msl() -> Harness {
    let mut config = StackConfig::default();
    config.tcp.msl = Duration::from_secs(1);
    Harness::with_config(config)
}

/// Whether the connection is in TIME-WAIT.
fn in_time_wait(h: &Harness) -> bool {
    matches!(h.state(), Some(State::TimeWait))
}

#[test]
fn active_close_fin_wait_1_fin_wait_2_time_wait_closed() {
    let mut h = short_msl();
    let conn = h.established_passive();
    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.state(), Some(State::FinWait1));

    // The peer acknowledges our FIN (SEQ 1 took one number: SND.NXT is 2).
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::FinWait2));

    // The peer's FIN: acknowledged at once, and we wait 2×MSL (RFC 9293 §3.6).
    h.send(seg("F.", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert!(in_time_wait(&h));
    assert_eq!(h.next_timer(), Some(Duration::from_secs(2)));

    h.advance(Duration::from_secs(2) - Duration::from_micros(1));
    assert!(in_time_wait(&h), "not a microsecond early");
    h.advance(Duration::from_micros(1));
    h.expect_nothing();
    // The program let go with `close`, so the connection is gone entirely.
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.stack.tcp_connection_count(), 0);
    assert_eq!(h.next_timer(), None);
}

#[test]
fn fin_wait_1_fin_with_ack_of_our_fin_goes_to_time_wait() {
    let mut h = short_msl();
    let conn = h.established_active();
    h.stack.tcp_shutdown(h.now, conn, Shutdown::Write).expect("open");
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    // One segment both acknowledges our FIN and carries the peer's: the ACK moves
    // us to FIN-WAIT-2, the FIN on to TIME-WAIT (§3.10.7.4 "fifth", "eighth").
    h.send(seg("F.", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert!(in_time_wait(&h));

    // `shutdown` kept the handle: after 2MSL it reads end-of-file in CLOSED.
    h.run_next_timer();
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect("end of stream"), 0);
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut h = short_msl();
    let conn = h.established_passive();
    h.stack.tcp_shutdown(h.now, conn, Shutdown::Write).expect("open");
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    // RFC 9293 §3.6 figure 13: the peer's FIN crosses ours — it does not
    // acknowledge our FIN yet.
    h.send(seg("F.", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert_eq!(h.state(), Some(State::Closing));
    // The ACK of our FIN arrives.
    h.send(seg(".", PEER_ISS + 2).ack(2).win(PEER_WIN));
    h.expect_nothing();
    assert!(in_time_wait(&h));
    assert_eq!(h.next_timer(), Some(Duration::from_secs(2)));
}

#[test]
fn passive_close_close_wait_last_ack_closed() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("F.", PEER_ISS + 1).ack(1).win(PEER_WIN));
    // A FIN is acknowledged at once, not delayed.
    h.expect(seg(".", 1).ack(PEER_ISS + 2).win(WIN));
    assert_eq!(h.state(), Some(State::CloseWait));
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect("end of stream"), 0);

    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 1).ack(PEER_ISS + 2).win(WIN));
    assert_eq!(h.state(), Some(State::LastAck));
    h.send(seg(".", PEER_ISS + 2).ack(2).win(PEER_WIN));
    h.expect_nothing();
    // No TIME-WAIT for the side that closed second.
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.next_timer(), None);
}

#[test]
fn close_wait_still_sends_data() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("F.", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 2).win(WIN));

    // Half-closed: the peer is done sending, we are not.
    h.stack.tcp_send(h.now, conn, b"last words").expect("CLOSE-WAIT may send");
    h.expect(seg("P.", 1).ack(PEER_ISS + 2).win(WIN).data(b"last words"));
    h.send(seg(".", PEER_ISS + 2).ack(11).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::CloseWait));

    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 11).ack(PEER_ISS + 2).win(WIN));
    h.send(seg(".", PEER_ISS + 2).ack(12).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
}

#[test]
fn fin_wait_2_still_receives_data() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.stack.tcp_shutdown(h.now, conn, Shutdown::Write).expect("open");
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    assert_eq!(h.state(), Some(State::FinWait2));

    // Half-closed the other way: the peer keeps sending. The ACK is delayed (RFC
    // 1122 4.2.3.2), here by the default 40 ms.
    h.send(seg("P.", PEER_ISS + 1).ack(2).win(PEER_WIN).data(b"more"));
    h.expect_nothing();
    let mut buf = [0; 8];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect("data"), 4);
    assert_eq!(&buf[..4], b"more");
    assert_eq!(h.run_next_timer(), Duration::from_millis(40));
    h.expect(seg(".", 2).ack(PEER_ISS + 5).win(WIN));

    h.send(seg("F.", PEER_ISS + 5).ack(2).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 6).win(WIN));
    assert!(in_time_wait(&h));
}

#[test]
fn fin_is_retransmitted_in_fin_wait_1() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    // Lost: it goes again after one RTO. The handshake measured an RTT of 0 (the
    // script answers instantly), so the RTO is its 200 ms floor (`RtoConfig::min`,
    // Linux's value; RFC 6298 §2.4 says 1 s).
    assert_eq!(h.run_next_timer(), Duration::from_millis(200));
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.state(), Some(State::FinWait1));
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::FinWait2));
}

#[test]
fn close_in_syn_sent_just_ends() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 9293 §3.10.4, SYN-SENT: "delete the TCB" — nothing to tell the peer.
    h.stack.tcp_close(h.now, conn);
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.next_timer(), None, "no more SYN retransmissions");
}

#[test]
fn close_in_syn_received_sends_fin() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    // RFC 9293 §3.10.4, SYN-RECEIVED with nothing queued: send FIN and enter
    // FIN-WAIT-1 (the FIN follows the SYN, at ISS+1).
    h.stack.tcp_shutdown(h.now, conn, Shutdown::Write).expect("open");
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.tcp_state(conn), Some(State::FinWait1));
    // One ACK covers our SYN and FIN.
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::FinWait2));
}
