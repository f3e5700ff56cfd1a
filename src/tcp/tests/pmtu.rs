//! Path MTU discovery (RFC 1191): TCP segments carry Don't Fragment; an ICMP
//! "fragmentation needed" quoting one in flight lowers the MSS and the dropped
//! data goes again, cut to size; forged or useless errors change nothing; and
//! where ICMP is filtered, timeouts of full-sized segments step the MTU down.

use super::harness::*;
use super::segment::{parse, seg, to_packet};
use crate::testutil::{OTHER, PEER, US};
use crate::wire::icmp::{emit_dest_unreachable_mtu, CODE_FRAGMENTATION_NEEDED};
use crate::wire::ipv4;

/// A router's "fragmentation needed, next hop MTU `mtu`" quoting the full-sized
/// segment the stack sent at relative sequence number `seq`.
fn too_big(h: &Harness, mtu: u16, seq: u32) -> Vec<u8> {
    let ours = to_packet(&seg(".", h.iss().wrapping_add(seq)).win(WIN).data(&[0; 1460]), US, h.port, PEER, h.peer_port);
    let mut msg = Vec::new();
    emit_dest_unreachable_mtu(&mut msg, CODE_FRAGMENTATION_NEEDED, mtu, &ours[..28]);
    crate::testutil::ip_packet(OTHER, US, crate::wire::ip_protocol::ICMP, 7, &msg)
}

/// The payload sizes of every segment the stack sends now, in order.
fn sent_sizes(h: &mut Harness) -> Vec<usize> {
    std::iter::from_fn(|| h.stack.poll_transmit()).map(|p| parse(&p).seg.data.len()).collect()
}

/// An established connection (peer MSS 1460) with two full segments in flight.
fn in_flight() -> (Harness, crate::shared::TcpHandle) {
    let mut h = Harness::new();
    let conn = h.established_active();
    h.stack.tcp_send(h.now, conn, &[7; 2920]).expect("buffered");
    assert_eq!(sent_sizes(&mut h), [1460, 1460]);
    (h, conn)
}

#[test]
fn tcp_segments_carry_dont_fragment() {
    let mut h = Harness::new();
    h.connect();
    let syn = h.stack.poll_transmit().expect("a SYN");
    let flags = syn[ipv4::field::FLG_OFF.start];
    assert_eq!(flags & 0x40, 0x40, "RFC 1191 §3: DF on every segment");
}

#[test]
fn fragmentation_needed_lowers_the_mss_and_resends_cut_to_size() {
    let (mut h, conn) = in_flight();
    assert_eq!(h.stack.input(h.now, &too_big(&h, 1280, 1)), None);
    // 1280 − 40: the two full segments go again as 1240 + 220 each.
    assert_eq!(sent_sizes(&mut h), [1240, 220, 1240, 220]);
    let info = h.stack.tcp_sockets().into_iter().find(|i| i.handle == conn).expect("listed");
    assert_eq!(info.path_mtu, Some(1280));
    assert_eq!(h.stack.counters().tcp_pmtu_reductions, 1);
    // New data uses the new size.
    h.send(seg(".", PEER_ISS + 1).ack(2921).win(PEER_WIN));
    h.stack.tcp_send(h.now, conn, &[8; 2480]).expect("buffered");
    assert_eq!(sent_sizes(&mut h), [1240, 1240]);
}

/// RFC 5927 §4.1 and §7.3: an error quoting nothing in flight is dropped, one
/// that reports a larger MTU changes nothing, and none lowers the MTU below 576.
#[test]
fn forged_and_useless_errors_are_bounded() {
    let (mut h, conn) = in_flight();
    let verdict = h.stack.input(h.now, &too_big(&h, 1000, 5000));
    assert_eq!(verdict.map(|r| r.as_str()), Some("tcp icmp out of window"));
    h.stack.input(h.now, &too_big(&h, 9000, 1));
    assert!(sent_sizes(&mut h).is_empty(), "nothing to resend");
    h.stack.input(h.now, &too_big(&h, 100, 1));
    let info = h.stack.tcp_sockets().into_iter().find(|i| i.handle == conn).expect("listed");
    assert_eq!(info.path_mtu, Some(576), "clamped to the floor");
    assert!(sent_sizes(&mut h).iter().all(|&n| n <= 536));
}

/// Where the ICMP never comes (a black hole), the second timeout in a row of
/// full-sized segments steps the path MTU down to 1280 and the data gets through.
#[test]
fn timeouts_of_full_sized_segments_step_the_mtu_down() {
    let (mut h, conn) = in_flight();
    h.run_next_timer();
    assert_eq!(sent_sizes(&mut h), [1460], "the first timeout resends as before");
    h.run_next_timer();
    assert_eq!(sent_sizes(&mut h), [1240], "the second one at the next step down");
    let info = h.stack.tcp_sockets().into_iter().find(|i| i.handle == conn).expect("listed");
    assert_eq!(info.path_mtu, Some(1280));
    assert_eq!(h.stack.counters().tcp_pmtu_blackholes, 1);
}
