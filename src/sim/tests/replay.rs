//! Reproducibility: one seed, one run, packet for packet, down to the bytes of
//! the pcapng capture; a failing case's packets are saved for replay; virtual
//! time costs no real time.

use std::path::Path;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::{Block, PcapNgReader};

use super::*;

/// A link with some of everything, for the determinism tests.
fn faulty(seed: u64) -> LinkConfig {
    LinkConfig {
        latency: ms(20),
        jitter: ms(5),
        loss: 0.05,
        burst: Some(BurstLoss::gilbert(0.03, ms(30))),
        duplicate: 0.02,
        reorder: 0.1,
        corrupt: 0.02,
        bandwidth: Some(2_000_000),
        queue_limit: 30,
        partitions: vec![Partition::healing(Instant::from_millis(150), Instant::from_millis(400))],
        seed,
        ..LinkConfig::default()
    }
}

/// A directory of its own for one test's files, empty.
pub(super) fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tunstack-sim-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A 20 kB transfer over [`faulty`]`(seed)`; its trace, and its capture written
/// to `pcap` if given.
fn traced_run(seed: u64, pcap: Option<&Path>) -> Vec<TraceEntry> {
    let mut sim = Sim::new(faulty(seed));
    sim.check_invariants(true);
    sim.record();
    if let Some(path) = pcap {
        sim.capture(path).expect("the capture file can be created");
    }
    let done =
        transfer(&mut sim, bytes(20_000, 1), Vec::new(), false, Duration::from_secs(600)).expect("no socket error");
    assert!(done.finished, "seed {seed}: the transfer finished");
    sim.flush_capture().expect("every packet written");
    sim.trace().to_vec()
}

/// One packet block of a capture: interface, direction flags, comment, bytes.
pub(super) type Captured = (u32, Option<u32>, Option<String>, Vec<u8>);

/// Every packet block of a capture that has `expected` interfaces.
pub(super) fn read_capture(path: &Path, expected: usize) -> Vec<Captured> {
    let bytes = std::fs::read(path).expect("the capture exists");
    let mut reader = PcapNgReader::new(&bytes[..]).expect("a pcapng section header");
    let (mut interfaces, mut packets) = (0, Vec::new());
    while let Some(block) = reader.next_block() {
        match block.expect("a well-formed block") {
            Block::InterfaceDescription(_) => interfaces += 1,
            Block::EnhancedPacket(epb) => {
                let flags = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Flags(f) => Some(*f),
                    _ => None,
                });
                let comment = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                });
                packets.push((epb.interface_id, flags, comment, epb.data.to_vec()));
            }
            _ => {}
        }
    }
    assert_eq!(interfaces, expected, "one interface per host (and middlebox)");
    packets
}

#[test]
fn same_seed_gives_the_same_packet_trace() {
    let first = traced_run(42, None);
    let second = traced_run(42, None);
    assert!(first.len() > 40, "a 20 kB transfer takes more than 40 packets, not {}", first.len());
    if let Some(i) = first.iter().zip(&second).position(|(x, y)| x != y) {
        panic!("seed 42: the traces differ at packet {i}: {:?} vs {:?}", first[i], second[i]);
    }
    assert_eq!(first.len(), second.len(), "seed 42: trace lengths");
}

#[test]
fn different_seed_gives_a_different_packet_trace() {
    assert!(traced_run(42, None) != traced_run(43, None), "seeds 42 and 43 gave the same trace");
}

#[test]
fn same_seed_writes_the_same_capture_byte_for_byte() {
    let dir = scratch_dir("capture");
    let (one, two) = (dir.join("one.pcapng"), dir.join("two.pcapng"));
    let trace = traced_run(7, Some(&one));
    traced_run(7, Some(&two));
    let bytes = std::fs::read(&one).expect("written");
    assert!(bytes == std::fs::read(&two).expect("written"), "seed 7: the two captures differ");

    // Every traced packet is in the file, on the interface of the host it left
    // or reached, with the receiver's drop reason as its comment.
    let packets = read_capture(&one, 2);
    assert_eq!(packets.len(), trace.len());
    for (entry, (interface, flags, comment, data)) in trace.iter().zip(&packets) {
        let expected = match (entry.kind, entry.direction) {
            (TraceKind::Sent, Direction::AToB) => (0, 0b10),
            (TraceKind::Sent, Direction::BToA) => (1, 0b10),
            (TraceKind::Delivered, Direction::AToB) => (1, 0b01),
            (TraceKind::Delivered, Direction::BToA) => (0, 0b01),
            (TraceKind::Intercepted | TraceKind::Forwarded, _) => panic!("no middlebox in this run: {entry:?}"),
        };
        assert_eq!((*interface, *flags), (expected.0, Some(expected.1)), "{entry:?}");
        assert_eq!(comment.as_deref(), entry.dropped.map(crate::capture::drop_comment).as_deref());
        assert_eq!(data, &entry.packet);
    }
    assert!(packets.iter().any(|p| p.2.as_ref().is_some_and(|c| c.starts_with("dropped: "))), "a drop noted");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_case_leaves_its_packets_for_replay() {
    let dir = scratch_dir("failing");
    let mut sim = Sim::new(faulty(3));
    let failed = run_case_in(Some(dir.clone()), "demo", &mut sim, |sim| {
        transfer(sim, bytes(5000, 1), Vec::new(), false, Duration::from_secs(60)).map_err(TestCaseError::fail)?;
        Err::<(), _>(TestCaseError::fail("seed 0x3: made to fail"))
    });
    let message = failed.expect_err("the case failed").to_string();
    let saved = dir.join("demo-failing.pcapng");
    assert!(message.contains("seed 0x3: made to fail") && message.contains(&saved.display().to_string()), "{message}");
    assert!(read_capture(&saved, 2).len() > 10, "the failing case's packets");
    assert!(dir.join("demo.pcapng").exists(), "the last case's packets");

    // A panic (a broken invariant) is saved too, then goes on.
    let mut sim = Sim::new(faulty(4));
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        run_case_in::<()>(Some(dir.clone()), "panics", &mut sim, |sim| {
            transfer(sim, bytes(5000, 1), Vec::new(), false, Duration::from_secs(60)).map_err(TestCaseError::fail)?;
            panic!("seed 0x4: broke an invariant");
        })
    }));
    assert!(panicked.is_err(), "the panic is resumed");
    assert!(read_capture(&dir.join("panics-failing.pcapng"), 2).len() > 10);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn minutes_of_virtual_time_pass_without_waiting() {
    // A lost peer: every packet dropped, so A retransmits its SYN with backoff until
    // `connect` fails, about two minutes of virtual time.
    let mut sim = Sim::new(LinkConfig { loss: 1.0, ..LinkConfig::default() });
    sim.check_invariants(true);
    let started = std::time::Instant::now();
    let server = Family::V4.server(PORT);
    let h = sim.a.tcp_connect(sim.now(), server).expect("connect starts");
    let failed = sim.run_until(Duration::from_secs(600), |sim| {
        sim.a.tcp_connect_status(h).is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock)
    });
    assert!(failed, "connect gave up");
    assert!(sim.now() > Instant::from_millis(60_000), "at {:?}", sim.now());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?} of real time", started.elapsed());
}
