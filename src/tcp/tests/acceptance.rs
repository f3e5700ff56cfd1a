//! Which parts of an incoming segment are taken in: a segment that overlaps
//! RCV.NXT (RFC 9293 §3.10.7.4 "first"), an old timestamp (PAWS, RFC 7323 §5), an
//! ACK of data never sent (§3.10.7.4 "fifth"). Each was found missing by a
//! deliberately broken build that every other test still passed.

use super::harness::*;
use super::segment::{mss, sack_perm, seg, ts, ws};
use crate::tcp::State;

/// A retransmission that starts below RCV.NXT but carries new bytes past it is
/// acceptable because its last byte is in the window; only the new bytes are
/// delivered, once.
#[test]
fn a_segment_overlapping_rcv_nxt_delivers_only_its_new_bytes() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"abc"));
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 4).win(WIN));
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"abcdef"));
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 7).win(WIN));
    h.expect_nothing();
    let mut buf = [0; 16];
    let n = h.stack.tcp_recv(h.now, conn, &mut buf).expect("data");
    assert_eq!(&buf[..n], b"abcdef");
    assert_eq!(h.stack.counters().tcp_rx_out_of_window, 0);
}

/// Passive open with timestamps (the peer's TSval starts at 5000), accepted.
fn established_with_timestamps(h: &mut Harness) -> crate::shared::TcpHandle {
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), sack_perm(), ts(5000, 0), ws(7)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([
        mss(OUR_MSS),
        sack_perm(),
        ts(h.clock(), 5000),
        ws(OUR_WS),
    ]));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(502).opts([ts(5001, h.clock())]));
    h.expect_nothing();
    h.stack.tcp_accept(listener).expect("queued for accept").0
}

/// RFC 7323 §5.3: data whose TSval is older than TS.Recent is an old duplicate
/// from an earlier wrap of the sequence space. It is dropped, counted, and
/// answered with an ACK; its bytes never reach the program.
#[test]
fn data_with_an_old_timestamp_is_rejected_by_paws() {
    let mut h = Harness::new();
    let conn = established_with_timestamps(&mut h);
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(502).opts([ts(4000, h.clock())]).data(b"stale"));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN_SCALED).opts([ts(h.clock(), 5001)]));
    h.expect_nothing();
    assert_eq!(
        h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect_err("nothing delivered").kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert_eq!(h.stack.counters().tcp_rx_paws_rejected, 1);
    // The same bytes with a current timestamp are taken in.
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(502).opts([ts(5002, h.clock())]).data(b"fresh"));
    let mut buf = [0; 8];
    let n = h.stack.tcp_recv(h.now, conn, &mut buf).expect("data");
    assert_eq!(&buf[..n], b"fresh");
}

/// §3.10.7.4 "fifth": an ACK of something not yet sent (SEG.ACK > SND.NXT) is
/// answered with an ACK and the segment is dropped — its data too.
#[test]
fn an_ack_of_data_never_sent_is_answered_and_dropped() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    assert_eq!(h.stack.tcp_send(h.now, conn, b"hi").expect("room"), 2);
    h.expect(seg("P.", 1).ack(PEER_ISS + 1).win(WIN).data(b"hi"));
    h.send(seg("P.", PEER_ISS + 1).ack(1 + 2 + 1000).win(PEER_WIN).data(b"xyz"));
    h.expect(seg(".", 3).ack(PEER_ISS + 1).win(WIN));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut [0; 8]).expect_err("dropped").kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(h.state(), Some(State::Established));
    // "hi" is still unacknowledged: its retransmission timer still runs.
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN).data(b"hi"));
}

/// `tcp_discard` (Linux's `MSG_TRUNC`) consumes received bytes as a read does,
/// without handing them over: what is left is read next, nothing is waiting
/// afterwards, and at the end of the stream it answers 0, as a read would.
#[test]
fn discarded_bytes_are_consumed_as_read_ones() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    h.send(seg("P.", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"abcdef"));
    h.run_next_timer();
    h.expect(seg(".", 1).ack(PEER_ISS + 7).win(WIN));
    assert_eq!(h.stack.tcp_discard(h.now, conn, 4).expect("data"), 4);
    let mut buf = [0; 16];
    let n = h.stack.tcp_recv(h.now, conn, &mut buf).expect("data");
    assert_eq!(&buf[..n], b"ef");
    let would_block = h.stack.tcp_discard(h.now, conn, 4).expect_err("nothing left").kind();
    assert_eq!(would_block, std::io::ErrorKind::WouldBlock);
    h.send(seg("F.", PEER_ISS + 7).ack(1).win(PEER_WIN));
    assert_eq!(h.stack.tcp_discard(h.now, conn, usize::MAX).expect("end of stream"), 0);
}
