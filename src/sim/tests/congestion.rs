//! Congestion control in the simulator: CUBIC against NewReno on a long fat path
//! with random loss (issue 13's figure).
//!
//! On a 100 Mbit/s path with a 40 ms RTT the bandwidth-delay product is 500 kB,
//! about 340 segments. With 1 % of packets lost at random neither controller gets
//! near it: a loss comes every ~100 segments. Reno's average window there is
//! 1.22/√p ≈ 12 segments (Mathis et al. 1997), so NewReno moves about
//! 1.22 · 1448 B / (40 ms · 0.1) ≈ 440 kB/s, 13.2 MB in 30 s. CUBIC's own curve
//! would give 1.054 · RTT^0.75 / p^0.75 ≈ 3 segments: it lives in its
//! Reno-friendly region (RFC 9438 §4.3, §5.2), built to match Reno's average
//! there, and gains only from cutting to 0.7 of the flight instead of 0.5.
//!
//! Measured (30 s, seeds 1–3): CUBIC 15.7 / 14.6 / 16.1 MB, NewReno 13.2 / 11.9 /
//! 14.8 MB: 1.19 / 1.23 / 1.09 ×. Issue 13 asked for 1.5 ×; that figure was only
//! reached while a RACK defect (one ACK's SACKed segments counted as reordered
//! against its cumulatively ACKed ones, see `rack.rs`) delayed loss detection and
//! let FlightSize run to 1.2–1.9 × cwnd, so that neither controller cut by its β.
//! With the defect fixed the RFC's prediction holds, and this test asserts it:
//! CUBIC at least matches NewReno, and NewReno sits on the Mathis curve.

use std::sync::Arc;

use super::*;
use crate::config::{CongestionAlgorithm, TcpConfig};
use crate::congestion::CongestionControl;

/// The path of the comparison: 100 Mbit/s, 20 ms each way, 1 % loss.
fn lossy_long_fat_path(seed: u64) -> LinkConfig {
    LinkConfig {
        bandwidth: Some(12_500_000),
        latency: ms(20),
        loss: 0.01,
        queue_limit: 1_000,
        seed,
        ..LinkConfig::default()
    }
}

/// What a bulk transfer did in a given time.
struct Bulk {
    /// Bytes B read.
    bytes: usize,
    /// Segments A judged lost.
    lost: u64,
}

/// B reads for `duration` of virtual time while A, using `cc`, writes as fast as
/// its buffer takes data. B's receive buffer starts at `recv_buffer` bytes.
fn bulk(cc: &CongestionAlgorithm, link: LinkConfig, duration: Duration, recv_buffer: usize) -> Bulk {
    let host = |addr, salt: u64| {
        let mut config = StackConfig { addr, seed: link.seed ^ salt, ..StackConfig::default() };
        config.tcp.congestion = cc.clone();
        config.tcp.recv_buffer = recv_buffer;
        config.tcp.recv_buffer_max = config.tcp.recv_buffer_max.max(recv_buffer);
        config
    };
    let mut sim = Sim::with_hosts(host(ADDR_A, 0xA), host(ADDR_B, 0xB), link);
    let server = Family::V4.server(PORT);
    let listener = sim.b.tcp_listen(server, 1).expect("port 80 is free");
    let conn = sim.a.tcp_connect(sim.now(), server).expect("a SYN goes out");
    let data = vec![0x5a; 1 << 16];
    let (mut received, mut peer) = (0, None);
    let mut buf = vec![0; 1 << 16];
    sim.run_until(duration, |sim| {
        let now = sim.now();
        while let Ok(1..) = sim.a.tcp_send(now, conn, &data) {}
        peer = peer.or_else(|| sim.b.tcp_accept(listener).ok().map(|(h, _)| h));
        while let Some(Ok(n @ 1..)) = peer.map(|b| sim.b.tcp_recv(now, b, &mut buf)) {
            received += n;
        }
        false
    });
    Bulk { bytes: received, lost: sim.a.counters().tcp_segments_lost }
}

/// Over 100 Mbit/s, 40 ms RTT and 1 % random loss, seed by seed: CUBIC moves at
/// least what NewReno does (RFC 9438 §5.2), and NewReno is within a quarter of
/// the Mathis model's 13.2 MB (a loss recovery that cut too little or too much
/// would leave it).
#[test]
fn cubic_at_least_matches_newreno_on_a_lossy_long_fat_path() {
    const TIME: Duration = Duration::from_secs(30);
    let mathis = 1.22 * 1448.0 / (0.040 * 0.01f64.sqrt()) * TIME.as_secs_f64();
    for seed in [1, 2, 3] {
        let recv_buffer = TcpConfig::default().recv_buffer;
        let cubic = bulk(&CongestionAlgorithm::Cubic, lossy_long_fat_path(seed), TIME, recv_buffer).bytes;
        let newreno = bulk(&CongestionAlgorithm::NewReno, lossy_long_fat_path(seed), TIME, recv_buffer).bytes;
        let ratio = cubic as f64 / newreno.max(1) as f64;
        eprintln!("seed {seed}: CUBIC {cubic} bytes, NewReno {newreno} bytes in {TIME:?}: {ratio:.2}×");
        assert!(ratio >= 1.0, "seed {seed}: CUBIC {cubic} vs NewReno {newreno} bytes ({ratio:.2}×)");
        let off = (newreno as f64 / mathis - 1.0).abs();
        assert!(off < 0.25, "seed {seed}: NewReno {newreno} bytes, Mathis {mathis:.0}");
    }
}

/// HyStart++ (RFC 9406) on a bottleneck with a deep queue: 10 Mbit/s, 40 ms, 500
/// packets of buffer (0.6 s), a receive window that does not stand in the way.
/// The path holds 34 segments; beyond that the queue and the RTT grow, HyStart++
/// leaves slow start for CSS (a round or two late: an RTT sample shows the queue
/// of one round trip earlier, and a round's minimum is its first sample) and then
/// congestion avoidance before the queue overflows. NewReno's slow start doubles
/// on until it does. (With a shallow queue, 120 packets, CSS comes too late to
/// prevent the overflow: both lose.)
#[test]
fn hystart_leaves_slow_start_before_the_queue_overflows() {
    let link =
        LinkConfig { bandwidth: Some(1_250_000), latency: ms(20), queue_limit: 500, seed: 6, ..LinkConfig::default() };
    const TIME: Duration = Duration::from_secs(5);
    let cubic = bulk(&CongestionAlgorithm::Cubic, link.clone(), TIME, 4 << 20);
    let newreno = bulk(&CongestionAlgorithm::NewReno, link, TIME, 4 << 20);
    eprintln!(
        "5 s: CUBIC {} bytes, {} lost; NewReno {} bytes, {} lost",
        cubic.bytes, cubic.lost, newreno.bytes, newreno.lost
    );
    assert_eq!(cubic.lost, 0, "HyStart++ exits on the delay, not on loss");
    assert!(newreno.lost > 50, "slow start overshoots: {} lost", newreno.lost);
    // The link moves 1.25 MB/s: CUBIC keeps it busy from the first seconds.
    assert!(cubic.bytes > 5_000_000, "{} bytes", cubic.bytes);
}

/// CUBIC is the default; a connection may choose another controller before it
/// sends data, not after.
#[test]
fn congestion_control_is_chosen_per_connection_before_data() {
    let mut sim = Sim::new(LinkConfig { latency: ms(5), seed: 4, ..LinkConfig::default() });
    let server = Family::V4.server(PORT);
    let listener = sim.b.tcp_listen(server, 1).expect("port 80 is free");
    let conn = sim.a.tcp_connect(sim.now(), server).expect("a SYN goes out");
    assert_eq!(sim.a.tcp_congestion(conn).ok(), Some("cubic"), "the default");
    sim.a.tcp_set_congestion(conn, CongestionAlgorithm::NewReno).expect("before data: allowed");
    let mut peer = None;
    let up = sim.run_until(Duration::from_secs(5), |sim| {
        peer = peer.or_else(|| sim.b.tcp_accept(listener).ok().map(|(h, _)| h));
        peer.is_some() && sim.a.tcp_state(conn) == Some(State::Established)
    });
    assert!(up, "connected");
    assert_eq!(sim.a.tcp_congestion(conn).ok(), Some("newreno"), "kept over the handshake's new MSS");
    let b = peer.expect("accepted");
    assert_eq!(sim.b.tcp_congestion(b).ok(), Some("cubic"));
    sim.a.tcp_send(sim.now(), conn, b"hello").expect("room in the buffer");
    let late = sim.a.tcp_set_congestion(conn, CongestionAlgorithm::Cubic);
    assert_eq!(late.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput), "not once data went out");
    assert_eq!(sim.a.tcp_congestion(conn).ok(), Some("newreno"));
}

/// A fixed window of 64 segments, paced at `rate` bytes per second if set.
#[derive(Debug)]
struct FixedWindow {
    mss: usize,
    rate: Option<u64>,
}

impl CongestionControl for FixedWindow {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn cwnd(&self) -> usize {
        64 * self.mss
    }
    fn ssthresh(&self) -> usize {
        usize::MAX
    }
    fn on_ack(&mut self, _: Instant, _: usize, _: usize) {}
    fn on_fast_retransmit(&mut self, _: Instant, _: usize) {}
    fn on_recovery_end(&mut self, _: usize) {}
    fn on_rto(&mut self, _: usize) {}
    fn on_idle_restart(&mut self) {}
    fn set_mss(&mut self, mss: usize) {
        self.mss = mss;
    }
    fn pacing_rate(&self) -> Option<u64> {
        self.rate
    }
}

/// When A sent each of its data segments, and its payload length.
fn data_departures(rate: Option<u64>) -> Vec<(Instant, usize)> {
    let mut config = StackConfig { addr: ADDR_A, seed: 1, ..StackConfig::default() };
    config.tcp.congestion = CongestionAlgorithm::Custom(Arc::new(move |mss| Box::new(FixedWindow { mss, rate })));
    let b = StackConfig { addr: ADDR_B, seed: 2, ..StackConfig::default() };
    let mut sim = Sim::with_hosts(config, b, LinkConfig { latency: ms(10), seed: 5, ..LinkConfig::default() });
    sim.check_invariants(true);
    sim.record();
    let data = bytes(100_000, 9);
    let run = transfer(&mut sim, data.clone(), Vec::new(), false, Duration::from_secs(10)).expect("runs");
    assert_eq!(run.b.received, data, "paced or not, the stream arrives whole");
    sim.trace()
        .iter()
        .filter(|e| e.direction == Direction::AToB && e.kind == TraceKind::Sent)
        .filter_map(|e| {
            let ihl = usize::from(e.packet.first()? & 0x0f) * 4;
            let thl = usize::from(e.packet.get(ihl + 12)? >> 4) * 4;
            let payload = e.packet.len().checked_sub(ihl + thl)?;
            (payload > 0).then_some((e.at, payload))
        })
        .collect()
}

/// A controller's pacing rate spaces the data segments `len / rate` apart (the
/// `Pace` timer); without one a window leaves in a burst.
#[test]
fn a_pacing_rate_spaces_the_data_segments() {
    const RATE: u64 = 1_000_000; // one byte a microsecond
    let paced = data_departures(Some(RATE));
    assert!(paced.len() >= 69, "{} data segments", paced.len());
    for pair in paced.windows(2) {
        let ((t0, len), (t1, _)) = (pair[0], pair[1]);
        let gap = t1.saturating_duration_since(t0);
        assert!(gap >= Duration::from_micros(len as u64), "{len} bytes at {t0:?}, the next {gap:?} later");
    }
    // 100 kB at 1 MB/s take at least 0.1 s to leave.
    let (first, last) = (paced[0].0, paced[paced.len() - 1].0);
    assert!(last.saturating_duration_since(first) >= ms(99));
    let burst = data_departures(None);
    assert!(burst.windows(2).any(|p| p[0].0 == p[1].0), "unpaced segments leave together");
}
