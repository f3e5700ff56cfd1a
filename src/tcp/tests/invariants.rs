//! Each invariant of the stack (see [`crate::invariants`]) holds for a healthy
//! stack and is reported when broken on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use crate::shared::TcpHandle;
use crate::sim::{LinkConfig, Sim, ADDR_A, ADDR_B};
use crate::tcp::invariants::check_connection;
use crate::tcp::timer_table::Timer;
use crate::tcp::State;

/// Two hosts with an established connection A → B:80 (and B's listener).
fn connected() -> (Sim, TcpHandle, TcpHandle) {
    let mut sim = Sim::new(LinkConfig::default());
    sim.check_invariants(true);
    let server = SocketAddr::from((ADDR_B, 80));
    let listener = sim.b.tcp_listen(server, 8).expect("port 80 is free");
    let a = sim.a.tcp_connect(sim.now(), server).expect("connect starts");
    let mut b = None;
    let up = sim.run_until(Duration::from_secs(5), |sim| {
        b = b.or_else(|| sim.b.tcp_accept(listener).ok().map(|(h, _)| h));
        b.is_some() && sim.a.tcp_state(a) == Some(State::Established)
    });
    assert!(up, "the handshake completes on a perfect link");
    (sim, a, b.expect("accepted"))
}

/// The message of the broken invariant, which must be there.
fn broken(sim: &Sim) -> String {
    sim.a.check_invariants().expect_err("an invariant is broken")
}

#[test]
fn a_busy_healthy_pair_keeps_every_invariant_at_every_step() {
    let (mut sim, a, b) = connected();
    let udp = sim.a.udp_bind(SocketAddr::from((ADDR_A, 0))).expect("an ephemeral UDP port");
    sim.b.udp_bind(SocketAddr::from((ADDR_B, 9))).expect("port 9 is free");
    sim.a.udp_send_to(udp, &[7; 3000], SocketAddr::from((ADDR_B, 9))).expect("queued");
    let data = vec![0x5a; 300_000];
    let (mut sent, mut got) = (0, 0);
    // `check_invariants(true)` panics at the first step that breaks one.
    let done = sim.run_until(Duration::from_secs(60), |sim| {
        let now = sim.now();
        sent += sim.a.tcp_send(now, a, &data[sent..]).unwrap_or(0);
        let mut buf = [0; 8192];
        while let Ok(n @ 1..) = sim.b.tcp_recv(now, b, &mut buf) {
            got += n;
        }
        got == data.len()
    });
    assert!(done, "B read all {} bytes", data.len());
    assert_eq!(sim.a.check_invariants(), Ok(()));
    assert_eq!(sim.b.check_invariants(), Ok(()));
}

#[test]
fn a_udp_port_bound_without_a_socket_is_a_leak() {
    let (mut sim, _, _) = connected();
    sim.a.udp_table_mut().ports_mut().bind(5000).expect("free");
    assert!(broken(&sim).contains("a port leaked"), "{}", broken(&sim));
}

#[test]
fn a_tcp_port_bound_without_an_owner_is_a_leak() {
    let (mut sim, _, _) = connected();
    sim.a.tcp_table_mut().ports.bind(6000).expect("free");
    assert!(
        broken(&sim).contains("ports [6000] are bound but no listener or connection owns them"),
        "{}",
        broken(&sim)
    );
}

#[test]
fn snd_una_after_snd_nxt_is_reported() {
    let (mut sim, a, _) = connected();
    let tcb = sim.a.tcp_table_mut().conns.get_mut(&a).expect("live");
    tcb.snd.snd_una = tcb.snd.snd_nxt + 1;
    assert!(broken(&sim).contains("is after SND.NXT"), "{}", broken(&sim));
}

#[test]
fn more_in_flight_than_the_peer_ever_offered_is_reported() {
    let (mut sim, a, _) = connected();
    let now = sim.now();
    sim.a.tcp_send(now, a, &[1; 20_000]).expect("buffered");
    let tcb = sim.a.tcp_table_mut().conns.get_mut(&a).expect("live");
    assert!(tcb.snd.in_flight() > 10_000, "the initial window went out at once");
    tcb.snd.max_snd_wnd = 10_000;
    assert!(broken(&sim).contains("in flight but the peer never offered more than 10000"), "{}", broken(&sim));
}

#[test]
fn data_in_flight_without_a_retransmission_timer_is_reported() {
    let (mut sim, a, _) = connected();
    let now = sim.now();
    sim.a.tcp_send(now, a, &[1; 1000]).expect("buffered");
    let tcb = sim.a.tcp_table_mut().conns.get_mut(&a).expect("live");
    tcb.timers.stop(Timer::Retransmit);
    tcb.timers.stop(Timer::LossProbe);
    let err = check_connection(tcb).expect_err("nothing would resend the data");
    assert!(err.contains("1000 bytes in flight and no retransmission timer"), "{err}");
}

#[test]
fn a_window_larger_than_the_free_buffer_is_reported() {
    let (mut sim, a, _) = connected();
    let tcb = sim.a.tcp_table_mut().conns.get_mut(&a).expect("live");
    tcb.rcv.capacity = 1000;
    assert!(broken(&sim).contains("window of"), "{}", broken(&sim));
}

/// Our FIN is a fact of the state alone (FIN-WAIT-2 says it was sent and
/// acknowledged), so what can disagree is the state and the sequence numbers.
#[test]
fn a_state_the_sequence_numbers_contradict_is_reported() {
    let (mut sim, a, _) = connected();
    sim.a.tcp_table_mut().conns.get_mut(&a).expect("live").set_state(State::FinWait2, "planted");
    assert!(broken(&sim).contains("in FIN-WAIT-2: our FIN acknowledged: false"), "{}", broken(&sim));
}

#[test]
fn a_2msl_timer_outside_time_wait_is_reported() {
    let (mut sim, a, _) = connected();
    let now = sim.now();
    let tcb = sim.a.tcp_table_mut().conns.get_mut(&a).expect("live");
    tcb.timers.set(Timer::TimeWait, now);
    let err = check_connection(tcb).expect_err("a 2MSL timer outside TIME-WAIT");
    assert!(err.contains("the 2MSL timer runs: true"), "{err}");
}

#[test]
fn a_connection_missing_from_the_timer_set_is_reported() {
    let (mut sim, a, _) = connected();
    let now = sim.now();
    sim.a.tcp_send(now, a, &[1; 1000]).expect("buffered");
    sim.a.tcp_table_mut().timers.clear();
    assert!(broken(&sim).contains("timers for 1 scheduled connections"), "{}", broken(&sim));
}

#[test]
fn a_wrong_half_open_count_is_reported() {
    let (mut sim, _, _) = connected();
    let listener = sim.b.tcp_table_mut().listeners.values_mut().next().expect("B listens");
    listener.half_open += 1;
    let err = sim.b.check_invariants().expect_err("no connection is half open");
    assert!(err.contains("counts 1 half-open, has 0"), "{err}");
}

#[test]
#[should_panic(expected = "host A broke an invariant")]
fn the_simulator_panics_at_the_first_broken_invariant() {
    let (mut sim, a, _) = connected();
    sim.a.tcp_table_mut().conns.get_mut(&a).expect("live").rcv.capacity = 1000;
    sim.step(sim.now() + Duration::from_secs(1));
}
