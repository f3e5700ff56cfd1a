//! The library's rough edges a newcomer hit (issue 16), each pinned:
//!
//! * `State` is named at the crate root, `tunstack::State`, and prints as RFC
//!   9293 names it;
//! * `Instant` prints as seconds (`60.040000s`), not `Instant(60040000)`;
//! * a UDP flood into a full queue is one trace line a second, however many
//!   datagrams it drops — the next line says how many it stood for — and the
//!   queue's bound reads in words;
//! * the README's simulator snippets have their `use` lines (they are compiled
//!   as doctests: `cargo test --doc`, `ReadmeExamples` in lib.rs).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Lines;
use tunstack::explain::VirtualTime;
use tunstack::sim::{LinkConfig, Sim, ADDR_A, ADDR_B};
use tunstack::{Instant, QueueLimit, State};

#[test]
fn state_and_instant_read_well_from_the_crate_root() {
    let state: State = State::SynReceived;
    assert_eq!(state.name(), "SYN-RECEIVED");
    assert_eq!(format!("{:?}", Instant::from_micros(60_040_000)), "60.040000s");
    assert_eq!(format!("{}", Instant::from_millis(1)), "0.001000s");
}

#[test]
fn a_udp_flood_is_one_trace_line_a_second() {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(lines.clone())
        .with_ansi(false)
        .with_timer(VirtualTime)
        .with_env_filter("tunstack::queue=debug")
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut sim = Sim::new(LinkConfig { latency: Duration::from_millis(1), ..LinkConfig::default() });
    let sink = sim.b.udp_bind(SocketAddr::from((ADDR_B, 9))).expect("bind");
    sim.b.udp_set_recv_queue(sink, QueueLimit { datagrams: 2, bytes: 1 << 16 }).expect("queue bound");
    let source = sim.a.udp_bind(SocketAddr::from((ADDR_A, 5000))).expect("bind");
    // 300 datagrams in the first second, 300 in the next: nobody reads.
    for second in 0..2u64 {
        sim.wake_at(Instant::from_millis(second * 1_000 + 10));
        sim.run_until(Duration::from_secs(1), |sim| sim.now() >= Instant::from_millis(second * 1_000 + 10));
        for _ in 0..300 {
            sim.a.udp_send_to(source, &[0; 32], SocketAddr::from((ADDR_B, 9))).expect("send");
        }
        sim.run_until(Duration::from_millis(500), |_| false);
    }
    let text = lines.text();
    let overflows: Vec<&str> = text.lines().filter(|l| l.contains("queue overflow")).collect();
    assert_eq!(overflows.len(), 2, "one line a second, not one per datagram:\n{text}");
    assert!(overflows[0].contains("repeated=0 "), "{}", overflows[0]);
    // 298 dropped in the first second; one had its line, 297 waited for the next.
    assert!(overflows[1].contains("repeated=297 "), "{}", overflows[1]);
    assert!(overflows[0].contains("limit=2 datagrams / 65536 bytes"), "{}", overflows[0]);
}
