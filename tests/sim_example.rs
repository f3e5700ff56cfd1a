//! The example of README's "Testing your own stack or protocol": a property test
//! over the simulator, written from outside the crate with its public API only.

use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use tunstack::sim::{BurstLoss, LinkConfig, Partition, Sim, ADDR_B};
use tunstack::Instant;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the link does — random and burst loss, a two-second outage —
    /// B reads exactly the bytes A wrote. (README's example, kept as short as it
    /// is there: IPv4. The crate's own properties, `src/sim/tests/`, run the same
    /// stream over IPv6 too.)
    #[test]
    fn bytes_arrive_intact(seed in any::<u64>(), loss in 0.0..0.1, data in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let link = LinkConfig {
            latency: Duration::from_millis(10),
            loss,
            burst: Some(BurstLoss::gilbert(0.02, Duration::from_millis(20))),
            partitions: vec![Partition::healing(Instant::from_millis(100), Instant::from_millis(2_100))],
            seed,
            ..LinkConfig::default()
        };
        let mut sim = Sim::new(link);
        sim.check_invariants(true); // panics at the first broken rule, naming the seed
        let server = SocketAddr::from((ADDR_B, 80));
        let listener = sim.b.tcp_listen(server, 1).expect("port 80 is free");
        let client = sim.a.tcp_connect(sim.now(), server).expect("a SYN goes out");
        let (mut sent, mut received, mut peer) = (0, Vec::new(), None);
        let done = sim.run_until(Duration::from_secs(600), |sim| {
            let now = sim.now();
            sent += sim.a.tcp_send(now, client, &data[sent..]).unwrap_or(0);
            peer = peer.or_else(|| sim.b.tcp_accept(listener).ok().map(|(handle, _)| handle));
            let mut buf = [0; 4096];
            while let Some(Ok(n @ 1..)) = peer.map(|b| sim.b.tcp_recv(now, b, &mut buf)) {
                received.extend_from_slice(&buf[..n]);
            }
            received.len() == data.len()
        });
        prop_assert!(done, "seed {:#x}: B read {} of {} bytes", seed, received.len(), data.len());
        prop_assert_eq!(received, data, "seed {:#x}", seed);
    }
}
