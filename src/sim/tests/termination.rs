//! Termination: every connection ends, and within a bound computed from the
//! configuration — never "eventually".
//!
//! * **Both close.** Once both programs have closed and both connections are in
//!   TIME-WAIT or CLOSED, only TIME-WAIT remains, and it lasts 2·MSL after the
//!   last FIN it received (RFC 9293 §3.10.7.4 restarts it for a retransmitted
//!   FIN). The peer is in TIME-WAIT or CLOSED too, so it sends no new FIN; the last
//!   one is at most the link's longest delay away. Hence everything is freed
//!   within 2·MSL plus that delay, and no port stays bound
//!   ([`check_freed_after_close`], run after every stream property).
//! * **One side dead.** A host whose peer halts with data unacknowledged gives up
//!   with `TimedOut` at its retry limit ([`give_up_bound`]).

use super::*;
use crate::config::TcpConfig;
use crate::tcp::Keepalive;

/// After a finished transfer, run until both hosts have freed every connection:
/// within 2·MSL plus the link's longest delay, and leaving no TCP port bound but
/// B's listener. One side must have gone through TIME-WAIT (`saw_time_wait`, as
/// seen by the programs during the transfer): RFC 9293's close always takes the
/// side whose FIN is acknowledged last there, unless a connection gave up
/// retransmitting. That TIME-WAIT may have ended already: a peer whose
/// retransmissions backed off beyond 2·MSL finds no connection and is answered
/// with RST (RFC 9293 §3.10.7.1), which closes it.
pub(super) fn check_freed_after_close(sim: &mut Sim, seed: u64, saw_time_wait: bool) -> Result<(), TestCaseError> {
    let msl = sim.a.config().tcp.msl.max(sim.b.config().tcp.msl);
    let bound = msl * 2 + sim.link().config().max_delay();
    let freed = sim.run_until(bound, |sim| sim.a.tcp_connection_count() == 0 && sim.b.tcp_connection_count() == 0);
    prop_assert!(
        freed,
        "seed {:#x}: connections left {:?} after both closed: A {:?}, B {:?}",
        seed,
        bound,
        sim.a.tcp_sockets(),
        sim.b.tcp_sockets()
    );
    let gave_up = sim.a.counters().tcp_timeouts + sim.b.counters().tcp_timeouts > 0;
    prop_assert!(saw_time_wait || gave_up, "seed {:#x}: neither side went through TIME-WAIT", seed);
    prop_assert_eq!(sim.a.tcp_ports().len(), 0, "seed {:#x}: A's ephemeral port is still bound", seed);
    prop_assert_eq!(sim.b.tcp_ports().len(), 1, "seed {:#x}: B has more bound than its listener", seed);
    Ok(())
}

/// The longest a host keeps trying after its peer went silent, before the
/// connection fails with `TimedOut`:
///
/// * packets the peer sent before it died may still arrive (up to `max_delay`
///   of the link) and acknowledge data, which resets the retry count;
/// * a tail loss probe pending then may fire and re-arm the retransmission timer
///   (at most one RTO later, RFC 8985 §7.2);
/// * then each retransmission timeout waits at most `rto.max` (RFC 6298 §5.5:
///   back off, capped), and the connection fails at the first timeout past its
///   limit: `syn_retries` (`syn_ack_retries` for a passive open) during the
///   handshake, `max_retries` after it (RFC 9293
///   §3.8.3's R2). Unanswered zero-window probes give up after as many tries,
///   each at most `rto.max` apart.
fn give_up_bound(config: &TcpConfig, max_delay: Duration) -> Duration {
    let timeouts = config.max_retries.max(config.syn_retries).max(config.syn_ack_retries) + 1;
    max_delay + config.rto.max * (timeouts + 1)
}

/// Both hosts send (so the survivor always has data for the dead one); `victim`
/// halts after `deliveries` packets reached it, fewer than its peer's data
/// needs, so the survivor is left with data unacknowledged. The survivor must
/// end within [`give_up_bound`] of the death, at exactly its retry limit: its
/// program sees `TimedOut`, or — when no program holds the connection any more
/// (never accepted, or already closed by its program) — the stack frees it
/// after counting a timeout. Its port is released.
fn check_peer_death(
    family: Family,
    link: LinkConfig,
    victim: Side,
    deliveries: u64,
    to_b: Vec<u8>,
    to_a: Vec<u8>,
) -> Result<(), TestCaseError> {
    let seed = link.seed;
    let mut sim = patient_hosts_in(link, family);
    run_case("peer_death", &mut sim, |sim| peer_death(sim, family, seed, victim, deliveries, to_b, to_a))
}

fn peer_death(
    sim: &mut Sim,
    family: Family,
    seed: u64,
    victim: Side,
    deliveries: u64,
    to_b: Vec<u8>,
    to_a: Vec<u8>,
) -> Result<(), TestCaseError> {
    let survivor = match victim {
        Side::A => Side::B,
        Side::B => Side::A,
    };
    sim.halt_after(victim, deliveries);
    let server = family.server(PORT);
    let listener = sim.b.tcp_listen(server, 8).map_err(|e| TestCaseError::fail(format!("listen: {e}")))?;
    let mut a = Program::new(to_b);
    let mut b = Program::new(to_a);
    a.handle = Some(sim.a.tcp_connect(sim.now(), server).map_err(|e| TestCaseError::fail(format!("connect: {e}")))?);
    let config = sim.stack(survivor).config().tcp.clone();
    let bound = give_up_bound(&config, sim.link().config().max_delay());
    let mut died_at = None;
    // `Err`: the survivor's program saw this error; `Ok`: the connection is gone
    // (never accepted, or closed by its program and then freed by the stack).
    let mut outcome: Option<io::Result<()>> = None;
    sim.run_until(TCP_BOUND + bound, |sim| {
        let now = sim.now();
        if died_at.is_none() && sim.is_halted(victim) {
            died_at = Some(now);
        }
        if b.handle.is_none() && !sim.is_halted(Side::B) {
            b.handle = sim.b.tcp_accept(listener).ok().map(|(h, _)| h);
        }
        for (host, program) in [(Side::A, &mut a), (Side::B, &mut b)] {
            if sim.is_halted(host) {
                continue;
            }
            if let Err(e) = program.turn(sim.stack_mut(host), now) {
                let who = if host == survivor { "" } else { " (the victim, before it died)" };
                outcome = Some(Err(io::Error::new(e.kind(), format!("{host:?}{who}: {e}"))));
            }
        }
        if died_at.is_some() && sim.stack(survivor).tcp_connection_count() == 0 {
            outcome = outcome.take().or(Some(Ok(())));
        }
        outcome.is_some()
    });
    let died_at = died_at.ok_or_else(|| {
        TestCaseError::fail(format!("seed {seed:#x}: {victim:?} never received {deliveries} packets"))
    })?;
    let took = sim.now() - died_at;
    match outcome {
        Some(Err(e)) => prop_assert_eq!(e.kind(), io::ErrorKind::TimedOut, "seed {:#x}: {}", seed, e),
        // Freed without a program to tell: it must have timed out, not finished.
        Some(Ok(())) => prop_assert!(sim.stack(survivor).counters().tcp_timeouts > 0, "seed {:#x}: freed", seed),
        None => prop_assert!(false, "seed {:#x}: {:?} still trying {:?} after {:?} died", seed, survivor, took, victim),
    }
    prop_assert!(took <= bound, "seed {:#x}: gave up {:?} after the death, bound {:?}", seed, took, bound);
    let program = if survivor == Side::A { &a } else { &b };
    let held = program.handle.and_then(|h| Some((h, sim.stack(survivor).tcp_table().retries(h)?)));
    if let Some((h, retries)) = held {
        let limits = [config.max_retries + 1, config.syn_retries + 1, config.syn_ack_retries + 1];
        prop_assert!(
            limits.contains(&retries),
            "seed {:#x}: gave up after {} timeouts, limits {:?}",
            seed,
            retries,
            limits
        );
        let stack = sim.stack_mut(survivor);
        stack.tcp_close(died_at + took, h);
        prop_assert_eq!(stack.tcp_connection_count(), 0, "seed {:#x}: the failed connection is freed on close", seed);
    }
    let own_ports = usize::from(survivor == Side::B);
    prop_assert_eq!(sim.stack(survivor).tcp_ports().len(), own_ports, "seed {:#x}: a port leaked", seed);
    Ok(())
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(64))]

    /// Either host dies mid-transfer; the other gives up in bounded time.
    #[test]
    fn tcp_survivor_gives_up_when_the_peer_dies(
        family in any_family(),
        link in any_rough_link(0.10),
        victim_is_a in any::<bool>(),
        deliveries in 1u64..20,
        ab in 30_000usize..=100_000,
        ba in 30_000usize..=100_000,
        content in any::<u64>(),
    ) {
        let victim = if victim_is_a { Side::A } else { Side::B };
        check_peer_death(family, link, victim, deliveries, bytes(ab, content), bytes(ba, !content))?;
    }
}

/// The bound's arithmetic on the defaults: 15 retries of at most 120 s each,
/// plus one for a loss probe, plus the link's delay.
#[test]
fn give_up_bound_follows_the_rto_config() {
    let bound = give_up_bound(&TcpConfig::default(), ms(30));
    assert_eq!(bound, Duration::from_secs(120 * 17) + ms(30));
}

/// `halt_after` crashes a host right after the packet it names: B takes in the
/// SYN (a half-open connection exists) but never answers it.
#[test]
fn halt_after_stops_a_host_right_after_that_packet() {
    let mut sim = Sim::new(LinkConfig::default());
    let server = Family::V4.server(PORT);
    sim.b.tcp_listen(server, 8).expect("port 80 is free");
    sim.halt_after(Side::B, 1);
    let a = sim.a.tcp_connect(sim.now(), server).expect("connect starts");
    sim.run_until(Duration::from_secs(5), |sim| sim.is_halted(Side::B));
    assert!(sim.is_halted(Side::B));
    assert_eq!(sim.b.tcp_connection_count(), 1, "B processed the SYN");
    sim.run_until(Duration::from_secs(30), |_| false);
    assert_eq!(sim.link().stats(Direction::BToA).sent, 0, "and never answered");
    assert!(sim.link().stats(Direction::AToB).delivered > 1, "A kept retrying");
    assert_eq!(sim.a.tcp_state(a), Some(State::SynSent));
}

/// A connection A → B:80 on a link with `latency` each way, established and
/// accepted; returns A's handle.
fn idle_connection(sim: &mut Sim) -> TcpHandle {
    let server = SocketAddr::from((ADDR_B, 80));
    let listener = sim.b.tcp_listen(server, 1).expect("port 80 is free");
    let a = sim.a.tcp_connect(sim.now(), server).expect("a SYN goes out");
    let mut accepted = None;
    let up = sim.run_until(Duration::from_secs(10), |sim| {
        accepted = accepted.or_else(|| sim.b.tcp_accept(listener).ok());
        accepted.is_some() && sim.a.tcp_state(a) == Some(State::Established)
    });
    assert!(up, "the handshake completes on a clean link");
    // Let the last ACK land: from here on, nothing is in flight.
    sim.run_until(Duration::from_secs(1), |_| false);
    a
}

/// RFC 1122 4.2.3.6 in virtual time: a peer that dies while the connection idles
/// is noticed exactly `idle + probes × interval` after the keepalive clock
/// started (the last time A heard from B is before it), and the connection fails
/// with `TimedOut`.
#[test]
fn keepalive_notices_a_dead_peer_exactly_idle_plus_probes_times_interval_later() {
    let mut sim = Sim::new(LinkConfig { latency: Duration::from_millis(5), ..LinkConfig::default() });
    sim.check_invariants(true);
    let a = idle_connection(&mut sim);
    let keepalive =
        Keepalive { enabled: true, idle: Duration::from_secs(60), interval: Duration::from_secs(5), probes: 4 };
    let started = sim.now();
    sim.a.tcp_set_keepalive(started, a, keepalive).expect("open");
    sim.halt(Side::B);
    let gone = sim.run_until(Duration::from_secs(600), |sim| sim.a.tcp_state(a) == Some(State::Closed));
    assert!(gone, "A gives up on its dead peer");
    assert_eq!(sim.now().saturating_duration_since(started), Duration::from_secs(60 + 4 * 5));
    assert_eq!(sim.a.counters().tcp_keepalive_probes, 4);
    let mut buf = [0; 4];
    assert_eq!(sim.a.tcp_recv(sim.now(), a, &mut buf).expect_err("gone").kind(), io::ErrorKind::TimedOut);
}

/// RFC 5482 in virtual time: with data in flight to a dead peer, the user
/// timeout ends the connection exactly that long after the data was sent.
#[test]
fn the_user_timeout_ends_a_connection_to_a_dead_peer_exactly_on_time() {
    let mut sim = Sim::new(LinkConfig { latency: Duration::from_millis(5), ..LinkConfig::default() });
    sim.check_invariants(true);
    let a = idle_connection(&mut sim);
    let sent = sim.now();
    sim.a.tcp_set_user_timeout(sent, a, Some(Duration::from_secs(20))).expect("open");
    sim.halt(Side::B);
    sim.a.tcp_send(sent, a, &[7; 1000]).expect("buffered");
    let gone = sim.run_until(Duration::from_secs(600), |sim| sim.a.tcp_state(a) == Some(State::Closed));
    assert!(gone, "A gives up on its dead peer");
    assert_eq!(sim.now().saturating_duration_since(sent), Duration::from_secs(20));
    assert_eq!(sim.a.counters().tcp_timeouts, 1);
}
