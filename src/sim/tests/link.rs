//! The link model alone, packet by packet: delays, serialisation, queue, drops,
//! burst loss, partitions and corruption.

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
    let slow = Some(1000);
    let mut link = Link::new(LinkConfig { mtu: 100, bandwidth: slow, queue_limit: 2, ..LinkConfig::default() });
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

/// Everything the link receives until `until`, with its arrival time.
fn deliveries(link: &mut Link, until: Instant) -> Vec<(Instant, Direction, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(at) = link.next_delivery().filter(|&t| t <= until) {
        while let Some((direction, packet)) = link.poll_delivery(at) {
            out.push((at, direction, packet));
        }
    }
    out
}

#[test]
fn bandwidth_adds_serialisation_delay_and_packets_queue_behind_each_other() {
    // 1,000,000 bytes/s: a 1000-byte packet takes 1 ms to transmit.
    let config = LinkConfig { latency: ms(10), bandwidth: Some(1_000_000), ..LinkConfig::default() };
    assert_eq!(config.serialisation(1000), ms(1));
    let mut link = Link::new(config);
    let t0 = Instant::from_millis(100);
    for i in 0..3 {
        link.send(t0, Direction::AToB, vec![i; 1000]);
    }
    link.send(t0, Direction::BToA, vec![9; 500]);
    let got = deliveries(&mut link, Instant::from_millis(1000));
    let times: Vec<(Instant, Direction)> = got.iter().map(|(t, d, _)| (*t, *d)).collect();
    assert_eq!(
        times,
        [
            (t0 + ms(10) + Duration::from_micros(500), Direction::BToA), // its own transmitter, half the size
            (t0 + ms(11), Direction::AToB),
            (t0 + ms(12), Direction::AToB),
            (t0 + ms(13), Direction::AToB),
        ]
    );
    // An idle transmitter starts at once: no queue left from the burst.
    let t1 = Instant::from_millis(500);
    link.send(t1, Direction::AToB, vec![0; 1000]);
    assert_eq!(link.next_delivery(), Some(t1 + ms(11)));
}

#[test]
fn a_full_queue_drops_the_tail_until_the_transmitter_frees_room() {
    let config = LinkConfig { bandwidth: Some(100_000), queue_limit: 3, ..LinkConfig::default() }; // 1000 B = 10 ms
    let mut link = Link::new(config);
    let t0 = Instant::ZERO;
    for i in 0..5 {
        link.send(t0, Direction::AToB, vec![i; 1000]);
    }
    assert_eq!(link.stats(Direction::AToB).dropped_queue, 2, "two found three ahead of them");
    // After the first transmission ends (10 ms) there is room for one more.
    link.send(t0 + ms(10), Direction::AToB, vec![5; 1000]);
    link.send(t0 + ms(10), Direction::AToB, vec![6; 1000]);
    assert_eq!(link.stats(Direction::AToB).dropped_queue, 3);
    let got: Vec<u8> = deliveries(&mut link, Instant::from_millis(1000)).iter().map(|(_, _, p)| p[0]).collect();
    assert_eq!(got, [0, 1, 2, 5], "drop-tail: the queued packets leave in order, the late ones never");
    assert!(config_delay_bounds_every_delivery(), "max_delay covers a full queue");
}

/// Whether `max_delay` covers the delivery of a packet behind a full queue.
fn config_delay_bounds_every_delivery() -> bool {
    let config = LinkConfig { bandwidth: Some(100_000), queue_limit: 3, jitter: ms(2), ..LinkConfig::default() };
    let bound = config.max_delay();
    let mut link = Link::new(config);
    for _ in 0..3 {
        link.send(Instant::ZERO, Direction::AToB, vec![0; 1500]);
    }
    deliveries(&mut link, Instant::from_millis(1000)).iter().all(|(t, ..)| *t - Instant::ZERO <= bound)
}

/// Send `n` packets one way, 1 ms apart; which were delivered.
fn survivors(config: LinkConfig, n: usize) -> Vec<bool> {
    survivors_spaced(config, n, ms(1))
}

/// Send `n` packets one way, `spacing` apart; which were delivered.
fn survivors_spaced(config: LinkConfig, n: usize, spacing: Duration) -> Vec<bool> {
    let mut link = Link::new(config);
    for i in 0..n {
        link.send(Instant::ZERO + spacing * i as u32, Direction::AToB, (i as u32).to_be_bytes().to_vec());
    }
    let mut arrived = vec![false; n];
    for (_, _, p) in deliveries(&mut link, Instant::ZERO + spacing * n as u32 + Duration::from_secs(1)) {
        arrived[u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize] = true;
    }
    arrived
}

/// The loss rate and the mean length of runs of consecutive losses.
fn loss_pattern(arrived: &[bool]) -> (f64, f64) {
    let lost = arrived.iter().filter(|&&a| !a).count();
    let runs = arrived.windows(2).filter(|w| w[0] && !w[1]).count() + usize::from(!arrived[0]);
    (lost as f64 / arrived.len() as f64, lost as f64 / runs.max(1) as f64)
}

#[test]
fn burst_loss_loses_the_configured_share_in_spells_of_the_configured_length() {
    let model = BurstLoss::gilbert(0.1, ms(8));
    assert!((model.long_run_loss() - 0.1).abs() < 1e-9);
    let n = 100_000;
    let burst = LinkConfig { burst: Some(model), seed: 11, ..LinkConfig::default() };
    // One packet a millisecond: a bad spell of 8 ms takes about 8 in a row.
    let (rate, run) = loss_pattern(&survivors(burst.clone(), n));
    assert!((rate - 0.1).abs() < 0.015, "loss rate {rate}");
    assert!((7.0..10.0).contains(&run), "mean burst {run} packets");
    // The same share lost independently comes in runs of about 1 / (1 − 0.1).
    let random = LinkConfig { loss: 0.1, seed: 11, ..LinkConfig::default() };
    let (rate, run) = loss_pattern(&survivors(random, n));
    assert!((rate - 0.1).abs() < 0.01 && run < 1.2, "independent loss: rate {rate}, runs {run}");
    // Seeded: the same bursts again.
    assert_eq!(survivors(burst.clone(), 2000), survivors(burst, 2000));
}

/// A spell lasts a time, not a number of packets: a sender that has backed off
/// to one packet every few seconds sees each one lost with the long-run rate,
/// independently — not an outage of ten packets, which would be minutes.
#[test]
fn a_sparse_sender_sees_bursts_as_independent_losses() {
    let burst = LinkConfig { burst: Some(BurstLoss::gilbert(0.1, ms(50))), seed: 12, ..LinkConfig::default() };
    let (rate, run) = loss_pattern(&survivors_spaced(burst, 20_000, Duration::from_secs(5)));
    assert!((rate - 0.1).abs() < 0.015 && run < 1.2, "rate {rate}, runs {run}");
}

#[test]
fn a_partition_drops_what_is_sent_or_due_while_it_lasts_then_heals() {
    let mut link = Link::new(LinkConfig { latency: ms(10), ..LinkConfig::default() });
    link.partition(Instant::from_millis(100), Instant::from_millis(200));
    link.send(Instant::from_millis(85), Direction::AToB, vec![1]); // arrives at 95: before
    link.send(Instant::from_millis(95), Direction::AToB, vec![2]); // would arrive at 105: cut on the way
    link.send(Instant::from_millis(150), Direction::BToA, vec![3]); // sent into the cut
    link.send(Instant::from_millis(200), Direction::AToB, vec![4]); // sent as it heals
    let got: Vec<u8> = deliveries(&mut link, Instant::from_millis(1000)).iter().map(|(_, _, p)| p[0]).collect();
    assert_eq!(got, [1, 4]);
    assert_eq!(link.stats(Direction::AToB).partitioned, 1);
    assert_eq!(link.stats(Direction::BToA).partitioned, 1);
}

#[test]
fn a_one_way_partition_cuts_only_its_direction_and_a_cut_never_heals() {
    let one_way =
        Partition { from: Instant::ZERO, until: Some(Instant::from_millis(50)), direction: Some(Direction::BToA) };
    let mut link = Link::new(LinkConfig { partitions: vec![one_way], ..LinkConfig::default() });
    link.send(Instant::from_millis(10), Direction::AToB, vec![1]);
    link.send(Instant::from_millis(10), Direction::BToA, vec![2]);
    link.cut(Instant::from_millis(100));
    link.send(Instant::from_millis(60), Direction::BToA, vec![3]);
    link.send(Instant::from_millis(1_000_000), Direction::AToB, vec![4]);
    let got: Vec<u8> = deliveries(&mut link, Instant::from_millis(2_000_000)).iter().map(|(_, _, p)| p[0]).collect();
    assert_eq!(got, [1, 3]);
}

#[test]
fn every_packet_is_accounted_for() {
    let config = LinkConfig {
        latency: ms(5),
        jitter: ms(5),
        loss: 0.1,
        burst: Some(BurstLoss::gilbert(0.05, ms(4))),
        duplicate: 0.1,
        reorder: 0.1,
        corrupt: 0.1,
        mtu: 1000,
        bandwidth: Some(200_000),
        queue_limit: 20,
        partitions: vec![Partition::healing(Instant::from_millis(300), Instant::from_millis(400))],
        seed: 5,
    };
    let mut link = Link::new(config);
    let mut rng = SplitMix64::new(9);
    for i in 0..2000u64 {
        let direction = if rng.chance(0.5) { Direction::AToB } else { Direction::BToA };
        link.send(Instant::from_micros(i * 500), direction, vec![0; rng.below(1100) as usize]);
    }
    deliveries(&mut link, Instant::from_millis(600));
    for direction in [Direction::AToB, Direction::BToA] {
        let s = *link.stats(direction);
        let ended = s.delivered + s.dropped_mtu + s.partitioned + s.dropped_queue + s.lost + s.burst_lost;
        assert_eq!(s.sent + s.duplicated, ended + link.in_flight(direction) as u64, "{direction:?}: {s:?}");
        assert!(s.dropped_mtu > 0 && s.partitioned > 0 && s.dropped_queue > 0 && s.lost > 0 && s.burst_lost > 0);
    }
}

#[test]
fn features_left_at_zero_do_not_change_what_a_seed_does() {
    let plain = LinkConfig { loss: 0.3, seed: 77, ..LinkConfig::default() };
    let later_cut = Partition::forever(Instant::from_millis(3_600_000));
    let extended = LinkConfig { bandwidth: Some(10_000_000), partitions: vec![later_cut], ..plain.clone() };
    assert_eq!(survivors(plain, 500), survivors(extended, 500));
}

#[test]
fn link_reconfigure_applies_to_later_packets_only() {
    let mut link = Link::new(LinkConfig { latency: ms(10), ..LinkConfig::default() });
    let t0 = Instant::ZERO;
    link.send(t0, Direction::AToB, vec![1]);
    link.reconfigure(LinkConfig { loss: 1.0, ..LinkConfig::default() });
    link.send(t0, Direction::AToB, vec![2]);
    assert_eq!(link.stats(Direction::AToB).lost, 1, "the partition drops the packet sent after it began");
    assert_eq!(link.poll_delivery(t0 + ms(10)), Some((Direction::AToB, vec![1])), "in flight before: still due");
    link.reconfigure(LinkConfig::default());
    link.send(t0 + ms(10), Direction::AToB, vec![3]);
    assert_eq!(link.poll_delivery(t0 + ms(11)), Some((Direction::AToB, vec![3])), "healed");
}
