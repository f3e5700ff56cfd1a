//! When the stack acknowledges in-order data (RFC 1122 4.2.3.2, RFC 5681 §4.2): a
//! lone segment waits for the delayed-ACK timer; two or more full-sized segments
//! fed in one batch get one ACK as soon as the host runs the timers after the
//! batch; a segment that fills a hole is acknowledged at once.

use std::time::Duration;

use super::harness::*;
use super::segment::seg;

const MSS: usize = 1460;

#[test]
fn a_lone_segment_waits_for_the_delayed_ack_timer() {
    let mut h = Harness::new();
    h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(&[7; MSS]));
    h.expect_nothing();
    let waited = h.run_next_timer();
    assert!(waited > Duration::ZERO, "delayed, not sent at once");
    h.expect(seg(".", 1).ack(PEER_ISS + 1 + MSS as u32).win(WIN));
}

#[test]
fn a_batch_of_full_segments_gets_one_ack_when_the_timers_run() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    for i in 0..6u32 {
        h.send(seg(".", PEER_ISS + 1 + i * MSS as u32).ack(1).win(PEER_WIN).data(&[i as u8; MSS]));
    }
    // Nothing yet: the ACK is due at this very instant, after the batch.
    h.expect_nothing();
    assert_eq!(h.next_timer(), Some(Duration::ZERO));
    h.advance(Duration::ZERO);
    h.expect(seg(".", 1).ack(PEER_ISS + 1 + 6 * MSS as u32).win(WIN));
    h.expect_nothing();
    let mut buf = vec![0; 6 * MSS];
    let mut got = 0;
    while got < buf.len() {
        got += h.stack.tcp_recv(h.now, conn, &mut buf[got..]).expect("data");
    }
    assert!(buf.chunks(MSS).enumerate().all(|(i, c)| c.iter().all(|&b| b == i as u8)));
}

#[test]
fn a_segment_that_fills_a_hole_is_acknowledged_at_once() {
    let mut h = Harness::new();
    h.established_passive();
    let second = PEER_ISS + 1 + MSS as u32;
    h.send(seg(".", second).ack(1).win(PEER_WIN).data(&[2; MSS]));
    // Out of order: an immediate duplicate ACK (RFC 5681 §4.2).
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN).data(&[1; MSS]));
    h.expect(seg(".", 1).ack(second + MSS as u32).win(WIN));
}
