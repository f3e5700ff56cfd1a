//! The one pseudo-random generator of the stack: seeded, so every run can be
//! reproduced (ephemeral ports, fault injection).

/// SplitMix64: a tiny, fast, well-mixed PRNG (Steele, Lea & Flood, 2014).
///
/// It is *not* cryptographically secure. RFC 6056 would ideally want an
/// unpredictable source; this stack prefers reproducibility (same seed, same
/// ports), which is the right trade-off for a teaching stack on a TUN device.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` ≥ 1, ≤ 65536) without a division: scale the
    /// top 32 random bits by `n` ("multiply-shift"). The bias is at most
    /// n / 2³², negligible here.
    pub fn below(&mut self, n: u32) -> u32 {
        let r = self.next_u64() >> 32;
        ((r * u64::from(n)) >> 32) as u32
    }

    /// True with probability `p` (0.0–1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}
