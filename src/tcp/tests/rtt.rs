//! RTT samples from timestamps (RFC 7323 §4) and the retransmission timer they
//! set (RFC 6298).

use std::time::Duration;

use super::harness::*;
use super::segment::{mss, sack_perm, seg, ts, ws};
use crate::shared::TcpHandle;

/// Passive open from a peer 50 ms away that offers timestamps (its clock starts
/// at 5000), accepted; afterwards the stack's SEQ is 1 and the peer's 1001.
fn established_with_timestamps(h: &mut Harness) -> TcpHandle {
    let listener = h.listen(8);
    h.send(seg("S", PEER_ISS).win(PEER_WIN).opts([mss(1460), ts(5000, 0)]));
    let syn_ack = h.clock();
    h.expect(seg("S.", 0).ack(PEER_ISS + 1).win(WIN).opts([mss(OUR_MSS), ts(syn_ack, 5000)]));
    h.advance(Duration::from_millis(50));
    h.send(seg(".", PEER_ISS + 1).ack(1).win(PEER_WIN).opts([ts(5001, syn_ack)]));
    let (handle, _) = h.stack.tcp_accept(listener).expect("the handshake is complete");
    h.events();
    handle
}

/// The program writes 1000 bytes at SEQ `seq`; they go out at once. Returns the
/// TSval they carry.
fn write_1000(h: &mut Harness, handle: TcpHandle, seq: u32, peer_ts: u32) -> u32 {
    let data = [7u8; 1000];
    assert_eq!(h.stack.tcp_send(h.now, handle, &data).expect("room"), 1000);
    let sent_at = h.clock();
    h.expect(seg("P.", seq).ack(PEER_ISS + 1).win(WIN).opts([ts(sent_at, peer_ts)]).data(&data));
    sent_at
}

fn srtt(h: &Harness, handle: TcpHandle) -> Option<Duration> {
    h.stack.tcp_table().conns[&handle].snd.rtt.srtt()
}

/// Found by the simulator's configuration property (seed 0xed52983761991771,
/// timestamps on, 7 % loss and burst loss): the ACK of a segment was lost, the
/// segment was retransmitted by timeout again and again, and the peer — which
/// already had it — answered a retransmission with an ACK that echoed the TSval
/// of the *first* copy (RFC 7323 §5.3: a duplicate outside the window does not
/// update TS.Recent; Linux does the same). Taking `now − TSecr` as an RTT sample
/// measured the lost ACKs, not the path: 310 s there, which pinned SRTT and the
/// RTO at the 120 s maximum for the rest of the transfer, so every later loss cost
/// two minutes and the transfer missed its 30-minute bound.
///
/// The rule now applied (Karn's, RFC 6298 §3, carried over to timestamps): an
/// echo older than the latest transmission of the first segment it acknowledges
/// comes from a copy whose ACKs went missing, and is not a sample. The back-off
/// stays until a clean sample ends it, as RFC 6298 §5.7 and Karn require.
#[test]
fn an_echo_of_an_earlier_copy_of_a_retransmitted_segment_is_not_an_rtt_sample() {
    let mut h = Harness::new();
    let conn = established_with_timestamps(&mut h);
    // A clean exchange: 50 ms.
    let first = write_1000(&mut h, conn, 1, 5001);
    h.advance(Duration::from_millis(50));
    h.send(seg(".", PEER_ISS + 1).ack(1001).win(PEER_WIN).opts([ts(5002, first)]));
    assert_eq!(srtt(&h, conn), Some(Duration::from_millis(50)));

    // The next segment's ACKs are lost; five timeouts, each twice the last.
    let second = write_1000(&mut h, conn, 1001, 5002);
    for wait in [200, 400, 800, 1600, 3200] {
        assert_eq!(h.run_next_timer(), Duration::from_millis(wait));
        h.expect(seg(".", 1001).ack(PEER_ISS + 1).win(WIN).opts([ts(h.clock(), 5002)]).data(&[7; 1000]));
    }
    // The peer had the first copy all along and echoes its TSval, 6.2 s ago.
    h.advance(Duration::from_millis(50));
    h.send(seg(".", PEER_ISS + 1).ack(2001).win(PEER_WIN).opts([ts(5003, second)]));
    assert_eq!(srtt(&h, conn), Some(Duration::from_millis(50)), "6.25 s of lost ACKs is not a round trip");

    // The next clean sample ends the back-off, and the RTO is what the path says.
    let third = write_1000(&mut h, conn, 2001, 5003);
    h.advance(Duration::from_millis(50));
    h.send(seg(".", PEER_ISS + 1).ack(3001).win(PEER_WIN).opts([ts(5004, third)]));
    write_1000(&mut h, conn, 3001, 5004);
    assert_eq!(h.next_timer(), Some(Duration::from_millis(200)), "RFC 6298 §2.4: SRTT + 4·RTTVAR, at least 200 ms");
}

/// The same for the handshake (found by the same property, seed
/// 0x13e024f48c49d4f0, a 7 s partition at the start): our SYN went out at 0, 1,
/// 3, 7, 15 and 31 s; the peer had answered the first, and its SYN,ACK that got
/// through at 31 s still echoed the first SYN's TSval. `now − TSecr` = 31 s made
/// the RTO 95 s, and the first data loss afterwards stalled the transfer for a
/// minute and a half.
#[test]
fn an_echo_of_an_earlier_copy_of_our_syn_is_not_an_rtt_sample() {
    let mut h = Harness::new();
    let conn = h.connect();
    let syn = |clock| seg("S", 0).win(WIN).opts([mss(OUR_MSS), sack_perm(), ts(clock, 0), ws(OUR_WS)]);
    let first = h.clock();
    h.expect(syn(first));
    for wait in [1, 2] {
        assert_eq!(h.run_next_timer(), Duration::from_secs(wait));
        h.expect(syn(h.clock()));
    }
    h.advance(Duration::from_millis(50));
    h.send(seg("S.", PEER_ISS).ack(1).win(PEER_WIN).opts([mss(1460), ts(5000, first)]));
    h.expect(seg(".", 1).ack(PEER_ISS + 1).win(WIN).opts([ts(h.clock(), 5000)]));
    assert_eq!(srtt(&h, conn), None, "3.05 s since the first SYN is not a round trip");

    // The first clean sample sets the RTO from the path.
    let data = write_1000(&mut h, conn, 1, 5000);
    h.advance(Duration::from_millis(50));
    h.send(seg(".", PEER_ISS + 1).ack(1001).win(PEER_WIN).opts([ts(5001, data)]));
    assert_eq!(srtt(&h, conn), Some(Duration::from_millis(50)));
}
