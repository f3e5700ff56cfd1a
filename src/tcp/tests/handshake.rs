//! Opening a connection (RFC 9293 §3.5): LISTEN → SYN-RECEIVED → ESTABLISHED,
//! CLOSED → SYN-SENT → ESTABLISHED, simultaneous open, and what SYN-SENT and
//! SYN-RECEIVED do with segments that do not fit.

use std::io::ErrorKind;

use super::harness::*;
use super::segment::{mss, sack_perm, seg, ts, ws};
use crate::shared::Event;
use crate::tcp::State;

#[test]
fn passive_open_negotiates_every_option_the_peer_offers() {
    let mut h = Harness::new();
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), sack_perm(), ts(5000, 0), ws(7)]));
    // The SYN,ACK answers each option (RFC 7323 §2.2, §3.2; RFC 2018 §2) and echoes
    // the peer's TSval. Its window is never scaled.
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([
        mss(OUR_MSS),
        sack_perm(),
        ts(h.clock(), 5000),
        ws(OUR_WS),
    ]));
    assert_eq!(h.state(), Some(State::SynReceived));
    assert!(h.events().is_empty(), "nothing to accept yet");

    h.send(seg(".", PEER_ISS + 1).ack(1).win(502).opts([ts(5001, h.clock())]));
    // ESTABLISHED. The SYN,ACK could offer only 65535 bytes (a SYN's window is
    // never scaled); like Linux, the stack announces its whole 256 KiB with its next
    // segment rather than with a window update of its own.
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.events().contains(&Event::Tcp(listener)), "the listener has a connection to accept");
    let (conn, from) = h.stack.tcp_accept(listener).expect("queued for accept");
    assert_eq!(Some(conn), h.conn());
    assert_eq!(from, crate::testutil::sa(crate::testutil::PEER, PEER_PORT));

    // Data now carries a timestamp echoing the peer's latest TSval, and our window
    // is scaled by 2^3.
    assert_eq!(h.stack.tcp_send(h.now, conn, b"hello").expect("room"), 5);
    h.expect(seg("P.", 1).ack(PEER_ISS + 1).win(WIN_SCALED).opts([ts(h.clock(), 5001)]).data(b"hello"));
    h.expect_nothing();
    let c = h.stack.counters();
    assert_eq!((c.tcp_passive_opens, c.tcp_established), (1, 1));
}

/// On a link below 576 bytes the MSS follows the MTU, even though a peer without
/// an MSS option is assumed to take 536 (RFC 9293 §3.7.1): the stack once raised
/// its own MSS to 536, and on a 296-byte MTU every full segment left in two
/// fragments. Found by the `two_stacks` fuzz target.
#[test]
fn a_small_mtu_gives_a_small_mss_and_unfragmented_segments() {
    let config = crate::config::StackConfig { mtu: 296, ..crate::config::StackConfig::default() };
    let mut h = Harness::with_config(config);
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(296 - 40)]));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    let (conn, _) = h.stack.tcp_accept(listener).expect("established");
    h.stack.tcp_send(h.now, conn, &[7; 512]).expect("room");
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN).data(&[7; 256]));
    h.expect(seg("P.", 257).ack(PEER_ISS + 1).win(WIN).data(&[7; 256]));
    h.expect_nothing();
    assert_eq!(h.stack.counters().ip_tx_fragmented, 0, "nothing fragmented");
}

#[test]
fn passive_open_without_options_sends_none_back() {
    let mut h = Harness::new();
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN));
    // Only our MSS: an extension is used only if both sides offer it, and a
    // SYN,ACK offers only what the SYN did.
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    let (conn, _) = h.stack.tcp_accept(listener).expect("established");

    // No timestamps, no scaling; and without an MSS option the peer's MSS is 536
    // (RFC 9293 §3.7.1), so 1000 bytes go out as 536, and Nagle (RFC 896) holds the
    // 464-byte tail until the first part is acknowledged.
    let data = crate::testutil::pattern(1000);
    assert_eq!(h.stack.tcp_send(h.now, conn, &data).expect("room"), 1000);
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN).data(&data[..536]));
    h.expect_nothing();
    h.send(seg(".", PEER_ISS + 1).ack(537).win(PEER_WIN));
    h.expect(seg("P.", 537).ack(PEER_ISS + 1).win(WIN).data(&data[536..]));
    h.expect_nothing();
}

#[test]
fn active_open_negotiates_every_option() {
    let mut h = Harness::new();
    let conn = h.connect();
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent));
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    assert_eq!(h.stack.tcp_connect_status(conn).expect_err("still connecting").kind(), ErrorKind::WouldBlock);

    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1400), sack_perm(), ts(777, h.clock()), ws(7)]));
    // The third step of the handshake: our ACK, with a timestamp and a scaled window.
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN_SCALED).opts([ts(h.clock(), 777)]));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    h.stack.tcp_connect_status(conn).expect("established");
    assert_eq!(h.events(), [Event::Tcp(conn)]);
    let c = h.stack.counters();
    assert_eq!((c.tcp_active_opens, c.tcp_established), (1, 1));
}

#[test]
fn active_open_to_a_peer_without_options_sends_none() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN));
    // Window scaling needs both SYNs to carry the option (RFC 7323 §2.2): unscaled.
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    h.stack.tcp_send(h.now, conn, b"hi").expect("room");
    h.expect(seg("P.", 1).ack(PEER_ISS + 1).win(WIN).data(b"hi"));
    h.expect_nothing();
}

#[test]
fn syn_sent_refused_by_rst_ack() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 9293 §3.10.7.3: a RST whose ACK acknowledges our SYN means "connection
    // refused". Nothing is sent in reply to a RST.
    h.send(seg("R.", 0).ack(1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    assert_eq!(h.events(), [Event::Tcp(conn)]);
    let err = h.stack.tcp_connect_status(conn).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(h.stack.counters().tcp_rx_rst, 1);
}

#[test]
fn syn_sent_ignores_rst_without_an_acceptable_ack() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 9293 §3.10.7.3: without ACK a RST cannot be tied to our SYN, and with an
    // ACK of something we never sent it is not for us: both are dropped (a RST is
    // never answered with a RST).
    h.send(seg("R", 0));
    h.send(seg("R.", 0).ack(5));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent));
    assert_eq!(h.stack.counters().tcp_rx_rst, 0);
}

#[test]
fn syn_sent_answers_a_bad_ack_with_rst() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 9293 §3.10.7.3 "first": SEG.ACK ≤ ISS or SEG.ACK > SND.NXT acknowledges
    // something we never sent: <SEQ=SEG.ACK><CTL=RST>, and the connection carries on.
    h.send(seg("S.", PEER_ISS).ack(100).win(PEER_WIN));
    h.expect(seg("R", 100));
    h.send(seg(".", PEER_ISS + 1).ack(0).win(PEER_WIN));
    h.expect(seg("R", 0));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynSent));

    // The right SYN,ACK still completes the handshake.
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    // RFC 9293 §3.5 figure 8: the peer's SYN crosses ours. We answer SYN,ACK with
    // our original ISS, now answering the peer's options.
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), sack_perm(), ts(777, 0), ws(7)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 777), ws(OUR_WS)]));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynReceived));
    let status = h.stack.tcp_connect_status(conn).expect_err("not yet");
    assert_eq!(status.kind(), ErrorKind::WouldBlock);

    h.send(seg(".", PEER_ISS + 1).ack(1).win(502).opts([ts(778, h.clock())]));
    // ESTABLISHED, silently, as after a passive open.
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    h.stack.tcp_connect_status(conn).expect("established");
}

/// Figure 8 shows each side's SYN,ACK taking the other to ESTABLISHED. The
/// processing rules of §3.10.7.4 get there one segment later: the SYN,ACK's SYN
/// lies just below RCV.NXT, so the segment fails the acceptability test and is
/// answered with an ACK; the peer, doing the same with ours, sends the ACK that
/// completes the handshake. (Linux accepts that SYN,ACK directly, so against
/// Linux this stack stays in SYN-RECEIVED until the peer sends again.)
#[test]
fn simultaneous_open_with_crossing_syn_acks() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    // RFC 9293 figure 8: the peer's SYN,ACK repeats its SYN (one below RCV.NXT) and
    // acknowledges ours. Its ACK completes the handshake at once. (Regression: it
    // used to be dropped as out of window, and the connection waited in
    // SYN-RECEIVED for the peer's next segment; a Linux peer sends none until a
    // retransmission, a second later.)
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1460)]));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
    // Nothing to say: the SYN was already acknowledged (as Linux).
    h.expect_nothing();
    h.stack.tcp_connect_status(conn).expect("established");
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Established));
}

#[test]
fn syn_received_answers_a_bad_ack_with_rst() {
    let mut h = Harness::new();
    h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    // RFC 9293 §3.10.7.4 "fifth", SYN-RECEIVED: an ACK outside SND.UNA < SEG.ACK ≤
    // SND.NXT gets <SEQ=SEG.ACK><CTL=RST>; the half-open connection stays.
    h.send(seg(".", PEER_ISS + 1).ack(7).win(PEER_WIN));
    h.expect(seg("R", 7));
    assert_eq!(h.state(), Some(State::SynReceived));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn syn_received_from_a_listener_is_forgotten_on_rst() {
    let mut h = Harness::new();
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    // RFC 9293 §3.10.7.4 "second": a passive open that is reset returns to LISTEN;
    // the program never hears of it, and nothing of it remains.
    h.send(seg("R", PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.conn(), None);
    assert_eq!(h.stack.tcp_connection_count(), 0);
    assert!(!h.events().contains(&Event::Tcp(listener)), "nothing for the listener");
    assert_eq!(h.stack.tcp_accept(listener).expect_err("nothing to accept").kind(), ErrorKind::WouldBlock);

    // The listener still answers the same client.
    h.send(seg("S", PEER_ISS + 5000).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 5001).win(WIN).opts([mss(OUR_MSS)]));
}

/// SYN-RECEIVED, and the peer repeats its SYN (our SYN,ACK was lost): it gets the
/// SYN,ACK again at once — same ISS, echoing the new SYN's TSval — rather than
/// RFC 9293's bare ACK, which a host in SYN-SENT must drop. Our retransmission
/// timer keeps its schedule. (Found by the simulator: after a partition, both
/// sides' back-offs ran in step and the handshake took 31 s.)
#[test]
fn a_repeated_syn_in_syn_received_gets_the_syn_ack_again() {
    let mut h = Harness::new();
    h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), ts(5000, 0)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), ts(h.clock(), 5000)]));
    h.advance(std::time::Duration::from_millis(300));
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), ts(5300, 0)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), ts(h.clock(), 5300)]));
    assert_eq!(h.state(), Some(State::SynReceived));
    assert_eq!(h.next_timer(), Some(std::time::Duration::from_millis(700)), "the RTO still fires 1 s after the first");
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN).opts([ts(5301, h.clock())]));
    assert_eq!(h.state(), Some(State::Established));
}

/// A simultaneous open (RFC 9293 §3.5, figure 8) is its program's connection from
/// the start: reset in SYN-RECEIVED, the program hears `ConnectionRefused` (as
/// from SYN-SENT); it was once taken for an orphaned passive open and freed, so
/// the program found nothing (`NotConnected`). Found by the FreeBSD suite.
#[test]
fn a_simultaneous_open_reset_in_syn_received_reports_connection_refused() {
    let mut h = Harness::new();
    let conn = h.connect();
    h.expect(seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(h.clock(), 0), ws(OUR_WS)]));
    h.send(seg("S", 0).win(32767).opts([mss(1460), sack_perm()]));
    assert!(h.stack.poll_transmit().is_some(), "our SYN,ACK");
    assert_eq!(h.stack.tcp_state(conn), Some(State::SynReceived));
    h.send(seg("R", 1).win(32767));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed), "held by its program until it lets go");
    assert_eq!(h.stack.tcp_connect_status(conn).expect_err("refused").kind(), ErrorKind::ConnectionRefused);
}
