//! LISTEN (RFC 9293 §3.10.7.2): the answers to stray segments, and the bounded
//! queues of half-open and unaccepted connections (see `listener.rs`).

use std::time::Duration;

use super::harness::*;
use super::segment::{mss, seg};
use crate::config::{StackConfig, SynCookies};
use crate::tcp::State;

/// The peer's SYN from `peer_port` and the stack's SYN,ACK to it.
fn syn_and_syn_ack(h: &mut Harness, peer_port: u16) {
    h.peer_port = peer_port;
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
}

#[test]
fn ack_to_a_listener_gets_rst_and_rst_is_ignored() {
    let mut h = Harness::new();
    h.listen(8);
    // §3.10.7.2: "any acknowledgment is bad if it arrives on a connection still in
    // the LISTEN state": <SEQ=SEG.ACK><CTL=RST>. A RST is ignored.
    h.send(seg(".", PEER_ISS).ack(4321).win(PEER_WIN));
    h.expect(seg("R", 4321));
    h.send(seg("R", PEER_ISS));
    // Neither a SYN nor an ACK nor a RST: dropped.
    h.send(seg("P", PEER_ISS).data(b"hello?"));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_connection_count(), 0);
}

#[test]
fn syns_beyond_the_syn_backlog_are_dropped_and_counted_without_cookies() {
    let mut config = StackConfig::default();
    config.tcp.syn_backlog = 2;
    config.tcp.syn_cookies = SynCookies::Off;
    let mut h = Harness::with_config(config);
    h.listen(8);
    syn_and_syn_ack(&mut h, 40001);
    syn_and_syn_ack(&mut h, 40002);
    // Two connections are half open: a third SYN is dropped without an answer (the
    // client will retransmit it), and counted.
    h.peer_port = 40003;
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect_nothing();
    assert_eq!(h.conn(), None);
    assert_eq!(h.stack.counters().tcp_listen_overflow, 1);

    // One handshake completes, which frees a half-open slot.
    h.peer_port = 40001;
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    assert_eq!(h.state(), Some(State::Established));
    syn_and_syn_ack(&mut h, 40003);
}

#[test]
fn syns_beyond_the_accept_backlog_are_dropped_until_accept() {
    let mut h = Harness::new();
    let listener = h.listen(1);
    syn_and_syn_ack(&mut h, 40001);
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    // The accept queue (backlog 1) is full: like Linux, new SYNs are dropped.
    h.peer_port = 40002;
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect_nothing();
    assert_eq!(h.stack.counters().tcp_listen_overflow, 1);

    h.stack.tcp_accept(listener).expect("the first connection");
    h.advance(Duration::from_secs(1));
    syn_and_syn_ack(&mut h, 40002);
}

/// Two handshakes run at once with room for one unaccepted connection: the second
/// to complete finds the queue full. Like Linux by default (`tcp_abort_on_overflow
/// = 0`) the stack drops that ACK and stays in SYN-RECEIVED; once `accept` made
/// room, the peer's next segment completes the handshake.
#[test]
fn handshake_completing_into_a_full_accept_queue_waits_for_room() {
    let mut h = Harness::new();
    let listener = h.listen(1);
    syn_and_syn_ack(&mut h, 40001);
    syn_and_syn_ack(&mut h, 40002);
    h.peer_port = 40001;
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::Established));

    h.peer_port = 40002;
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::SynReceived), "the ACK was dropped, not answered");
    assert_eq!(h.stack.counters().tcp_listen_overflow, 1);

    h.stack.tcp_accept(listener).expect("the first connection waits for accept");
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::Established));
    h.stack.tcp_accept(listener).expect("now the second one is accepted");
}
