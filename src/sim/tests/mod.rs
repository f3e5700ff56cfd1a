//! The simulator's own tests, and the properties it exists to check: over any
//! seeded faulty link, TCP delivers exactly the bytes written and closes in
//! bounded time, a host whose peer died gives up, UDP delivers datagrams whole
//! or not at all — and both stacks keep their invariants at every step.
//!
//! `mod.rs` holds what the properties share: the hosts' [`Program`], a
//! [`transfer`] between them, the fault strategies.

mod config;
mod congestion;
mod link;
mod middlebox;
mod pmtu;
mod replay;
mod stream;
mod termination;
mod udp;
mod user_host;

use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::config::StackConfig;
use crate::rng::SplitMix64;
use crate::shared::TcpHandle;
use crate::tcp::State;

const PORT: u16 = 80;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `len` pseudo-random bytes from `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// One host's program: write `data`, shut down writing, read until end of stream,
/// close. A host with nothing to write is a pure reader: it shuts down writing only
/// after end of stream, as a server answering "thanks, bye" would.
#[derive(Default)]
struct Program {
    data: Vec<u8>,
    /// Write only after reading the peer's end of stream: the half-close pattern of
    /// a server that answers once the request is complete.
    reply_after_eof: bool,
    /// Shut down writing once everything is written even if that is nothing (a
    /// client whose request is empty), instead of being a pure reader.
    always_shut: bool,
    /// A slow reader: at most this many bytes per read, and one read per this
    /// much time (`None`: read everything at every turn).
    slow: Option<(usize, Duration)>,
    next_read: Instant,
    handle: Option<TcpHandle>,
    written: usize,
    shut: bool,
    received: Vec<u8>,
    eof: bool,
    closed: bool,
    /// The connection was seen in TIME-WAIT.
    saw_time_wait: bool,
}

impl Program {
    fn new(data: Vec<u8>) -> Self {
        Program { data, ..Program::default() }
    }

    /// One turn of the program; an error is a failed run.
    fn turn(&mut self, stack: &mut Stack, now: Instant) -> io::Result<()> {
        while stack.poll_event().is_some() {}
        let Some(h) = self.handle else { return Ok(()) };
        self.saw_time_wait |= matches!(stack.tcp_state(h), Some(State::TimeWait));
        if self.closed || matches!(stack.tcp_state(h), Some(State::SynSent | State::SynReceived)) {
            return Ok(());
        }
        while self.written < self.data.len() && (self.eof || !self.reply_after_eof) {
            match stack.tcp_send(now, h, &self.data[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut buf = [0u8; 4096];
        let mut budget = match self.slow {
            Some(_) if now < self.next_read => 0,
            Some((chunk, every)) => {
                self.next_read = now + every;
                chunk.max(1)
            }
            None => usize::MAX,
        };
        while !self.eof && budget > 0 {
            let want = budget.min(buf.len());
            match stack.tcp_recv(now, h, &mut buf[..want]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.received.extend_from_slice(&buf[..n]);
                    budget -= n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !self.shut && self.written == self.data.len() && (!self.data.is_empty() || self.always_shut || self.eof) {
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
            && self.handle.is_some_and(|h| matches!(stack.tcp_state(h), None | Some(State::Closed | State::TimeWait)))
    }
}

/// What a TCP run ended with.
struct Transfer {
    a: Program,
    b: Program,
    finished: bool,
}

/// A connects to B and each side runs its [`Program`]: A sends `to_b`, B sends
/// `to_a` (once it has read all of A's stream, if `reply_after_eof`). Stops when
/// both are finished or after `max` of virtual time.
fn transfer(
    sim: &mut Sim,
    to_b: Vec<u8>,
    to_a: Vec<u8>,
    reply_after_eof: bool,
    max: Duration,
) -> Result<Transfer, String> {
    transfer_in(sim, Family::V4, to_b, to_a, reply_after_eof, max)
}

/// [`transfer`] over `family`: A connects to B's address of that family.
fn transfer_in(
    sim: &mut Sim,
    family: Family,
    to_b: Vec<u8>,
    to_a: Vec<u8>,
    reply_after_eof: bool,
    max: Duration,
) -> Result<Transfer, String> {
    // A always ends its stream, even an empty one: otherwise two empty streams
    // would leave both sides waiting for the other's FIN (found by soak.sh, the
    // one-way property with a 0-byte stream, 1 case in 65,537).
    let a = Program { always_shut: true, ..Program::new(to_b) };
    let b = Program { reply_after_eof, ..Program::new(to_a) };
    run_programs_to(sim, family.server(PORT), a, b, max)
}

/// What each side read is exactly what the other wrote, and after both closed
/// every connection and port was freed in time (`termination`).
fn check_delivered_and_freed(
    sim: &mut Sim,
    seed: u64,
    run: &Transfer,
    to_a: &[u8],
    to_b: &[u8],
) -> Result<(), TestCaseError> {
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
    termination::check_freed_after_close(sim, seed, run.a.saw_time_wait || run.b.saw_time_wait)
}

/// A connects to `server` (B's, in either family), then each runs its program
/// until both are finished or `max` of virtual time has passed.
fn run_programs_to(
    sim: &mut Sim,
    server: SocketAddr,
    mut a: Program,
    mut b: Program,
    max: Duration,
) -> Result<Transfer, String> {
    let listener = sim.b.tcp_listen(server, 8).map_err(|e| format!("listen: {e}"))?;
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
        for program in [&a, &b] {
            if program.slow.is_some() && !program.eof {
                sim.wake_at(program.next_read);
            }
        }
        error.is_some() || (a.finished(&sim.a) && b.finished(&sim.b))
    });
    match error {
        Some(e) => Err(e),
        None => Ok(Transfer { a, b, finished }),
    }
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

/// [`any_faulty_link`] made rougher, as the stream and termination properties
/// use it: often burst loss (a Gilbert channel bad up to 10 % of the time, in
/// spells of 1–500 ms on average), often a bottleneck (100 kB/s – 10 MB/s with a 4–200
/// packet drop-tail queue), and up to three partitions starting in the first 5 s
/// and lasting 1 ms – 20 s, one way or both, every one of which heals — so
/// packets always get through eventually.
fn any_rough_link(max_corrupt: f64) -> impl Strategy<Value = LinkConfig> {
    let burst = (0.0..0.10, 1u64..500).prop_map(|(loss, mean)| BurstLoss::gilbert(loss, ms(mean)));
    let bottleneck = (100_000u64..10_000_000, 4usize..200);
    let direction = prop_oneof![Just(None), Just(Some(Direction::AToB)), Just(Some(Direction::BToA))];
    let partition = (0u64..5_000, 1u64..20_000, direction).prop_map(|(from, length, direction)| Partition {
        from: Instant::from_millis(from),
        until: Some(Instant::from_millis(from + length)),
        direction,
    });
    (
        any_faulty_link(max_corrupt),
        proptest::option::weighted(0.6, burst),
        proptest::option::weighted(0.4, bottleneck),
        proptest::collection::vec(partition, 0..=3),
    )
        .prop_map(|(link, burst, bottleneck, partitions)| LinkConfig {
            burst,
            bandwidth: bottleneck.map(|(rate, _)| rate),
            queue_limit: bottleneck.map_or(link.queue_limit, |(_, queue)| queue),
            partitions,
            ..link
        })
}

/// Both sides must be done within this much virtual time: room for a segment to
/// be retransmitted every 120 s (the largest RTO) [`PATIENT_RETRIES`] times, and
/// then some.
const TCP_BOUND: Duration = Duration::from_secs(2 * 60 * 60);

/// Retransmissions before a connection gives up, in the properties' hosts
/// (Linux's 15 by default).
///
/// The rough links lose up to about half of all round trips (15 % loss, 10 % of
/// the time in a burst and 10 % corruption, each way), and a partition of 20 s
/// uses up seven retries of the backed-off timer while it lasts. Fifteen then
/// leaves eight tries at one chance in two: one run in a few hundred ends in an
/// honest `TimedOut`, which is not what the properties are about. Found by the
/// one-way stream property, seed 0xc0947c7da813e88a: a 12.6 s partition of the
/// B→A path, then B's next four ACKs lost, corrupted or cut in turn; B held all
/// of A's 46,337 bytes but the last full segment, answered each retransmission
/// of SND.UNA's segment with a D-SACK that never arrived, and A gave up after
/// 15 retries. The hosts here keep trying 30 times.
const PATIENT_RETRIES: u32 = 30;

/// Make a host patient enough for the rough links (see [`PATIENT_RETRIES`]):
/// `connect` retries its SYN 12 times instead of Linux's 6 — with 15 % loss and
/// 10 % corruption each way a handshake round trip fails about one time in three,
/// so six retries give up in about one run in 2,000 (found by the stream property:
/// seed 0x264d279f79158aa3 at 18 % loss and 18 % corruption) — and data is
/// retransmitted [`PATIENT_RETRIES`] times. A passive open's SYN,ACK is as
/// patient as `connect`'s SYN.
fn patient(config: &mut StackConfig) {
    config.tcp.syn_retries = 12;
    config.tcp.syn_ack_retries = 12;
    config.tcp.max_retries = PATIENT_RETRIES;
}

/// The two hosts for the TCP properties over IPv4: defaults, but [`patient`],
/// with their seeds derived from the link's; invariants checked at every step.
fn patient_hosts(link: LinkConfig) -> Sim {
    patient_hosts_in(link, Family::V4)
}

/// [`patient_hosts`] for a property run over `family`.
fn patient_hosts_in(link: LinkConfig, family: Family) -> Sim {
    let seed = link.seed;
    let host = |side| {
        let mut config = family.config(side, seed);
        patient(&mut config);
        config
    };
    let mut sim = Sim::with_hosts(host(Side::A), host(Side::B), link);
    sim.check_invariants(true);
    sim
}

/// IPv6 addresses for the hosts of the IPv6 runs (the benchmarking range,
/// RFC 5180).
const ADDR6_A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const ADDR6_B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

/// The IP family a property runs over (issue 14). Every simulator property
/// draws its family with [`any_family`], so each case runs over one of the two
/// and the property's case count — and so the suite's time — stays what it
/// was: the cases are split between the families, not doubled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// IPv4-only hosts talking IPv4, as the properties always did.
    V4,
    /// Dual-stack hosts (IPv4 and IPv6 addresses) talking IPv6 only: the IPv4
    /// half is there, and must stay silent.
    V6,
}

/// Either family, half the cases each.
fn any_family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

impl Family {
    /// `side`'s address in this family.
    fn addr(self, side: Side) -> IpAddr {
        match (self, side) {
            (Family::V4, Side::A) => ADDR_A.into(),
            (Family::V4, Side::B) => ADDR_B.into(),
            (Family::V6, Side::A) => ADDR6_A.into(),
            (Family::V6, Side::B) => ADDR6_B.into(),
        }
    }

    /// `port` on B, where A connects or sends.
    fn server(self, port: u16) -> SocketAddr {
        SocketAddr::new(self.addr(Side::B), port)
    }

    /// `side`'s default configuration for this family, its seed derived from
    /// the link's (`seed`) as the properties always derived it.
    fn config(self, side: Side, seed: u64) -> StackConfig {
        let (addr, salt) = match side {
            Side::A => (ADDR_A, 0xA),
            Side::B => (ADDR_B, 0xB),
        };
        let addr6 = match (self, self.addr(side)) {
            (Family::V6, IpAddr::V6(a)) => Some(a),
            _ => None,
        };
        StackConfig { addr, addr6, seed: seed ^ salt, ..StackConfig::default() }
    }

    /// The smallest MTU a host of this family may have: IPv6 links carry at
    /// least 1280 bytes (RFC 8200 §5); IPv4's 576 is what every host must
    /// reassemble (RFC 791).
    fn min_mtu(self) -> usize {
        match self {
            Family::V4 => 576,
            Family::V6 => 1280,
        }
    }

    /// Packets the stack fragmented at the source, in this family's counter.
    fn fragmented(self, stack: &Stack) -> u64 {
        let c = stack.counters();
        match self {
            Family::V4 => c.ip_tx_fragmented,
            Family::V6 => c.ip6_tx_fragmented,
        }
    }

    /// Both hosts sent packets of this family and none of the other: a
    /// dual-stack host talking to an IPv6 peer never falls back to IPv4.
    fn check_only_family_on_the_wire(self, sim: &Sim, seed: u64) -> Result<(), TestCaseError> {
        for stack in [&sim.a, &sim.b] {
            let c = stack.counters();
            let (ours, other) = match self {
                Family::V4 => (c.ip_tx_packets, c.ip6_tx_packets),
                Family::V6 => (c.ip6_tx_packets, c.ip_tx_packets),
            };
            prop_assert!(
                ours > 0 && other == 0,
                "seed {:#x}: {:?} sent {} packets and {} of the other family",
                seed,
                self,
                ours,
                other
            );
        }
        Ok(())
    }
}

/// The environment variable that makes the properties write their packets.
const PCAP_ENV: &str = "TUNSTACK_SIM_PCAP";

/// Run one case of property `name` on `sim`. With `TUNSTACK_SIM_PCAP=dir` set,
/// its packets go to `dir/name.pcapng` (after a run: the last case), and a
/// failing case's are copied to `dir/name-failing.pcapng`, named in the failure
/// message — while shrinking, proptest's last failing case is the one it reports,
/// so that file matches the reported seed. A panic (a broken invariant) is
/// caught long enough to save the file, then resumed.
fn run_case<T>(
    name: &str,
    sim: &mut Sim,
    case: impl FnOnce(&mut Sim) -> Result<T, TestCaseError>,
) -> Result<T, TestCaseError> {
    run_case_in(std::env::var_os(PCAP_ENV).map(PathBuf::from), name, sim, case)
}

/// [`run_case`] with the capture directory given (`None`: no capture).
fn run_case_in<T>(
    dir: Option<PathBuf>,
    name: &str,
    sim: &mut Sim,
    case: impl FnOnce(&mut Sim) -> Result<T, TestCaseError>,
) -> Result<T, TestCaseError> {
    let Some(dir) = dir else {
        return case(sim);
    };
    let last = dir.join(format!("{name}.pcapng"));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| sim.capture(&last)) {
        return Err(TestCaseError::fail(format!("{PCAP_ENV}: {e}")));
    }
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| case(sim)));
    let written = sim.flush_capture();
    let failure = match outcome {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(error)) => Ok(error),
        Err(panicked) => Err(panicked),
    };
    let failing = dir.join(format!("{name}-failing.pcapng"));
    let saved = written.and_then(|()| std::fs::copy(&last, &failing));
    let note = match saved {
        Ok(_) => format!("packets in {}", failing.display()),
        Err(e) => format!("packets not saved: {e}"),
    };
    eprintln!("{name}: {note}");
    match failure {
        Ok(TestCaseError::Fail(reason)) => Err(TestCaseError::fail(format!("{}; {note}", reason.message()))),
        Ok(reject) => Err(reject),
        Err(panicked) => panic::resume_unwind(panicked),
    }
}
