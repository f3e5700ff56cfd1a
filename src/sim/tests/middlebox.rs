//! Middleboxes on the link: a NAT carries whole transfers through a rewritten
//! address and port, option stripping and MSS clamping change what the hosts
//! negotiate, an injecting box reaches the host behind it, and the capture
//! shows each hop.

use std::net::SocketAddrV4;
use std::path::Path;

use super::replay::{read_capture, scratch_dir};
use super::*;
use crate::sim::middlebox::{ClampMss, Nat, StripOptions};
use crate::wire::tcp::{self, Flags, Options, Segment};
use crate::wire::{ip_protocol, ipv4};

/// The NAT's outside address (TEST-NET-3) and its first public port.
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const FIRST_PORT: u16 = 61_000;

/// A link with some of everything but partitions, corruption included: a
/// packet the link damages on its way to A must reach A still damaged after the
/// NAT rewrote it.
fn rough(seed: u64) -> LinkConfig {
    LinkConfig {
        latency: ms(10),
        jitter: ms(3),
        loss: 0.02,
        duplicate: 0.02,
        reorder: 0.05,
        corrupt: 0.02,
        seed,
        ..LinkConfig::default()
    }
}

/// The TCP segments of the trace's entries of `kind` going `direction`, with
/// their addresses (the packets that do not parse — corrupted ones — left out).
fn segments(sim: &Sim, kind: TraceKind, direction: Direction) -> Vec<(Ipv4Addr, Ipv4Addr, Segment<'_>)> {
    fn parse(packet: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, Segment<'_>)> {
        let ip = ipv4::parse(packet).ok()?;
        let segment = tcp::parse(ip.src, ip.dst, ip.payload).ok()?;
        Some((ip.src, ip.dst, segment))
    }
    sim.trace().iter().filter(|e| e.kind == kind && e.direction == direction).filter_map(|e| parse(&e.packet)).collect()
}

#[test]
fn a_mebibyte_passes_through_the_nat_byte_for_byte() {
    let (to_b, to_a) = (bytes(1 << 20, 1), bytes(10_000, 2));
    let mut sim = patient_hosts(rough(11));
    sim.set_middlebox(Nat::new(PUBLIC, FIRST_PORT));
    sim.record();
    let run = transfer(&mut sim, to_b.clone(), to_a.clone(), false, TCP_BOUND).expect("no socket error");
    assert!(run.finished, "the transfer finished");
    check_delivered_and_freed(&mut sim, 11, &run, &to_a, &to_b).expect("byte for byte, then freed");

    // B only ever saw the public address and the mapped port; A only its own.
    let public = SocketAddrV4::new(PUBLIC, FIRST_PORT);
    let at_b = segments(&sim, TraceKind::Delivered, Direction::AToB);
    assert!(!at_b.is_empty());
    assert!(at_b.iter().all(|(src, _, s)| SocketAddrV4::new(*src, s.src_port) == public), "B saw A's real address");
    let at_a = segments(&sim, TraceKind::Delivered, Direction::BToA);
    assert!(at_a.iter().all(|(_, dst, s)| *dst == ADDR_A && s.dst_port != FIRST_PORT), "A saw the public address");
    let nat = sim.middlebox::<Nat>().expect("the NAT is installed");
    let a_port = at_a[0].2.dst_port;
    assert_eq!(nat.mapping(ip_protocol::TCP, SocketAddrV4::new(ADDR_A, a_port)), Some(public));
    let stats = nat.stats();
    let sent_by_a = sim.trace().iter().filter(|e| e.kind == TraceKind::Sent && e.direction == Direction::AToB).count();
    assert_eq!((stats.translated_out, stats.ports_exhausted), (sent_by_a as u64, 0), "every packet of A's went out");
    assert!(
        stats.untranslatable + stats.unmatched <= sim.link().stats(Direction::BToA).corrupted,
        "only packets the link damaged were refused on the way in: {stats:?}"
    );
    assert!(sim.b.counters().tcp_rx_bad_checksum > 0, "the link corrupted packets and they stayed corrupt");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// A stream both ways through the NAT over any rough link arrives intact,
    /// and both hosts keep their invariants at every step.
    ///
    /// IPv4 only, unlike the other properties: `Nat` is NAPT44, an IPv4
    /// address and port shared by the hosts behind it (RFC 3022), which IPv6
    /// does without — its one translator, NPTv6 (RFC 6296), maps a prefix
    /// statelessly and keeps ports, with nothing for TCP to survive.
    #[test]
    fn streams_cross_the_nat_over_any_rough_link(
        link in any_rough_link(0.05),
        to_b in proptest::collection::vec(any::<u8>(), 0..30_000),
        to_a in proptest::collection::vec(any::<u8>(), 0..30_000),
    ) {
        let seed = link.seed;
        let mut sim = patient_hosts(link);
        sim.set_middlebox(Nat::new(PUBLIC, FIRST_PORT));
        run_case("nat_stream", &mut sim, |sim| {
            let run = transfer(sim, to_b.clone(), to_a.clone(), false, TCP_BOUND).map_err(TestCaseError::fail)?;
            prop_assert!(run.finished, "seed {:#x}: the transfer did not finish", seed);
            check_delivered_and_freed(sim, seed, &run, &to_a, &to_b)
        })?;
    }
}

#[test]
fn the_nat_drops_what_no_mapping_matches() {
    let mut sim = Sim::new(LinkConfig::default());
    sim.set_middlebox(Nat::new(PUBLIC, FIRST_PORT));
    // B connects out to the NAT's public address first: nobody inside asked.
    let a_listener = sim.a.tcp_listen(SocketAddr::from((ADDR_A, 80)), 1).expect("port 80 is free");
    let conn = sim.b.tcp_connect(sim.now(), SocketAddr::from((PUBLIC, 80))).expect("a SYN goes out");
    sim.run_until(Duration::from_secs(2), |_| false);
    assert!(sim.a.tcp_accept(a_listener).is_err(), "nothing reached A");
    assert!(sim.middlebox::<Nat>().is_some_and(|nat| nat.stats().unmatched > 0));
    assert_eq!(sim.b.tcp_state(conn), Some(State::SynSent));
}

/// A connects to B and each sends the other `data` bytes over `link`, through
/// `middlebox`; returns the run with its trace.
fn handshake_and_send(link: LinkConfig, middlebox: Option<impl Middlebox>, data: usize) -> Sim {
    let mut sim = patient_hosts(link);
    if let Some(middlebox) = middlebox {
        sim.set_middlebox(middlebox);
    }
    sim.record();
    let data = bytes(data, 3);
    let run = transfer(&mut sim, data.clone(), data.clone(), false, TCP_BOUND).expect("no socket error");
    assert!(run.finished && run.b.received == data && run.a.received == data, "both streams arrived byte for byte");
    sim
}

/// Whether any segment either host received used SACK, timestamps or window
/// scaling.
fn any_negotiated_option(sim: &Sim) -> [bool; 3] {
    let mut seen = [false; 3];
    for direction in [Direction::AToB, Direction::BToA] {
        for (_, _, s) in segments(sim, TraceKind::Delivered, direction) {
            seen[0] |= s.options.sack_permitted || s.options.sacks().next().is_some();
            seen[1] |= s.options.timestamp.is_some();
            seen[2] |= s.options.window_scale.is_some();
        }
    }
    seen
}

#[test]
fn stripping_syn_options_turns_off_sack_timestamps_and_window_scaling() {
    let lossy = || LinkConfig { loss: 0.05, latency: ms(20), seed: 21, ..LinkConfig::default() };
    let plain = handshake_and_send(lossy(), None::<StripOptions>, 200_000);
    assert_eq!(any_negotiated_option(&plain), [true; 3], "without the box all three are used");

    let sim = handshake_and_send(lossy(), Some(StripOptions::keeping_mss()), 200_000);
    assert_eq!(any_negotiated_option(&sim), [false; 3], "no SACK, timestamps or window scale after the handshake");
    assert_eq!(sim.middlebox::<StripOptions>().map(|b| b.stripped), Some(2), "the SYN and the SYN,ACK");
    let syn = &segments(&sim, TraceKind::Delivered, Direction::AToB)[0].2;
    assert_eq!((syn.flags.syn, syn.options.mss), (true, Some(1460)), "the MSS was kept");
}

#[test]
fn a_syn_without_options_leaves_the_default_mss() {
    let sim = handshake_and_send(LinkConfig::default(), Some(StripOptions::default()), 20_000);
    let largest = segments(&sim, TraceKind::Delivered, Direction::AToB).iter().map(|(_, _, s)| s.payload.len()).max();
    assert_eq!(largest, Some(536), "RFC 9293 §3.7.1: no MSS option means 536");
}

#[test]
fn clamping_the_mss_bounds_every_segment_both_ways() {
    let sim = handshake_and_send(LinkConfig { seed: 4, ..LinkConfig::default() }, Some(ClampMss::new(1000)), 100_000);
    assert_eq!(sim.middlebox::<ClampMss>().map(|b| b.clamped), Some(2), "the SYN and the SYN,ACK");
    for direction in [Direction::AToB, Direction::BToA] {
        let delivered = segments(&sim, TraceKind::Delivered, direction);
        let syn = delivered.iter().find(|(_, _, s)| s.flags.syn).expect("a SYN each way");
        assert_eq!(syn.2.options.mss, Some(1000));
        // The MSS counts data only; the 12 bytes of timestamps come out of it.
        let largest = delivered.iter().map(|(_, _, s)| s.payload.len()).max();
        assert_eq!(largest, Some(1000 - 12), "{direction:?}: full segments of the clamp, no larger");
    }
}

/// A firewall that refuses connections to one port: it drops the SYN and
/// answers A itself with a RST, as `iptables -j REJECT --reject-with tcp-reset`.
struct Reject(u16);

impl Middlebox for Reject {
    fn process(
        &mut self,
        _: Instant,
        direction: Direction,
        packet: Vec<u8>,
        inject: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        let ip = ipv4::parse(&packet).ok()?;
        let syn = tcp::parse(ip.src, ip.dst, ip.payload).ok().filter(|s| s.flags.syn && s.dst_port == self.0);
        let Some(syn) = syn.filter(|_| direction == Direction::AToB) else { return Some(packet) };
        let rst = Segment {
            src_port: syn.dst_port,
            dst_port: syn.src_port,
            seq: 0,
            ack: syn.seq.wrapping_add(1),
            flags: Flags { rst: true, ack: true, ..Flags::default() },
            window: 0,
            options: Options::default(),
            payload: &[],
        };
        let mut segment = Vec::new();
        tcp::emit(&mut segment, ip.dst, ip.src, &rst)?;
        let repr = ipv4::Ipv4Repr {
            src: ip.dst,
            dst: ip.src,
            protocol: ip_protocol::TCP,
            ttl: 64,
            id: 0,
            dont_fragment: true,
        };
        let mut reply = Vec::new();
        ipv4::emit(&mut reply, &repr, 0, false, &segment)?;
        inject.push((Direction::BToA, reply));
        None
    }
}

#[test]
fn a_box_can_drop_a_packet_and_answer_for_the_peer() {
    let mut sim = Sim::new(LinkConfig::default());
    sim.set_middlebox(Reject(22));
    let conn = sim.a.tcp_connect(sim.now(), SocketAddr::from((ADDR_B, 22))).expect("a SYN goes out");
    sim.run_until(Duration::from_secs(1), |sim| sim.a.tcp_state(conn).is_none());
    let status = sim.a.tcp_connect_status(conn).map_err(|e| e.kind());
    assert_eq!(status, Err(io::ErrorKind::ConnectionRefused), "A took the injected RST");
    assert_eq!(sim.link().stats(Direction::AToB).sent, 0, "the SYN never reached the link");
}

#[test]
fn the_capture_shows_what_left_the_host_and_what_the_nat_made_of_it() {
    let dir = scratch_dir("nat-capture");
    let path = dir.join("nat.pcapng");
    let mut sim = Sim::new(LinkConfig::default());
    sim.set_middlebox(Nat::new(PUBLIC, FIRST_PORT));
    sim.record();
    sim.capture(&path).expect("the capture file can be created");
    let run = transfer(&mut sim, bytes(3000, 5), Vec::new(), false, Duration::from_secs(60)).expect("no socket error");
    assert!(run.finished);
    sim.flush_capture().expect("every packet written");

    let packets = read_capture(&path, 3);
    assert_eq!(packets.len(), sim.trace().len(), "every hop of every packet, once");
    let on = |interface| packets.iter().filter(move |p| p.0 == interface);
    let rewritten = on(2).filter(|p| p.2.as_deref() == Some("rewritten by nat")).count();
    assert_eq!(rewritten, on(2).filter(|p| p.1 == Some(0b10)).count(), "the NAT rewrote everything it sent on");
    assert_eq!(on(2).filter(|p| p.1 == Some(0b01)).count(), rewritten, "one in, one out");
    let first_out = &on(0).next().expect("A sent a SYN").3;
    let first_nat = &on(2).nth(1).expect("the NAT sent it on").3;
    assert_eq!(ipv4::parse(first_out).map(|p| p.src), Ok(ADDR_A));
    assert_eq!(ipv4::parse(first_nat).map(|p| p.src), Ok(PUBLIC));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_through_a_middlebox_replays_byte_for_byte() {
    let dir = scratch_dir("nat-replay");
    let run = |path: &Path| {
        let mut sim = Sim::new(rough(17));
        sim.set_middlebox(Nat::new(PUBLIC, FIRST_PORT));
        sim.record();
        sim.capture(path).expect("the capture file can be created");
        let done = transfer(&mut sim, bytes(50_000, 6), bytes(5_000, 7), false, TCP_BOUND).expect("no socket error");
        assert!(done.finished);
        sim.flush_capture().expect("every packet written");
        sim.trace().to_vec()
    };
    let (one, two) = (dir.join("one.pcapng"), dir.join("two.pcapng"));
    let trace = run(&one);
    assert!(trace == run(&two), "seed 17: the two traces differ");
    assert!(std::fs::read(&one).ok() == std::fs::read(&two).ok(), "seed 17: the two captures differ");
    let hop = trace.iter().find(|e| e.kind == TraceKind::Forwarded).expect("the NAT forwarded packets");
    assert!(hop.to_string().contains(" A>B forwarded 61000>80 S "), "{hop}");
    let _ = std::fs::remove_dir_all(&dir);
}
