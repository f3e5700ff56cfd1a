//! The link model alone: delays, drops and corruption, packet by packet.

use super::*;

#[test]
fn link_delays_by_latency_and_a_reordered_packet_skips_it() {
    let mut link = Link::new(LinkConfig { latency: ms(10), ..LinkConfig::default() });
    let t0 = Instant::from_millis(100);
    link.send(t0, Direction::AToB, vec![1]);
    assert_eq!(link.next_delivery(), Some(t0 + ms(10)));
    assert_eq!(link.poll_delivery(t0 + ms(9)), None, "not due yet");
    assert_eq!(link.poll_delivery(t0 + ms(10)), Some((Direction::AToB, vec![1])));

    let mut link = Link::new(LinkConfig { latency: ms(10), reorder: 1.0, ..LinkConfig::default() });
    link.send(t0, Direction::BToA, vec![2]);
    assert_eq!(link.poll_delivery(t0), Some((Direction::BToA, vec![2])), "due at once");
    assert_eq!(link.stats(Direction::BToA).reordered, 1);
}

#[test]
fn link_counts_oversize_and_queue_overflow_drops_per_direction() {
    let mut link = Link::new(LinkConfig { mtu: 100, queue_limit: 2, ..LinkConfig::default() });
    let now = Instant::ZERO;
    link.send(now, Direction::AToB, vec![0; 101]);
    for _ in 0..3 {
        link.send(now, Direction::AToB, vec![0; 100]);
    }
    link.send(now, Direction::BToA, vec![0; 10]);
    let ab = *link.stats(Direction::AToB);
    assert_eq!((ab.sent, ab.dropped_mtu, ab.dropped_queue), (4, 1, 1));
    assert_eq!(link.stats(Direction::BToA).dropped_queue, 0, "each direction has its own queue");
}

#[test]
fn link_corruption_flips_exactly_one_bit() {
    let mut link = Link::new(LinkConfig { corrupt: 1.0, seed: 3, ..LinkConfig::default() });
    let packet = bytes(64, 1);
    link.send(Instant::ZERO, Direction::AToB, packet.clone());
    let (_, got) = link.poll_delivery(Instant::from_millis(1)).expect("one packet is due");
    let flipped: u32 = packet.iter().zip(&got).map(|(a, b)| (a ^ b).count_ones()).sum();
    assert_eq!(flipped, 1);
}
