//! Reproducibility: one seed, one run, packet for packet; virtual time costs
//! no real time.

use super::*;

/// A link with some of everything, for the determinism tests.
fn faulty(seed: u64) -> LinkConfig {
    LinkConfig {
        latency: ms(20),
        jitter: ms(5),
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.1,
        corrupt: 0.02,
        seed,
        ..LinkConfig::default()
    }
}

fn traced_run(seed: u64) -> Vec<TraceEntry> {
    let mut sim = Sim::new(faulty(seed));
    sim.check_invariants(true);
    sim.record();
    let done =
        transfer(&mut sim, bytes(20_000, 1), Vec::new(), false, Duration::from_secs(600)).expect("no socket error");
    assert!(done.finished, "seed {seed}: the transfer finished");
    sim.trace().to_vec()
}

#[test]
fn same_seed_gives_the_same_packet_trace() {
    let first = traced_run(42);
    let second = traced_run(42);
    assert!(first.len() > 40, "a 20 kB transfer takes more than 40 packets, not {}", first.len());
    if let Some(i) = first.iter().zip(&second).position(|(x, y)| x != y) {
        panic!("seed 42: the traces differ at packet {i}: {:?} vs {:?}", first[i], second[i]);
    }
    assert_eq!(first.len(), second.len(), "seed 42: trace lengths");
}

#[test]
fn different_seed_gives_a_different_packet_trace() {
    assert!(traced_run(42) != traced_run(43), "seeds 42 and 43 gave the same trace");
}

#[test]
fn minutes_of_virtual_time_pass_without_waiting() {
    // A lost peer: every packet dropped, so A retransmits its SYN with backoff until
    // `connect` fails, about two minutes of virtual time.
    let mut sim = Sim::new(LinkConfig { loss: 1.0, ..LinkConfig::default() });
    sim.check_invariants(true);
    let started = std::time::Instant::now();
    let server = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let h = sim.a.tcp_connect(sim.now(), server).expect("connect starts");
    let failed = sim.run_until(Duration::from_secs(600), |sim| {
        sim.a.tcp_connect_status(h).is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock)
    });
    assert!(failed, "connect gave up");
    assert!(sim.now() > Instant::from_millis(60_000), "at {:?}", sim.now());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?} of real time", started.elapsed());
}
