//! Resets (RFC 9293 §3.5.2, §3.10.7; RFC 5961): which RSTs are believed, the
//! challenge ACKs that answer the rest and a SYN in a synchronized state, the RST
//! for a segment nobody listens for, and the RSTs the stack sends when a program
//! aborts or closes with unread data.

use std::io::ErrorKind;

use super::harness::*;
use super::segment::seg;
use crate::shared::Event;
use crate::tcp::State;

#[test]
fn rst_at_rcv_nxt_resets_the_connection() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("R", PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    assert!(h.events().contains(&Event::Tcp(conn)), "the program hears of it");
    let err = h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect_err("reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let c = h.stack.counters();
    assert_eq!((c.tcp_rx_rst, c.tcp_resets), (1, 1));
}

#[test]
fn rst_in_window_but_not_at_rcv_nxt_gets_a_challenge_ack() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    // RFC 5961 §3.2: a blind attacker must now guess RCV.NXT exactly; the real
    // peer answers the challenge ACK with a RST at the right number.
    h.send(seg("R", PEER_ISS + 1 + 1000));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    assert_eq!(h.stack.counters().tcp_challenge_acks, 1);
    h.send(seg("R", PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
}

#[test]
fn rst_outside_the_window_is_ignored() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    // §3.10.7.4 "first": an unacceptable RST is dropped without an answer.
    h.send(seg("R", PEER_ISS + 1 + u32::from(WIN) + 1));
    h.send(seg("R", PEER_ISS));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    let c = h.stack.counters();
    assert_eq!((c.tcp_rx_out_of_window, c.tcp_challenge_acks, c.tcp_rx_rst), (2, 0, 0));
}

#[test]
fn syn_in_established_gets_a_challenge_ack() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    // RFC 5961 §4.2: whatever its sequence number, a SYN in a synchronized state
    // is answered with an ACK and never resets the connection. In the window it
    // is a challenge ACK…
    h.send(seg("S", PEER_ISS + 500).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.counters().tcp_challenge_acks, 1);
    // …outside it, the ACK for any unacceptable segment.
    h.send(seg("S", PEER_ISS - 500).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.counters().tcp_rx_out_of_window, 1);
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}

#[test]
fn segments_to_a_closed_port_are_answered_with_rst() {
    // A fresh stack with nothing on any port; the harness has seen no SYN, so all
    // numbers below are absolute.
    let mut h = Harness::new();
    // RFC 9293 §3.10.7.1: without ACK, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>,
    // where SYN and FIN count in SEG.LEN…
    h.send(seg("S", PEER_ISS).win(PEER_WIN));
    h.expect(seg("R.", 0).ack(PEER_ISS + 1));
    assert_eq!(h.dropped.map(crate::DropReason::as_str), Some("tcp no socket"));
    h.send(seg("P", PEER_ISS).win(PEER_WIN).data(b"0123456789"));
    h.expect(seg("R.", 0).ack(PEER_ISS + 10));
    h.send(seg("F", PEER_ISS).win(PEER_WIN).data(b"abc"));
    h.expect(seg("R.", 0).ack(PEER_ISS + 4));
    // …with ACK, <SEQ=SEG.ACK><CTL=RST>, which the sender will find acceptable.
    h.send(seg(".", PEER_ISS).ack(5555).win(PEER_WIN));
    h.expect(seg("R", 5555));
    h.send(seg("FP.", PEER_ISS).ack(7777).win(PEER_WIN).data(b"xyz"));
    h.expect(seg("R", 7777));
    // A RST is never answered.
    h.send(seg("R", PEER_ISS));
    h.send(seg("R.", PEER_ISS).ack(9));
    h.expect_nothing();
    let c = h.stack.counters();
    assert_eq!((c.tcp_rx_no_socket, c.tcp_tx_rst), (7, 5));
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"unread"));
    h.expect_nothing();
    // RFC 1122 4.2.2.13 (and RFC 9293 §3.6): data the program will never read must
    // not look delivered, so CLOSE becomes a reset. Like Linux the RST carries an
    // ACK (RFC 9293 §3.10.5 shows a bare <SEQ=SND.NXT><CTL=RST>).
    h.stack.tcp_close(h.now, conn);
    h.expect(seg("R.", 1).ack(PEER_ISS + 7));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.next_timer(), None, "the delayed ACK went with the connection");

    // What the peer sends next finds no connection.
    h.send(seg("P.", PEER_ISS + 7).ack(1).win(PEER_WIN).data(b"more"));
    h.expect(seg("R", 1));
}

#[test]
fn data_after_close_sends_rst() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    // RFC 1122 4.2.2.13 again: nobody will read this data, so say so.
    h.send(seg("P.", PEER_ISS + 1).ack(2).win(PEER_WIN).data(b"too late"));
    h.expect(seg("R.", 2).ack(PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.stack.counters().tcp_rx_data_after_close, 1);
}

#[test]
fn abort_sends_rst() {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_send(h.now, conn, b"queued").expect("room");
    h.expect(seg("P.", 1).ack(PEER_ISS + 1).win(WIN).data(b"queued"));
    // RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, everything dropped.
    h.stack.tcp_abort(h.now, conn);
    h.expect(seg("R.", 7).ack(PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
    assert_eq!(h.next_timer(), None, "no retransmission of the dropped data");
}

/// A RST that closes a connection with an ACK still pending leaves no timer
/// behind: the connection only waits for its program to let go. (Found by the
/// `tcp_conn` fuzz target: the pending ACK of the closed connection stayed due
/// and `handle_timeout` spun on it forever.)
#[test]
fn rst_with_an_ack_pending_leaves_no_timer() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"x"));
    assert!(h.next_timer().is_some(), "the delayed ACK is armed");
    h.send(seg("R", PEER_ISS + 2).win(0));
    h.expect_nothing();
    assert_eq!(h.next_timer(), None, "a closed connection has no timers");
    h.advance(std::time::Duration::from_secs(1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut [0; 4]).expect("the byte before the reset"), 1);
}
