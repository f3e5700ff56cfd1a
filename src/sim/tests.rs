//! The simulator's own tests, and the properties it exists to check: over any
//! seeded faulty link, TCP delivers exactly the bytes written and closes, and UDP
//! delivers datagrams whole or not at all.

use std::io;
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::config::StackConfig;
use crate::rng::SplitMix64;
use crate::tcp::state::State;
use crate::tcp::TcpHandle;

const PORT: u16 = 80;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `len` pseudo-random bytes from `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

// ---- the link alone -------------------------------------------------------

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

#[test]
fn link_corruption_flips_exactly_one_bit() {
    let mut link = Link::new(LinkConfig { corrupt: 1.0, seed: 3, ..LinkConfig::default() });
    let packet = bytes(64, 1);
    link.send(Instant::ZERO, Direction::AToB, packet.clone());
    let (_, got) = link.poll_delivery(Instant::from_millis(1)).expect("one packet is due");
    let flipped: u32 = packet.iter().zip(&got).map(|(a, b)| (a ^ b).count_ones()).sum();
    assert_eq!(flipped, 1);
}

// ---- TCP through the simulator --------------------------------------------

/// One host's program: write `data`, shut down writing, read until end of stream,
/// close. A host with nothing to write is a pure reader: it shuts down writing only
/// after end of stream, as a server answering "thanks, bye" would.
#[derive(Default)]
struct Program {
    data: Vec<u8>,
    handle: Option<TcpHandle>,
    written: usize,
    shut: bool,
    received: Vec<u8>,
    eof: bool,
    closed: bool,
}

impl Program {
    fn new(data: Vec<u8>) -> Self {
        Program { data, ..Program::default() }
    }

    /// One turn of the program; an error is a failed run.
    fn turn(&mut self, stack: &mut Stack, now: Instant) -> io::Result<()> {
        while stack.poll_event().is_some() {}
        let Some(h) = self.handle else { return Ok(()) };
        if self.closed || matches!(stack.tcp_state(h), Some(State::SynSent | State::SynReceived)) {
            return Ok(());
        }
        while self.written < self.data.len() {
            match stack.tcp_send(now, h, &self.data[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut buf = [0u8; 4096];
        while !self.eof {
            match stack.tcp_recv(now, h, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !self.shut && self.written == self.data.len() && (!self.data.is_empty() || self.eof) {
            stack.tcp_shutdown(now, h, Shutdown::Write)?;
            self.shut = true;
        }
        if self.shut && self.eof {
            stack.tcp_close(now, h);
            self.closed = true;
        }
        Ok(())
    }

    /// Closed by the program and by TCP (CLOSED, TIME-WAIT, or already freed).
    fn finished(&self, stack: &Stack) -> bool {
        self.closed
            && self
                .handle
                .is_some_and(|h| matches!(stack.tcp_state(h), None | Some(State::Closed | State::TimeWait { .. })))
    }
}

/// What a TCP run ended with.
struct Transfer {
    a: Program,
    b: Program,
    finished: bool,
}

/// A connects to B and each side runs its [`Program`]: A sends `to_b`, B sends
/// `to_a`. Stops when both are finished or after `max` of virtual time.
fn transfer(sim: &mut Sim, to_b: Vec<u8>, to_a: Vec<u8>, max: Duration) -> Result<Transfer, String> {
    let server = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let listener = sim.b.tcp_listen(server, 8).map_err(|e| format!("listen: {e}"))?;
    let mut a = Program::new(to_b);
    let mut b = Program::new(to_a);
    a.handle = Some(sim.a.tcp_connect(sim.now(), server).map_err(|e| format!("connect: {e}"))?);
    let mut error = None;
    let finished = sim.run_until(max, |sim| {
        if b.handle.is_none() {
            b.handle = sim.b.tcp_accept(listener).ok().map(|(h, _)| h);
        }
        let now = sim.now();
        if let Err(e) = a.turn(&mut sim.a, now) {
            error = Some(format!("host A at {now:?}: {e}"));
        }
        if let Err(e) = b.turn(&mut sim.b, now) {
            error = Some(format!("host B at {now:?}: {e}"));
        }
        error.is_some() || (a.finished(&sim.a) && b.finished(&sim.b))
    });
    match error {
        Some(e) => Err(e),
        None => Ok(Transfer { a, b, finished }),
    }
}

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
    sim.record();
    let done = transfer(&mut sim, bytes(20_000, 1), Vec::new(), Duration::from_secs(600)).expect("no socket error");
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

/// The `two_stacks` fuzz target's first find, reduced: a forged data segment that B
/// takes as A's leaves the two disagreeing about A's sequence numbers. A's ACKs are
/// now below B's window and B's acknowledge data A never sent; each answers the
/// other's with one more ACK (RFC 9293 §3.10.7.4, RFC 5961 §5.2). Without a rate
/// limit on those answers the pair traded ACKs every round trip for as long as the
/// connection lived — a quarter of an hour of retransmitted FINs after a close.
#[test]
fn a_desynchronized_pair_does_not_ack_loop() {
    use crate::wire::{ipv4, tcp};
    let mut sim = Sim::new(LinkConfig::default());
    sim.record();
    let server = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let listener = sim.b.tcp_listen(server, 8).expect("port 80 is free");
    let conn = sim.a.tcp_connect(sim.now(), server).expect("connect starts");
    let mut accepted = None;
    let up = sim.run_until(ms(100), |sim| {
        accepted = accepted.or_else(|| sim.b.tcp_accept(listener).ok());
        accepted.is_some() && sim.a.tcp_state(conn) == Some(State::Established)
    });
    assert!(up, "connected");
    sim.run_until(ms(100), |_| false);

    // A's last segment (the handshake's ACK) gives A's SND.NXT and B's.
    let last = sim.trace().iter().rev().find(|e| e.direction == Direction::AToB).expect("A sent");
    let ip = ipv4::parse(&last.packet).expect("valid IPv4");
    let a_seg = tcp::parse(ip.src, ip.dst, ip.payload).expect("valid TCP");
    let flags = tcp::Flags { ack: true, psh: true, ..tcp::Flags::default() };
    let forged = tcp::Segment { flags, payload: &[0x66; 100], options: tcp::Options::default(), ..a_seg };
    let mut body = Vec::new();
    tcp::emit(&mut body, ADDR_A, ADDR_B, &forged).expect("fits");
    let repr = ipv4::Ipv4Repr { src: ADDR_A, dst: ADDR_B, protocol: 6, ttl: 64, id: 9, dont_fragment: true };
    let mut packet = Vec::new();
    ipv4::emit(&mut packet, &repr, 0, false, &body).expect("fits");
    sim.b.input(sim.now(), &packet);

    let before = sim.link().stats(Direction::AToB).sent + sim.link().stats(Direction::BToA).sent;
    sim.run_until(Duration::from_secs(10), |_| false);
    let after = sim.link().stats(Direction::AToB).sent + sim.link().stats(Direction::BToA).sent;
    // At 1 ms a hop, a loop would send about 10,000 packets in these 10 seconds.
    assert!(after - before < 10, "{} packets in 10 s of an idle connection", after - before);
    assert!(sim.a.counters().tcp_unusable_acks_limited + sim.b.counters().tcp_unusable_acks_limited > 0);
}

/// Link faults for the properties: up to 15 % loss, 15 % duplication, 20 %
/// reordering and `max_corrupt` corruption; 1–50 ms latency and up to 10 ms jitter.
fn any_faulty_link(max_corrupt: f64) -> impl Strategy<Value = LinkConfig> {
    (any::<u64>(), 0.0..0.15, 0.0..0.15, 0.0..0.20, 0.0..=max_corrupt, 1u64..50, 0u64..10).prop_map(
        |(seed, loss, duplicate, reorder, corrupt, latency, jitter)| LinkConfig {
            latency: ms(latency),
            jitter: ms(jitter),
            loss,
            duplicate,
            reorder,
            corrupt,
            seed,
            ..LinkConfig::default()
        },
    )
}

/// Both sides must be done within this much virtual time: enough for a segment to
/// be retransmitted every 120 s (the largest RTO) a dozen times over.
const TCP_BOUND: Duration = Duration::from_secs(30 * 60);

/// The two hosts for the TCP properties: defaults, except that `connect` retries its
/// SYN 12 times instead of Linux's 6. With 15 % loss and 10 % corruption each way, a
/// handshake round trip fails about one time in three, so six retries give up in
/// about one run in 2,000 — an honest `TimedOut`, but not what the property is
/// about. (Found by this property: seed 0x264d279f79158aa3 at 18 % loss and 18 %
/// corruption.)
fn patient_hosts(link: LinkConfig) -> Sim {
    let host = |addr, salt: u64| {
        let mut config = StackConfig { addr, seed: link.seed ^ salt, ..StackConfig::default() };
        config.tcp.syn_retries = 12;
        config
    };
    Sim::with_hosts(host(ADDR_A, 0xA), host(ADDR_B, 0xB), link)
}

fn check_stream(link: LinkConfig, to_b: Vec<u8>, to_a: Vec<u8>) -> Result<(), TestCaseError> {
    let seed = link.seed;
    let mut sim = patient_hosts(link);
    let run = transfer(&mut sim, to_b.clone(), to_a.clone(), TCP_BOUND)
        .map_err(|e| TestCaseError::fail(format!("seed {seed:#x}: {e}")))?;
    prop_assert!(
        run.finished,
        "seed {:#x}: not both closed after {:?}: A {:?} got {}/{} bytes, B {:?} got {}/{}; link A→B {:?}, B→A {:?}",
        seed,
        TCP_BOUND,
        run.a.handle.and_then(|h| sim.a.tcp_state(h)),
        run.a.received.len(),
        to_a.len(),
        run.b.handle.and_then(|h| sim.b.tcp_state(h)),
        run.b.received.len(),
        to_b.len(),
        sim.link().stats(Direction::AToB),
        sim.link().stats(Direction::BToA),
    );
    // TCP sizes its segments to fit the path (RFC 6691): IP never fragments them.
    prop_assert_eq!(sim.a.counters().ip_tx_fragmented + sim.b.counters().ip_tx_fragmented, 0, "seed {:#x}", seed);
    prop_assert!(
        run.b.received == to_b,
        "seed {:#x}: B read {} bytes, not the {} A wrote",
        seed,
        run.b.received.len(),
        to_b.len()
    );
    prop_assert!(
        run.a.received == to_a,
        "seed {:#x}: A read {} bytes, not the {} B wrote",
        seed,
        run.a.received.len(),
        to_a.len()
    );
    Ok(())
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(256))]

    /// A sends any bytes to B over any faulty link and shuts down writing; B reads to
    /// end of stream and closes. B got exactly what A wrote, and both are closed.
    #[test]
    fn tcp_stream_arrives_intact_and_closes(link in any_faulty_link(0.10), len in 0usize..=65_536, content in any::<u64>()) {
        check_stream(link, bytes(len, content), Vec::new())?;
    }

    /// Both directions at once: each side writes its own stream, shuts down writing,
    /// and reads the other's to the end.
    ///
    /// This property found a stack bug (now `sack_regression_data_segments_fit_the_mtu`
    /// below): data segments that also carried SACK blocks were larger than the MTU,
    /// IP fragmented them, and two fragments could take compensating bit flips the
    /// TCP checksum cannot see.
    #[test]
    fn tcp_streams_both_ways_arrive_intact(link in any_faulty_link(0.10), ab in 0usize..=32_768, ba in 0usize..=32_768, content in any::<u64>()) {
        check_stream(link, bytes(ab, content), bytes(ba, !content))?;
    }
}

/// The case the both-ways property found (seed 0x17296dfe8a33515c): before the fix
/// B's data segments carried SACK blocks beyond the MTU, were fragmented, and a
/// pair of compensating bit flips in two fragments reached A's reader as data.
#[test]
fn sack_regression_data_segments_fit_the_mtu() {
    let link = LinkConfig {
        seed: 0x1729_6dfe_8a33_515c,
        latency: ms(1),
        jitter: ms(1),
        loss: 0.0179,
        duplicate: 0.1043,
        reorder: 0.1396,
        corrupt: 0.0818,
        ..LinkConfig::default()
    };
    let content = 4_239_448_402_780_695_270;
    check_stream(link, bytes(8688, content), bytes(2892, !content)).expect("both streams intact, no fragments");
}

// ---- UDP through the simulator --------------------------------------------

/// Datagram `i`: its number, then bytes derived from it, `4 + extra` bytes in all.
fn datagram(i: u32, extra: usize) -> Vec<u8> {
    let mut d = i.to_be_bytes().to_vec();
    d.extend(bytes(extra, u64::from(i)));
    d
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(256))]

    /// Datagrams of any size up to 3000 bytes (so some are fragmented) sent at once
    /// through a lossy, duplicating, reordering link: each one arrives whole or not
    /// at all, never cut short or glued to another.
    ///
    /// The link corrupts nothing here. A datagram in two fragments can take one bit
    /// flip in each, and when the two flips are the same bit of a 16-bit word going
    /// opposite ways (0→1 and 1→0), the one's-complement sum — and so the UDP checksum —
    /// does not change: a known blind spot of the Internet checksum (RFC 1071), not a
    /// stack bug. This property found one at seed 0x264d279f79158f6c with 18 %
    /// corruption. The link flips at most one bit per packet, so an unfragmented
    /// packet's corruption is always caught.
    #[test]
    fn udp_datagrams_arrive_whole_or_not_at_all(link in any_faulty_link(0.0), sizes in proptest::collection::vec(0usize..3000, 1..60)) {
        let seed = link.seed;
        let mut sim = Sim::new(link);
        let to = SocketAddr::V4(SocketAddrV4::new(ADDR_B, 9));
        let rx = sim.b.udp_bind(to).expect("port 9 is free");
        let tx = sim.a.udp_bind(SocketAddr::V4(SocketAddrV4::new(ADDR_A, 0))).expect("an ephemeral port");
        let sent: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| datagram(i as u32, n)).collect();
        for d in &sent {
            sim.a.udp_send_to(tx, d, to).expect("the transmit queue has room");
        }
        let mut received = Vec::new();
        sim.run_until(Duration::from_secs(60), |sim| {
            while let Ok(d) = sim.b.udp_recv(rx) {
                received.push(d.data.to_vec());
            }
            false
        });
        for got in &received {
            let index = got.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
            let want = index.and_then(|i| sent.get(i));
            prop_assert!(want == Some(got), "seed {:#x}: a {}-byte datagram is not one that was sent", seed, got.len());
        }
    }
}
