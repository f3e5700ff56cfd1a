//! SYN cookies (RFC 4987 §3.6): a SYN that finds the half-open queue full is
//! answered statelessly, and the ACK that returns the cookie builds the connection.

use std::io::ErrorKind;

use etherparse::TcpOptionElement;

use super::harness::*;
use super::segment::{mss, parse, sack_perm, seg, ts, ws};
use crate::config::{StackConfig, SynCookies};
use crate::tcp::State;
use crate::testutil::{PEER, US};

/// A listener whose half-open queue holds one connection, already taken by the
/// peer's port 40001, so the next SYN gets a cookie.
fn backlog_full() -> (Harness, crate::shared::TcpHandle) {
    let mut config = StackConfig::default();
    config.tcp.syn_backlog = 1;
    let mut h = Harness::with_config(config);
    let listener = h.listen(8);
    h.peer_port = 40001;
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    h.peer_port = 40002;
    (h, listener)
}

#[test]
fn a_syn_beyond_the_half_open_queue_gets_a_cookie_and_its_ack_makes_the_connection() {
    let (mut h, listener) = backlog_full();
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1400)]));
    // No timestamps offered: the cookie SYN,ACK offers neither scaling nor SACK.
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    assert_eq!(h.conn(), None, "nothing kept for it");
    assert_eq!(h.stack.tcp_connection_count(), 1, "only the first, half-open one");
    // The third segment of the handshake carries data already.
    h.send(seg(".P", PEER_ISS + 1).ack(1).win(PEER_WIN).data(b"hi"));
    assert_eq!(h.state(), Some(State::Established));
    let (conn, _) = h.stack.tcp_accept(listener).expect("accepted from a cookie");
    let mut buf = [0; 8];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect("data"), 2);
    assert_eq!(&buf[..2], b"hi");
    let c = h.stack.counters();
    assert_eq!((c.tcp_syncookies_sent, c.tcp_syncookies_recv_ok, c.tcp_syncookies_recv_failed), (1, 1, 0));
    // The MSS came back from the cookie's table: 1400 less nothing (no timestamps).
    h.stack.tcp_send(h.now, conn, &[7; 3000]).expect("buffered");
    let sent: Vec<usize> = std::iter::from_fn(|| h.stack.poll_transmit()).map(|p| parse(&p).seg.data.len()).collect();
    assert_eq!(sent.first(), Some(&1400), "segments of the MSS the cookie kept: {sent:?}");
}

/// With timestamps, the cookie SYN,ACK carries window scale and SACK-permitted in
/// its TSval, and the connection built from the ACK uses both.
#[test]
fn window_scale_and_sack_survive_in_the_timestamp() {
    let (mut h, _) = backlog_full();
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), sack_perm(), ts(500, 0), ws(7)]));
    let raw = h.stack.poll_transmit().expect("a cookie SYN,ACK");
    let synack = parse(&raw).seg;
    let tsval = synack
        .opts
        .iter()
        .find_map(|o| match o {
            TcpOptionElement::Timestamp(val, 500) => Some(*val),
            _ => None,
        })
        .expect("timestamps offered back, echoing the SYN's");
    assert!(synack.opts.contains(&TcpOptionElement::SelectiveAcknowledgementPermitted), "{synack:?}");
    assert!(synack.opts.contains(&TcpOptionElement::WindowScale(OUR_WS)), "{synack:?}");
    // The peer's ACK echoes our TSval; its window is scaled by its 7.
    let cookie = synack.seq;
    let ack = seg(".", PEER_ISS + 1).ack(cookie.wrapping_add(1)).win(100).opts([ts(501, tsval)]);
    h.stack.input(h.now, &super::segment::to_packet(&ack, PEER, h.peer_port, US, h.port));
    assert_eq!(h.state(), Some(State::Established));
    // Out-of-order data draws an ACK with SACK blocks and a scaled window.
    let data = seg(".", PEER_ISS + 11).ack(cookie.wrapping_add(1)).win(100).opts([ts(502, tsval)]).data(b"later");
    h.stack.input(h.now, &super::segment::to_packet(&data, PEER, h.peer_port, US, h.port));
    let reply = parse(&h.stack.poll_transmit().expect("a duplicate ACK")).seg;
    let sacks = reply.opts.iter().any(|o| matches!(o, TcpOptionElement::SelectiveAcknowledgement(..)));
    assert!(sacks, "SACK was kept: {reply:?}");
    assert_eq!(reply.win, WIN_SCALED, "our window is scaled");
}

#[test]
fn a_forged_cookie_is_refused_with_rst_and_counted() {
    let (mut h, _) = backlog_full();
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    // An ACK whose cookie is off by one: refused as LISTEN refuses any ACK.
    h.send(seg(".", PEER_ISS + 1).ack(2).win(PEER_WIN));
    h.expect(seg("R", 2));
    assert_eq!(h.conn(), None);
    assert_eq!(h.stack.counters().tcp_syncookies_recv_failed, 1);
}

#[test]
fn with_cookies_always_a_listener_keeps_no_half_open_state() {
    let mut config = StackConfig::default();
    config.tcp.syn_cookies = SynCookies::Always;
    let mut h = Harness::with_config(config);
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    assert_eq!(h.stack.tcp_connection_count(), 0);
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.stack.tcp_accept(listener).is_ok());
    assert_eq!(h.stack.tcp_accept(listener).expect_err("one").kind(), ErrorKind::WouldBlock);
}
