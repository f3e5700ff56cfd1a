//! The knobs that make the stack answer as RFC 793 (and FreeBSD with its
//! `insecure_*` sysctls) where RFC 5961 and Linux differ, FreeBSD's option layout,
//! and what happens to connections nobody accepted when their listener closes.

use std::io::ErrorKind;

use super::harness::*;
use super::segment::{mss, parse, sack_perm, seg};
use crate::config::{OptionLayout, StackConfig};
use crate::tcp::State;

fn with(f: impl FnOnce(&mut StackConfig)) -> Harness {
    let mut config = StackConfig::default();
    f(&mut config);
    Harness::with_config(config)
}

/// RFC 793 §3.9 (FreeBSD `insecure_rst = 1`): any RST in the window resets.
#[test]
fn without_rfc5961_an_in_window_rst_resets() {
    let mut h = with(|c| c.tcp.rfc5961_rst = false);
    let conn = h.established_passive();
    h.send(seg("R", PEER_ISS + 1 + 100));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
    let mut buf = [0; 1];
    assert_eq!(h.stack.tcp_recv(h.now, conn, &mut buf).expect_err("reset").kind(), ErrorKind::ConnectionReset);
}

/// RFC 793 §3.9 (FreeBSD `insecure_syn = 1`): an in-window SYN is answered with
/// RST and resets the connection.
#[test]
fn without_rfc5961_an_in_window_syn_resets_with_rst() {
    let mut h = with(|c| c.tcp.rfc5961_syn = false);
    let conn = h.established_passive();
    h.send(seg("S", PEER_ISS + 1).win(PEER_WIN));
    // As FreeBSD (tcp_drop): SEQ = SND.NXT, ACK = RCV.NXT.
    h.expect(seg("R.", 1).ack(PEER_ISS + 1));
    assert_eq!(h.stack.tcp_state(conn), Some(State::Closed));
}

#[test]
fn drop_syn_fin_drops_a_syn_with_fin() {
    let mut h = with(|c| c.tcp.drop_syn_fin = true);
    h.listen(8);
    h.send(seg("SF", PEER_ISS).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.dropped.map(|r| r.as_str()), Some("tcp SYN and FIN"));
    assert_eq!(h.conn(), None);
}

/// FreeBSD drops a SYN,ACK that reaches a listener; Linux (and RFC 9293
/// §3.10.7.2) answers it with RST.
#[test]
fn a_syn_ack_to_a_listener_is_dropped_when_asked() {
    let mut h = Harness::new();
    h.listen(8);
    h.send(seg("S.", PEER_ISS).ack(4321).win(PEER_WIN));
    h.expect(seg("R", 4321));
    let mut h = with(|c| c.tcp.rst_syn_ack_to_listener = false);
    h.listen(8);
    h.send(seg("S.", PEER_ISS).ack(4321).win(PEER_WIN));
    h.expect_nothing();
    assert_eq!(h.stack.counters().tcp_rx_syn_ack_to_listener, 1);
}

#[test]
fn the_freebsd_layout_is_used_on_the_wire() {
    let mut h = with(|c| c.tcp.option_layout = OptionLayout::FreeBsd);
    h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), sack_perm()]));
    let synack = h.stack.poll_transmit().expect("a SYN,ACK");
    let tcp = &synack[20..];
    let options = &tcp[20..usize::from(tcp[12] >> 4) * 4];
    assert_eq!(options, [2, 4, 5, 180, 4, 2, 0, 0], "<mss 1460,sackOK,eol,eol>");
    assert!(parse(&synack).seg.flags.syn);
}

/// Linux's `inet_csk_listen_stop` and FreeBSD alike: closing a listener resets
/// the connections nobody accepted and forgets the half-open ones.
#[test]
fn closing_a_listener_resets_what_it_never_handed_out() {
    let mut h = Harness::new();
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN));
    assert_eq!(h.state(), Some(State::Established));
    h.peer_port += 1;
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460)]));
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS)]));
    h.stack.tcp_close_listener(h.now, listener);
    h.peer_port -= 1;
    h.expect(seg("R.", 1).ack(PEER_ISS + 1));
    h.expect_nothing();
    assert_eq!(h.stack.tcp_connection_count(), 0, "both freed");
}
