//! Path MTU discovery through a narrower hop, over both families: a router at
//! A's end whose next hop carries fewer bytes than A's link refuses A's larger
//! packets and says why — ICMP "fragmentation needed" with the next hop's MTU
//! for an IPv4 packet with Don't Fragment (RFC 1191 §4), ICMPv6 Packet Too Big
//! for any IPv6 packet (RFC 8201; an IPv6 router never fragments, RFC 8200 §5).
//! A's TCP lowers its path MTU and its segments fit, and the stream arrives
//! intact. The IPv4 and IPv6 halves of one property: the mechanism is the same,
//! the messages and the floors (576 and 1,280 bytes) differ.
//!
//! UDP over IPv6 through the same hop: A's first datagram leaves fragmented to
//! the link MTU, its larger fragments are refused with Packet Too Big, A's path
//! MTU cache takes the hop's MTU for B (`ip/ipv6/path_mtu.rs`), and every later
//! datagram leaves in fragments the hop carries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::testutil::{icmp_packet, ip6};
use crate::wire::icmpv6::{self, ErrorKind};
use crate::wire::ip_protocol::ICMPV6;

/// The router's own addresses, the source of its errors.
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);

/// The IPv4 header's Don't Fragment bit (RFC 791 §3.1: byte 6, 0x40).
fn dont_fragment(packet: &[u8]) -> bool {
    packet.get(6).is_some_and(|b| b & 0x40 != 0)
}

/// A's router, with a next hop of `mtu` bytes.
struct NarrowHop {
    mtu: usize,
    /// A's packets refused with an error.
    refused: u64,
    /// A's IPv4 packets too big for the hop without Don't Fragment, which a
    /// router would fragment: passed on whole (the link takes them), counted so
    /// the property can say TCP sent none.
    too_big_without_df: u64,
}

impl NarrowHop {
    /// The error for `packet`, from the router to its source: an ICMP
    /// "fragmentation needed" quoting the header and the first 8 bytes of data
    /// (RFC 792, all RFC 5927's checks need), or an ICMPv6 Packet Too Big
    /// quoting as much as fits 1,280 bytes (RFC 4443 §2.4 (c)).
    fn error(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let mtu = u16::try_from(self.mtu).ok()?;
        match packet.first()? >> 4 {
            4 => {
                let ip = crate::wire::ipv4::parse(packet).ok()?;
                let quoted = packet.get(..ip.header.len() + 8)?;
                let [hi, lo] = mtu.to_be_bytes();
                Some(icmp_packet(ROUTER, ip.src, 3, 4, [0, 0, hi, lo], quoted))
            }
            6 => {
                let ip = crate::wire::ipv6::parse(packet).ok()?;
                let quoted = &packet[..packet.len().min(1280 - 48)];
                let mut message = Vec::new();
                icmpv6::emit_error(&mut message, ROUTER6, ip.src, ErrorKind::PacketTooBig(mtu.into()), quoted)?;
                Some(ip6(ROUTER6, ip.src, ICMPV6, &message))
            }
            _ => None,
        }
    }
}

impl Middlebox for NarrowHop {
    fn name(&self) -> &str {
        "narrow-hop"
    }

    fn process(
        &mut self,
        _: Instant,
        direction: Direction,
        packet: Vec<u8>,
        inject: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        if direction != Direction::AToB || packet.len() <= self.mtu {
            return Some(packet);
        }
        if packet.first().is_some_and(|b| b >> 4 == 4) && !dont_fragment(&packet) {
            self.too_big_without_df += 1;
            return Some(packet);
        }
        self.refused += 1;
        inject.extend(self.error(&packet).map(|error| (Direction::BToA, error)));
        None
    }
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(64))]

    /// A streams to B (and B back) over any rough link through a hop narrower
    /// than A's link, down to the family's floor: every byte arrives, A lowered
    /// its path MTU, and every one of its packets that the hop refused was
    /// refused with an error rather than passed on too big.
    #[test]
    fn tcp_finds_the_path_mtu_of_a_narrower_hop(
        family in any_family(),
        narrow in 0usize..220,
        link in any_rough_link(0.05),
        ab in 2_000usize..=32_768,
        ba in 0usize..=8_192,
        content in any::<u64>(),
    ) {
        let seed = link.seed;
        let mtu = family.min_mtu() + narrow * (1500 - family.min_mtu()) / 220;
        let mut sim = patient_hosts_in(link, family);
        sim.set_middlebox(NarrowHop { mtu, refused: 0, too_big_without_df: 0 });
        let (to_b, to_a) = (bytes(ab, content), bytes(ba, !content));
        run_case("pmtu", &mut sim, |sim| {
            let run = transfer_in(sim, family, to_b.clone(), to_a.clone(), false, TCP_BOUND)
                .map_err(|e| TestCaseError::fail(format!("seed {seed:#x} ({family:?}, hop {mtu}): {e}")))?;
            prop_assert!(run.finished, "seed {:#x} ({:?}, hop {}): not both closed", seed, family, mtu);
            let hop = sim.middlebox::<NarrowHop>().map(|h| (h.refused, h.too_big_without_df));
            prop_assert_eq!(hop.map(|h| h.1), Some(0), "seed {:#x}: TCP sent without Don't Fragment", seed);
            let refused = hop.map_or(0, |h| h.0);
            let reductions = sim.a.counters().tcp_pmtu_reductions;
            prop_assert!(refused > 0 && reductions > 0, "seed {:#x} ({:?}, hop {}): {} refused, {} reductions", seed, family, mtu, refused, reductions);
            family.check_only_family_on_the_wire(sim, seed)?;
            check_delivered_and_freed(sim, seed, &run, &to_a, &to_b)
        })?;
    }
}

/// How many of the packets carrying a UDP datagram of `payload` bytes, fragmented
/// to a 1,500-byte link, are larger than `mtu`.
fn packets_over(payload: usize, mtu: usize) -> u64 {
    let message = 8 + payload;
    if 40 + message <= 1500 {
        return u64::from(40 + message > mtu);
    }
    let per_fragment = (1500 - 48) / 8 * 8;
    (0..message).step_by(per_fragment).filter(|at| 48 + per_fragment.min(message - at) > mtu).count() as u64
}

proptest! {
    #![proptest_config(crate::testutil::proptest_cases(64))]

    /// A sends UDP datagrams over IPv6, one every 200 ms, to B through a hop
    /// narrower than A's link. Only the first datagram with a packet too large
    /// for the hop is refused (the Packet Too Big reaches A before its next
    /// send); A's path MTU for B is then the hop's, learned once; every later
    /// datagram fits the hop in fragments; and what B receives are datagrams A
    /// sent, whole.
    #[test]
    fn udp_over_ipv6_fragments_to_the_path_mtu_of_a_narrower_hop(
        narrow in 0usize..220,
        link in any_faulty_link(0.0),
        sizes in proptest::collection::vec(1_453usize..4_000, 40),
    ) {
        let (seed, family) = (link.seed, Family::V6);
        let mtu = family.min_mtu() + narrow * (1500 - family.min_mtu()) / 220;
        let mut sim = Sim::with_hosts(family.config(Side::A, seed), family.config(Side::B, seed), link);
        sim.check_invariants(true);
        sim.set_middlebox(NarrowHop { mtu, refused: 0, too_big_without_df: 0 });
        run_case("pmtu-udp", &mut sim, |sim| {
            let to = family.server(9);
            let rx = sim.b.udp_bind(to).expect("port 9 is free");
            let tx = sim.a.udp_bind(SocketAddr::new(family.addr(Side::A), 0)).expect("an ephemeral port");
            let sent: Vec<Vec<u8>> = sizes.iter().map(|&n| bytes(n, seed ^ n as u64)).collect();
            let (mut next, mut at) = (0, sim.now());
            let mut received = Vec::new();
            sim.run_until(Duration::from_secs(60), |sim| {
                while let Ok(d) = sim.b.udp_recv(rx) {
                    received.push(d.data.to_vec());
                }
                if next < sent.len() && sim.now() >= at {
                    sim.a.udp_send_to(tx, &sent[next], to).expect("the transmit queue has room");
                    (next, at) = (next + 1, sim.now() + Duration::from_millis(200));
                    sim.wake_at(at);
                }
                false
            });
            let b = match family.addr(Side::B) { IpAddr::V6(b) => b, IpAddr::V4(_) => unreachable!("IPv6") };
            // The first datagram with a packet the hop cannot carry is the only
            // one refused; with none (a hop of 1,496 and fragments of 1,496), A
            // never hears of the hop and needs not.
            let first_refused = sizes.iter().map(|&n| packets_over(n, mtu)).find(|&n| n > 0);
            let (pmtu, updates) = if first_refused.is_some() { (mtu, 1) } else { (1500, 0) };
            prop_assert_eq!(sim.a.path_mtu_v6(b), Some(pmtu), "seed {:#x}: A's path MTU for B", seed);
            prop_assert_eq!(sim.a.counters().ip6_pmtu_updates, updates, "seed {:#x}: learned once", seed);
            let refused = sim.middlebox::<NarrowHop>().map_or(0, |h| h.refused);
            prop_assert_eq!(refused, first_refused.unwrap_or(0), "seed {:#x} (hop {}): refused", seed, mtu);
            for got in &received {
                prop_assert!(sent.contains(got), "seed {:#x}: a {}-byte datagram A did not send", seed, got.len());
            }
            prop_assert!(received.len() >= 3, "seed {:#x} (hop {}): {} of 40 arrived", seed, mtu, received.len());
            let ipv4 = sim.a.counters().ip_tx_packets + sim.b.counters().ip_tx_packets;
            prop_assert_eq!(ipv4, 0, "seed {:#x}: IPv4 on the wire", seed);
            Ok(())
        })?;
    }
}
