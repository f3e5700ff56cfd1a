//! TIME-WAIT (RFC 9293 §3.6, §3.10.7.4): the 2MSL wait, the answer to a
//! retransmitted FIN, and reuse of the 4-tuple by a new SYN (RFC 9293 §3.6.1,
//! RFC 6191).

use std::time::Duration;

use super::harness::*;
use super::segment::{mss, seg};
use crate::config::StackConfig;
use crate::shared::TcpHandle;
use crate::tcp::State;

/// A server-side connection (from a listener on [`PORT`]) that closed first and now
/// sits in TIME-WAIT, with 2MSL = 2 s. The stack's SND.NXT is 2, its RCV.NXT 1002.
fn server_in_time_wait() -> (Harness, TcpHandle) {
    let mut config = StackConfig::default();
    config.tcp.msl = Duration::from_secs(1);
    let mut h = Harness::with_config(config);
    let conn = h.established_passive();
    h.stack.tcp_close(h.now, conn);
    h.expect(seg("F.", 1).ack(PEER_ISS + 1).win(WIN));
    h.send(seg("F.", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert!(matches!(h.state(), Some(State::TimeWait)));
    (h, conn)
}

#[test]
fn retransmitted_fin_is_acknowledged_again_and_restarts_2msl() {
    let (mut h, conn) = server_in_time_wait();
    h.advance(Duration::from_millis(1500));
    // Our last ACK was lost, so the peer sends its FIN again. TIME-WAIT exists for
    // exactly this: acknowledge it and restart the 2MSL timeout (§3.10.7.4 "eighth").
    h.send(seg("F.", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert_eq!(h.next_timer(), Some(Duration::from_secs(2)));

    h.advance(Duration::from_millis(1999));
    assert!(matches!(h.state(), Some(State::TimeWait)));
    h.advance(Duration::from_millis(1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), None);
}

#[test]
fn new_syn_above_the_old_sequence_space_reuses_the_tuple() {
    let (mut h, old) = server_in_time_wait();
    let old_iss = h.iss();
    h.advance(Duration::from_millis(10));
    // RFC 9293 §3.6.1 / RFC 6191: a SYN whose SEQ is above the old connection's
    // RCV.NXT cannot be confused with it, so the TIME-WAIT ends at once and the
    // listener takes the SYN.
    let new_iss = PEER_ISS + 100_000;
    h.send(seg("S", new_iss).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(new_iss + 1).win(WIN).opts([mss(OUR_MSS)]));
    assert_eq!(h.stack.tcp_state(old), None, "the TIME-WAIT connection is gone");
    assert_eq!(h.state(), Some(State::SynReceived));
    assert_ne!(h.conn(), Some(old));
    // The new ISS comes from a clock that ran on (RFC 6528): it lies beyond every
    // sequence number of the old connection (which ended at ISS + 2).
    assert!(crate::tcp::seq::SeqNumber(h.iss()) > crate::tcp::seq::SeqNumber(old_iss) + 2);

    h.send(seg(".", new_iss + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn old_syn_does_not_reuse_the_tuple() {
    let (mut h, old) = server_in_time_wait();
    // A SYN below RCV.NXT may be an old duplicate: TIME-WAIT stays, and like every
    // unacceptable segment it is answered with an ACK (§3.10.7.4 "first").
    h.send(seg("S", PEER_ISS - 100).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg(".", 2).ack(PEER_ISS + 2).win(WIN));
    assert_eq!(h.conn(), Some(old));
    assert!(matches!(h.state(), Some(State::TimeWait)));
    assert_eq!(h.stack.tcp_connection_count(), 1);
}

/// RFC 9293 §3.10.7.4 "second" closes a TIME-WAIT connection on an acceptable RST.
/// RFC 1337 (hazard H1, "TIME-WAIT assassination") suggests ignoring it; like
/// Linux's default (`tcp_rfc1337 = 0`) the stack follows RFC 9293.
#[test]
fn exact_rst_ends_time_wait() {
    let (mut h, old) = server_in_time_wait();
    h.send(seg("R", PEER_ISS + 2));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(old), None);
}
