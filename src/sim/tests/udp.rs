//! UDP datagrams arrive whole or not at all.

use super::*;

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
        sim.check_invariants(true);
        run_case("udp", &mut sim, |sim| check_datagrams(sim, seed, &sizes))?;
    }
}

/// A sends datagrams of `sizes` bytes to B at once; whatever B receives is a
/// datagram A sent, whole.
fn check_datagrams(sim: &mut Sim, seed: u64, sizes: &[usize]) -> Result<(), TestCaseError> {
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
    Ok(())
}
