//! Lost handshake segments (RFC 6298 §5, RFC 9293 §3.8.3): a SYN or SYN,ACK is
//! sent again with the timer backed off each time, until the retry limit makes
//! the attempt fail.

use std::io::ErrorKind;
use std::time::Duration;

use super::harness::*;
use super::segment::{mss, sack_perm, seg, ts, ws};
use crate::config::StackConfig;
use crate::tcp::State;

/// A stack that gives up after two retransmissions of a SYN or SYN,ACK.
fn two_syn_retries() -> Harness {
    let mut config = StackConfig::default();
    config.tcp.syn_retries = 2;
    config.tcp.syn_ack_retries = 2;
    Harness::with_config(config)
}

#[test]
fn lost_syn_is_retransmitted_with_backoff_then_times_out() {
    let mut h = two_syn_retries();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 6298 §2.1: 1 s before the first retransmission; §5.5: doubled each time.
    // The same SYN (same ISS) goes again, with a fresh TSval.
    for wait in [1, 2] {
        assert_eq!(h.run_next_timer(), Duration::from_secs(wait));
        h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
        assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent));
    }
    // The third timeout is past the limit: the attempt fails, silently (there is
    // no one to send a RST to).
    assert_eq!(h.run_next_timer(), Duration::from_secs(4));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    assert_eq!(h.stack.tcp_connect_status(conn).expect_err("gave up").kind(), ErrorKind::TimedOut);
    assert_eq!(h.next_timer(), None);
    let c = h.stack.counters();
    assert_eq!((c.tcp_rto_expired, c.tcp_tx_retransmits, c.tcp_timeouts), (3, 2, 1));
}

#[test]
fn late_syn_ack_after_a_retransmission_still_completes() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.run_next_timer();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    assert_eq!(h.next_timer(), None, "the retransmission timer stopped");
}

#[test]
fn lost_syn_ack_is_retransmitted_then_the_half_open_connection_is_dropped() {
    let mut h = two_syn_retries();
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), ts(5000, 0)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), ts(h.clock(), 5000)]));
    for wait in [1, 2] {
        assert_eq!(h.run_next_timer(), Duration::from_secs(wait));
        // The same answer to the same SYN: only our TSval moved on.
        h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), ts(h.clock(), 5000)]));
    }
    assert_eq!(h.run_next_timer(), Duration::from_secs(4));
    h.expect_nothing();
    // Back to LISTEN (RFC 9293 §3.10.7.4): nothing of the attempt is left, and a
    // new SYN is answered afresh.
    assert_eq!(h.conn(), None);
    assert_eq!(h.stack.tcp_connection_count(), 0);
    assert_eq!(h.next_timer(), None);
    assert_eq!(h.stack.tcp_accept(listener).expect_err("nothing").kind(), ErrorKind::WouldBlock);
    h.send(seg("S", PEER_ISS + 9000).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 9001).win(WIN).opts([mss(OUR_MSS)]));
}

#[test]
fn tcp_info_counts_a_lost_syn_and_reports_windows_in_segments() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.run_next_timer();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // The SYN is in flight and was sent twice; the timer backed off (RFC 6298 §5.5).
    let info = h.stack.tcp_info(conn).expect("a connection");
    assert_eq!((info.state, info.unacked, info.total_retrans), (State::SynSent, 1, 1));
    assert_eq!(info.rto, 2_000_000, "µs");
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    let info = h.stack.tcp_info(conn).expect("a connection");
    assert_eq!((info.state, info.unacked, info.sacked, info.lost, info.retrans), (State::Established, 0, 0, 0, 0));
    assert_eq!((info.snd_mss, info.rcv_mss, info.reordering, info.total_retrans), (1460, 1460, 3, 1));
    // RFC 6928's initial window, ten segments; no loss yet, so no threshold.
    assert_eq!((info.snd_cwnd, info.snd_ssthresh), (10, crate::tcp::INFINITE_SSTHRESH));
    // Karn: the SYN,ACK answers a retransmitted SYN, so no RTT sample; RFC 6298
    // §5.7: data starts with an RTO of 3 s, not the 2 s the back-off left.
    assert_eq!((info.rtt, info.rttvar, info.rto), (0, 0, 3_000_000));
}

/// `tcp_info`'s relative sequence numbers (as tshark shows them: each SYN is 0)
/// and the peer's window: the lines of a time-sequence graph, which the
/// dashboard draws from them. Sent data moves SND.NXT, its ACK SND.UNA, the
/// peer's data RCV.NXT.
#[test]
fn tcp_info_reports_relative_sequence_numbers_and_the_peer_window() {
    let mut h = Harness::new();
    let conn = h.established_passive();
    let rel = |h: &Harness| {
        let i = h.stack.tcp_info(conn).expect("a connection");
        (i.snd_una_rel, i.snd_nxt_rel, i.rcv_nxt_rel, i.snd_wnd)
    };
    assert_eq!(rel(&h), (1, 1, 1, u32::from(PEER_WIN)), "after the handshake: both SYNs counted");
    h.stack.tcp_send(h.now, conn, b"hello").expect("room");
    h.expect(seg("P.", 1).ack(PEER_ISS + 1).win(WIN).data(b"hello"));
    assert_eq!(rel(&h), (1, 6, 1, u32::from(PEER_WIN)), "sent, not yet acknowledged");
    h.send(seg("P.", PEER_ISS + 1).ack(6).win(1000).data(b"abc"));
    assert_eq!(rel(&h), (6, 6, 4, 1000), "acknowledged, 3 bytes received, the window shrunk");
}
