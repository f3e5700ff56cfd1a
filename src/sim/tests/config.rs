//! Stream integrity whatever the two hosts are configured with: receive and send
//! buffers from 2 KiB (zero windows, persist probes, window updates that get
//! lost), options on or off on either side (so each pair negotiates its own
//! subset: no SACK, no timestamps, no window scaling), MTUs down to 576 (1280 over IPv6), delayed
//! ACKs from none to 200 ms — and programs that read slowly.

use super::*;

/// The TCP knobs of one host, as a strategy.
#[derive(Clone, Debug)]
struct Knobs {
    recv_buffer: usize,
    send_buffer: usize,
    sack: bool,
    timestamps: bool,
    window_scaling: bool,
    mtu: usize,
    delayed_ack: Duration,
    /// The host's program reads at most this many bytes per this much time.
    slow: Option<(usize, Duration)>,
}

/// Knobs for a host of `family`: its MTU no lower than the family allows
/// ([`Family::min_mtu`]).
fn any_knobs(family: Family) -> impl Strategy<Value = Knobs> {
    let buffer = prop_oneof![2048usize..16_384, 16_384usize..=262_144];
    let slow = proptest::option::weighted(0.3, (256usize..8192, 1u64..300).prop_map(|(n, t)| (n, ms(t))));
    (
        buffer.clone(),
        buffer,
        any::<(bool, bool, bool)>(),
        family.min_mtu()..=1500,
        prop_oneof![Just(0u64), 1u64..=200],
        slow,
    )
        .prop_map(|(recv_buffer, send_buffer, (sack, timestamps, window_scaling), mtu, delayed_ack, slow)| Knobs {
            recv_buffer,
            send_buffer,
            sack,
            timestamps,
            window_scaling,
            mtu,
            delayed_ack: ms(delayed_ack),
            slow,
        })
}

impl Knobs {
    fn config(&self, family: Family, side: Side, seed: u64) -> StackConfig {
        let mut config = StackConfig { mtu: self.mtu, ..family.config(side, seed) };
        let tcp = &mut config.tcp;
        tcp.recv_buffer = self.recv_buffer;
        tcp.send_buffer = self.send_buffer;
        tcp.sack = self.sack;
        tcp.timestamps = self.timestamps;
        tcp.window_scaling = self.window_scaling;
        tcp.delayed_ack = self.delayed_ack;
        patient(&mut config);
        config
    }
}

fn check_configured(
    family: Family,
    link: LinkConfig,
    a: Knobs,
    b: Knobs,
    to_b: Vec<u8>,
    to_a: Vec<u8>,
) -> Result<(), TestCaseError> {
    let seed = link.seed;
    let mut sim = Sim::with_hosts(a.config(family, Side::A, seed), b.config(family, Side::B, seed), link);
    sim.check_invariants(true);
    run_case("configured", &mut sim, |sim| {
        let a_program = Program { slow: a.slow, ..Program::new(to_b.clone()) };
        let b_program = Program { slow: b.slow, ..Program::new(to_a.clone()) };
        let run = run_programs_to(sim, family.server(PORT), a_program, b_program, TCP_BOUND)
            .map_err(|e| TestCaseError::fail(format!("seed {seed:#x}: {e}")))?;
        prop_assert!(
            run.finished,
            "seed {:#x}: not both closed: A {:?} got {}/{}, B {:?} got {}/{}",
            seed,
            run.a.handle.and_then(|h| sim.a.tcp_state(h)),
            run.a.received.len(),
            to_a.len(),
            run.b.handle.and_then(|h| sim.b.tcp_state(h)),
            run.b.received.len(),
            to_b.len()
        );
        family.check_only_family_on_the_wire(sim, seed)?;
        check_delivered_and_freed(sim, seed, &run, &to_a, &to_b)
    })
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(128))]

    /// Both directions at once, up to 100 kB each, between two hosts configured
    /// independently, over a rough link.
    #[test]
    fn tcp_streams_arrive_intact_whatever_the_hosts_configuration(
        (family, a, b) in any_family().prop_flat_map(|f| (Just(f), any_knobs(f), any_knobs(f))),
        link in any_rough_link(0.05),
        ab in 0usize..=100_000,
        ba in 0usize..=100_000,
        content in any::<u64>(),
    ) {
        check_configured(family, link, a, b, bytes(ab, content), bytes(ba, !content))?;
    }
}
