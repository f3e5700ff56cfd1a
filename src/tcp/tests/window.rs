//! Segments outside the receive window (RFC 9293 §3.10.7.4 "first"): each is
//! answered with an ACK that tells the peer where we really are, and changes
//! nothing else.

use super::harness::*;
use super::segment::seg;
use crate::shared::DropReason;
use crate::tcp::State;

#[test]
fn data_beyond_the_window_gets_a_duplicate_ack() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    // The window is [1001, 1001 + 65535): this starts just past its right edge.
    h.send(seg("P.", PEER_ISS + 1 + u32::from(WIN)).ack(1).win(PEER_WIN).data(b"too far"));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    h.expect_nothing();
    assert_eq!(
        h.stack.tcp_recv(h.now, conn, &mut [0; 16]).expect_err("nothing").kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert_eq!(h.stack.counters().tcp_rx_out_of_window, 1);
    assert_eq!(h.dropped.map(DropReason::as_str), Some("tcp out of window"), "answered, yet dropped");
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    assert_eq!(h.dropped, None, "an acceptable ACK is taken in");
    // The drop is the connection's own too: the `Drops` column of `tunstack ss`.
    let drops: Vec<u64> = h.stack.socket_table().iter().filter(|r| r.peer.is_some()).map(|r| r.drops).collect();
    assert_eq!(drops, [1]);
}

#[test]
fn old_duplicate_data_gets_a_duplicate_ack() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"abc"));
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 4).win(WIN));
    // Our ACK was lost and the peer resends: every byte is below RCV.NXT. The ACK
    // goes out at once (not delayed) so the peer stops retransmitting.
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"abc"));
    h.expect(seg(".", 1).ack(PEER_ISS + 4).win(WIN));
    h.expect_nothing();
    let mut buf = [0; 8];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect("data"), 3, "delivered once");
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn pure_acks_are_not_answered_without_window_scaling() {
    let mut h = Harness::new();
    h.established_passive();
    // Regression: with a receive buffer larger than an unscaled window can say, the
    // stack once took every event as a due window update and answered each pure
    // ACK with another. The window it can advertise is capped at 65535.
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN - 1000));
    h.expect_nothing();
}

/// A zero window is probed for as long as the peer answers the probes (RFC 9293
/// §3.8.6.1); once it stops answering, the probes count as retries and the
/// connection gives up with `TimedOut` (as Linux's probe timer does). Found by the
/// `tcp_conn` fuzz target: an orphaned connection probed a silent peer forever.
#[test]
fn unanswered_zero_window_probes_time_out_answered_ones_do_not() {
    let mut config = crate::config::StackConfig::default();
    config.tcp.max_retries = 3;
    let mut h = Harness::with_config(config);
    let conn = h.established_passive();
    h.send(seg(".", PEER_ISS + 1).ack(1).win(0));
    h.stack.tcp_send(h.now, conn, b"waiting").expect("buffered");
    h.expect_nothing();
    // Answered probes: any number of them is fine.
    for _ in 0..5 {
        h.run_next_timer();
        h.expect(seg(".", 0).ack(PEER_ISS + 1).win(WIN));
        h.send(seg(".", PEER_ISS + 1).ack(1).win(0));
        h.expect_nothing();
    }
    // Unanswered: three probes (the retry limit), then the connection fails.
    for _ in 0..3 {
        h.run_next_timer();
        h.expect(seg(".", 0).ack(PEER_ISS + 1).win(WIN));
    }
    h.run_next_timer();
    h.expect_nothing();
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect_err("failed").kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(h.stack.counters().tcp_timeouts, 1);
}

/// A window too small for sender SWS avoidance, with nothing in flight, must not
/// stall the connection: the persist timer fires and sends what fits (RFC 9293
/// §3.8.6.2.1's override timeout). Found by the `tcp_conn` fuzz target, where
/// such a connection waited forever with no timer armed.
#[test]
fn a_small_window_is_used_when_the_persist_timer_fires() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg(".", PEER_ISS + 1).ack(1).win(37));
    h.stack.tcp_send(h.now, conn, &[7; 98]).expect("buffered");
    h.expect_nothing();
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN).data(&[7; 37]));
    h.expect_nothing();
}

/// Unusable segments without data — outside the window, or acknowledging data never
/// sent — are answered at most once per `tcp.unusable_ack_interval` (500 ms), data
/// always. Found by the `two_stacks` fuzz target: after a forged segment made two
/// stacks disagree about the sequence numbers, each answered the other's ACKs with
/// one more, a packet per round trip for as long as the connection lived.
#[test]
fn unusable_segments_without_data_are_answered_at_most_twice_a_second() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    let beyond = PEER_ISS + 1 + u32::from(WIN) + 10;
    h.send(seg(".", beyond).ack(1).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    // At once: a pure ACK below the window, and one acknowledging 999 bytes we never
    // sent (RFC 5961 §5.2). Neither is answered.
    h.send(seg(".", PEER_ISS - 10).ack(1).win(PEER_WIN));
    h.send(seg(".", PEER_ISS + 1).ack(1000).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.stack.counters().tcp_unusable_acks_limited, 2);
    // Data outside the window, and a FIN, still are: a retransmission needs its ACK.
    h.send(seg("P.", beyond).ack(1).win(PEER_WIN).data(b"x"));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    h.send(seg("F.", PEER_ISS - 10).ack(1).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    // Half a second after the last answered pure ACK, the next one is answered.
    h.advance(std::time::Duration::from_millis(499));
    h.send(seg(".", beyond).ack(1).win(PEER_WIN));
    h.expect_nothing();
    h.advance(std::time::Duration::from_millis(1));
    h.send(seg(".", beyond).ack(1).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.counters().tcp_unusable_acks_limited, 3);
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}
