//! The port table of one transport namespace, and its ephemeral-port
//! allocator.
//!
//! A [`PortTable`] answers three questions in O(1): *is port `p` taken?*,
//! *take port `p`*, *give port `p` back*. It stores one bit per possible port
//! (65536 bits = 8 KiB) plus a running count, so none of those operations
//! scans a list.

use crate::rng::SplitMix64;
use std::fmt;
use std::io;
use std::ops::RangeInclusive;

use super::Protocol;

/// First port that is *not* privileged. Ports `0..PRIVILEGED_END` are the
/// "System Ports" of RFC 6335 §6, which Unix traditionally reserves for root.
const PRIVILEGED_END: u16 = 1024;

/// Default ephemeral range: the "Dynamic and/or Private Ports" of RFC 6335 §6.
const DEFAULT_EPHEMERAL: RangeInclusive<u16> = 49152..=65535;

/// Number of `u64` words needed for one bit per port.
const WORDS: usize = 65536 / 64;

/// How a [`PortTable`] hands out and guards ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// Ephemeral range (inclusive), default 49152..=65535 (RFC 6335 §6
    /// dynamic range). Ports for `bind(0)` and
    /// [`pick_ephemeral`](PortTable::pick_ephemeral) come from here.
    ///
    /// An empty or reversed range (e.g. `5..=4`) is not an error: it simply
    /// means every `bind(0)` fails with [`BindError::Exhausted`]. Port 0 is
    /// never handed out, and neither are ports below 1024 when
    /// [`allow_privileged`](Self::allow_privileged) is false.
    ///
    /// (For comparison: Linux uses 32768–60999 by default, tunable through
    /// `net.ipv4.ip_local_port_range`.)
    pub ephemeral: RangeInclusive<u16>,
    /// Whether ports below 1024 may be bound. Default true (root-run services).
    pub allow_privileged: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig { ephemeral: DEFAULT_EPHEMERAL, allow_privileged: true }
    }
}

/// Why a [`PortTable::bind`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindError {
    /// The port is already bound in this namespace (`EADDRINUSE`).
    InUse(u16),
    /// The port is below 1024 and the table was configured with
    /// `allow_privileged: false` (`EACCES`).
    Privileged(u16),
    /// `bind(0)` found no free port in the ephemeral range
    /// (`EADDRNOTAVAIL`).
    Exhausted,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::InUse(port) => write!(f, "port {port} is already in use"),
            BindError::Privileged(port) => write!(
                f,
                "port {port} is privileged (below 1024) and this stack does not allow \
                 binding privileged ports"
            ),
            BindError::Exhausted => f.write_str("no free ephemeral port in the configured ephemeral range"),
        }
    }
}

impl std::error::Error for BindError {}

impl From<BindError> for io::Error {
    /// Maps to the error kinds the standard library's sockets report for the
    /// same situations, keeping the [`BindError`] as the source.
    fn from(err: BindError) -> Self {
        let kind = match err {
            BindError::InUse(_) => io::ErrorKind::AddrInUse,
            BindError::Privileged(_) => io::ErrorKind::PermissionDenied,
            BindError::Exhausted => io::ErrorKind::AddrNotAvailable,
        };
        io::Error::new(kind, err)
    }
}

/// The ports bound in one namespace (one per protocol).
///
/// ```
/// use tunstack::ports::{PortConfig, PortTable, Protocol, BindError};
///
/// let mut tcp = PortTable::new(Protocol::Tcp, PortConfig::default(), 42);
/// let mut udp = PortTable::new(Protocol::Udp, PortConfig::default(), 42);
/// assert_eq!(tcp.bind(7), Ok(7));
/// assert_eq!(udp.bind(7), Ok(7)); // a different namespace
/// assert_eq!(tcp.bind(7), Err(BindError::InUse(7)));
/// let eph = tcp.bind(0).expect("free ephemeral port");
/// assert!((49152..=65535).contains(&eph));
/// ```
#[derive(Clone)]
pub struct PortTable {
    protocol: Protocol,
    config: PortConfig,
    /// Bit `p % 64` of word `p / 64` is set iff port `p` is bound.
    bits: Box<[u64; WORDS]>,
    /// Number of set bits in `bits`, kept so `len()` is O(1).
    count: usize,
    rng: SplitMix64,
}

impl fmt::Debug for PortTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bitmap is 1024 words; show what it means, not what it is.
        f.debug_struct("PortTable")
            .field("protocol", &self.protocol)
            .field("config", &self.config)
            .field("bound", &self.count)
            .finish_non_exhaustive()
    }
}

impl PortTable {
    /// An empty table for `protocol`'s namespace.
    ///
    /// `seed` drives the ephemeral allocator so runs are reproducible.
    pub fn new(protocol: Protocol, config: PortConfig, seed: u64) -> Self {
        PortTable { protocol, config, bits: Box::new([0; WORDS]), count: 0, rng: SplitMix64::new(seed) }
    }

    /// The namespace this table belongs to.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The configuration the table was created with.
    pub fn config(&self) -> &PortConfig {
        &self.config
    }

    /// Bind `port`; 0 asks for an ephemeral port. Returns the port bound.
    ///
    /// * An explicit port fails with [`BindError::Privileged`] if it is below
    ///   1024 and privileged ports are not allowed, and with
    ///   [`BindError::InUse`] if it is already bound. A port inside the
    ///   ephemeral range may be bound explicitly too.
    /// * Port 0 picks a free port from the ephemeral range with the
    ///   randomized algorithm described on
    ///   [`pick_ephemeral`](Self::pick_ephemeral), failing with
    ///   [`BindError::Exhausted`] when every candidate is taken.
    pub fn bind(&mut self, port: u16) -> Result<u16, BindError> {
        if port == 0 {
            let range = self.candidates();
            let bits = &self.bits;
            let port = select(&mut self.rng, range, |p| !test_bit(bits, p)).ok_or(BindError::Exhausted)?;
            self.mark(port);
            return Ok(port);
        }
        if port < PRIVILEGED_END && !self.config.allow_privileged {
            return Err(BindError::Privileged(port));
        }
        if self.is_bound(port) {
            return Err(BindError::InUse(port));
        }
        self.mark(port);
        Ok(port)
    }

    /// Allocate an ephemeral port for which `usable(port)` is true (for TCP
    /// active opens, where a port may be reused for different peers). Marks
    /// nothing: the caller binds it or not. Same selection algorithm as
    /// `bind(0)`.
    ///
    /// Note that bound ports are *not* filtered out here: a TCP connection
    /// is identified by the whole 4-tuple, so one local port can serve
    /// connections to different peers, and only the caller knows which
    /// ports would clash. `usable` is called at most once per candidate.
    ///
    /// # Algorithm (RFC 6056 §3.3.1, "Simple Port Randomization")
    ///
    /// Let the candidates be `min..=max` (the configured ephemeral range,
    /// minus port 0 and, if privileged ports are not allowed, minus
    /// 0–1023) and `n = max - min + 1`:
    ///
    /// 1. start at `min + random() % n`;
    /// 2. if that port is usable, return it;
    /// 3. otherwise step to the next port, wrapping from `max` to `min`;
    /// 4. give up (`None`) after all `n` candidates have been tried.
    ///
    /// Because the start is random every time, consecutive allocations are
    /// scattered across the range rather than counting upward, which makes
    /// them hard for an off-path attacker to guess. The linear probe
    /// guarantees that a free port is found whenever one exists, which
    /// RFC 6056 §3.3.2's variant (a fresh random number per probe) does not.
    /// The RFC notes one weakness of this algorithm: a port just after a
    /// run of taken ports is picked more often than others.
    pub fn pick_ephemeral(&mut self, usable: impl FnMut(u16) -> bool) -> Option<u16> {
        let range = self.candidates();
        select(&mut self.rng, range, usable)
    }

    /// Release a bound port; returns false if it was not bound (caller bug →
    /// the caller should count it, never a panic).
    pub fn release(&mut self, port: u16) -> bool {
        let (word, mask) = locate(port);
        if self.bits[word] & mask == 0 {
            return false;
        }
        self.bits[word] &= !mask;
        self.count -= 1;
        true
    }

    /// Whether `port` is currently bound in this namespace.
    pub fn is_bound(&self, port: u16) -> bool {
        test_bit(&self.bits, port)
    }

    /// Number of bound ports.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no port is bound.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bound ports in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits.iter().enumerate().filter(|(_, &word)| word != 0).flat_map(|(index, &word)| SetBits {
            word,
            // index < 1024, so index * 64 <= 65472 fits in a u16.
            base: (index * 64) as u16,
        })
    }

    /// Sets `port`'s bit; the caller has checked that it was clear.
    fn mark(&mut self, port: u16) {
        let (word, mask) = locate(port);
        debug_assert!(self.bits[word] & mask == 0, "port {port} marked twice");
        self.bits[word] |= mask;
        self.count += 1;
    }

    /// The ports the allocator may hand out, or `None` if there are none.
    fn candidates(&self) -> Option<(u16, u16)> {
        let floor = if self.config.allow_privileged {
            1 // port 0 means "any port" and is never allocated
        } else {
            PRIVILEGED_END
        };
        let min = (*self.config.ephemeral.start()).max(floor);
        let max = *self.config.ephemeral.end();
        (min <= max).then_some((min, max))
    }
}

/// Which word holds `port`'s bit, and the mask for that bit.
fn locate(port: u16) -> (usize, u64) {
    (usize::from(port >> 6), 1u64 << (port & 63))
}

fn test_bit(bits: &[u64; WORDS], port: u16) -> bool {
    let (word, mask) = locate(port);
    bits[word] & mask != 0
}

/// RFC 6056 §3.3.1: random start, then probe upward with wrap-around.
fn select(rng: &mut SplitMix64, range: Option<(u16, u16)>, mut usable: impl FnMut(u16) -> bool) -> Option<u16> {
    let (min, max) = range?;
    let n = u32::from(max) - u32::from(min) + 1; // 1..=65535
    let mut offset = rng.below(n);
    for _ in 0..n {
        // offset < n, so min + offset <= max <= 65535.
        let port = (u32::from(min) + offset) as u16;
        if usable(port) {
            return Some(port);
        }
        offset += 1;
        if offset == n {
            offset = 0;
        }
    }
    None
}

/// Iterates over the set bits of one bitmap word, lowest first.
struct SetBits {
    word: u64,
    base: u16,
}

impl Iterator for SetBits {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if self.word == 0 {
            return None;
        }
        let bit = self.word.trailing_zeros() as u16; // 0..=63
        self.word &= self.word - 1; // clear the lowest set bit
        Some(self.base + bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashSet};

    fn table(protocol: Protocol) -> PortTable {
        PortTable::new(protocol, PortConfig::default(), 7)
    }

    fn small(range: RangeInclusive<u16>) -> PortTable {
        let config = PortConfig { ephemeral: range, allow_privileged: true };
        PortTable::new(Protocol::Udp, config, 1)
    }

    #[test]
    fn default_config_is_rfc6335_dynamic_range() {
        let config = PortConfig::default();
        assert_eq!(config.ephemeral, 49152..=65535);
        assert!(config.allow_privileged);
    }

    #[test]
    fn tcp_and_udp_tables_are_independent() {
        let mut tcp = table(Protocol::Tcp);
        let mut udp = table(Protocol::Udp);
        assert_eq!(tcp.protocol(), Protocol::Tcp);
        assert_eq!(udp.protocol(), Protocol::Udp);
        assert_eq!(tcp.bind(7), Ok(7));
        assert_eq!(udp.bind(7), Ok(7));
        assert_eq!(tcp.bind(7), Err(BindError::InUse(7)));
        assert_eq!(udp.bind(7), Err(BindError::InUse(7)));
        assert!(tcp.release(7));
        assert!(!tcp.is_bound(7));
        assert!(udp.is_bound(7), "releasing TCP 7 must not touch UDP 7");
    }

    #[test]
    fn bind_zero_gives_distinct_scattered_ports_in_range() {
        let mut tcp = table(Protocol::Tcp);
        let ports: Vec<u16> = (0..100).map(|_| tcp.bind(0).expect("range has room")).collect();
        assert!(ports.iter().all(|p| (49152..=65535).contains(p)));
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 100);
        let increments = ports.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
        assert!(increments < 5, "looks sequential: {ports:?}");
        assert_eq!(tcp.len(), 100);
    }

    #[test]
    fn same_seed_same_ports() {
        let mut a = table(Protocol::Tcp);
        let mut b = table(Protocol::Tcp);
        let pa: Vec<_> = (0..20).map(|_| a.bind(0)).collect();
        let pb: Vec<_> = (0..20).map(|_| b.bind(0)).collect();
        assert_eq!(pa, pb);
        let mut c = PortTable::new(Protocol::Tcp, PortConfig::default(), 8);
        let pc: Vec<_> = (0..20).map(|_| c.bind(0)).collect();
        assert_ne!(pa, pc);
    }

    #[test]
    fn release_frees_the_port() {
        let mut udp = table(Protocol::Udp);
        assert_eq!(udp.bind(53), Ok(53));
        assert!(udp.is_bound(53));
        assert_eq!(udp.len(), 1);
        assert!(udp.release(53));
        assert!(!udp.is_bound(53));
        assert!(udp.is_empty());
        assert_eq!(udp.bind(53), Ok(53));
    }

    #[test]
    fn release_of_unbound_port_returns_false() {
        let mut udp = table(Protocol::Udp);
        assert!(!udp.release(9));
        assert!(!udp.release(0));
        assert_eq!(udp.bind(9), Ok(9));
        assert!(udp.release(9));
        assert!(!udp.release(9), "double release");
        assert_eq!(udp.len(), 0);
    }

    #[test]
    fn privileged_ports_refused_when_configured() {
        let config = PortConfig { allow_privileged: false, ..PortConfig::default() };
        let mut tcp = PortTable::new(Protocol::Tcp, config, 3);
        assert_eq!(tcp.bind(22), Err(BindError::Privileged(22)));
        assert_eq!(tcp.bind(1023), Err(BindError::Privileged(1023)));
        assert_eq!(tcp.bind(1024), Ok(1024));
        assert!(tcp.bind(0).is_ok(), "ephemeral ports are never privileged");
        assert_eq!(tcp.len(), 2);
        // Allowed by default.
        assert_eq!(table(Protocol::Tcp).bind(22), Ok(22));
    }

    #[test]
    fn allocator_skips_privileged_and_zero_ports() {
        let config = PortConfig { ephemeral: 0..=1025, allow_privileged: false };
        let mut t = PortTable::new(Protocol::Udp, config, 5);
        let mut got = [t.bind(0), t.bind(0)].map(|r| r.expect("two candidates"));
        got.sort_unstable();
        assert_eq!(got, [1024, 1025]);
        assert_eq!(t.bind(0), Err(BindError::Exhausted));

        let mut t = small(0..=1);
        assert_eq!(t.bind(0), Ok(1), "port 0 is never allocated");
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
    }

    #[test]
    fn explicit_bind_inside_ephemeral_range() {
        let mut t = small(50000..=50001);
        assert_eq!(t.bind(50000), Ok(50000));
        assert_eq!(t.bind(0), Ok(50001));
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
        assert_eq!(t.bind(50001), Err(BindError::InUse(50001)));
    }

    #[test]
    fn small_range_exhausts_and_recovers() {
        let mut t = small(50000..=50003);
        let mut got: Vec<u16> = (0..4).map(|_| t.bind(0).expect("room left")).collect();
        got.sort_unstable();
        assert_eq!(got, vec![50000, 50001, 50002, 50003]);
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
        assert!(t.release(50002));
        assert_eq!(t.bind(0), Ok(50002));
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
    }

    #[test]
    fn empty_or_reversed_range_is_always_exhausted() {
        #[allow(clippy::reversed_empty_ranges)]
        let mut t = small(50003..=50000);
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
        assert_eq!(t.pick_ephemeral(|_| true), None);
        assert_eq!(t.bind(50001), Ok(50001), "explicit binds still work");
        let mut t = small(0..=0);
        assert_eq!(t.bind(0), Err(BindError::Exhausted));
    }

    #[test]
    fn full_range_works() {
        let mut t = small(0..=65535);
        assert_eq!(t.bind(65535), Ok(65535));
        let p = t.bind(0).expect("room");
        assert!(p >= 1);
        assert_eq!(t.pick_ephemeral(|p| p == 65534), Some(65534));
    }

    #[test]
    fn pick_ephemeral_honours_usable_and_marks_nothing() {
        let mut t = table(Protocol::Tcp);
        let mut tried = HashSet::new();
        let got = t.pick_ephemeral(|p| {
            assert!(tried.insert(p), "port {p} offered twice");
            p % 1000 == 0
        });
        let got = got.expect("some multiple of 1000 is in range");
        assert_eq!(got % 1000, 0);
        assert!((49152..=65535).contains(&got));
        assert!(t.is_empty(), "pick_ephemeral must not bind");

        // Bound ports are still offered: only `usable` decides.
        assert_eq!(t.bind(60000), Ok(60000));
        assert_eq!(t.pick_ephemeral(|p| p == 60000), Some(60000));

        // Nothing usable: every candidate is tried exactly once.
        let mut calls = 0u32;
        assert_eq!(
            t.pick_ephemeral(|_| {
                calls += 1;
                false
            }),
            None
        );
        assert_eq!(calls, 65535 - 49152 + 1);
    }

    #[test]
    fn iter_is_ascending() {
        let mut t = table(Protocol::Udp);
        for p in [65535, 7, 64, 63, 1, 50000] {
            assert_eq!(t.bind(p), Ok(p));
        }
        let got: Vec<u16> = t.iter().collect();
        assert_eq!(got, vec![1, 7, 63, 64, 50000, 65535]);
    }

    #[test]
    fn errors_display_and_convert_to_io() {
        assert_eq!(BindError::InUse(7).to_string(), "port 7 is already in use");
        assert_eq!(
            BindError::Privileged(22).to_string(),
            "port 22 is privileged (below 1024) and this stack does not allow binding \
             privileged ports"
        );
        assert!(BindError::Exhausted.to_string().contains("no free ephemeral port"));
        let cases = [
            (BindError::InUse(7), io::ErrorKind::AddrInUse),
            (BindError::Privileged(22), io::ErrorKind::PermissionDenied),
            (BindError::Exhausted, io::ErrorKind::AddrNotAvailable),
        ];
        for (err, kind) in cases {
            let io_err = io::Error::from(err);
            assert_eq!(io_err.kind(), kind);
            assert_eq!(io_err.to_string(), err.to_string());
        }
    }

    #[test]
    fn debug_is_short() {
        let s = format!("{:?}", table(Protocol::Tcp));
        assert!(s.contains("Tcp") && s.len() < 200, "{s}");
    }

    #[derive(Clone, Debug)]
    enum Op {
        Bind(u16),
        BindAny,
        Release(u16),
    }

    const LO: u16 = 50000;
    const HI: u16 = 50015;

    fn op() -> impl Strategy<Value = Op> {
        // A small port pool (inside and outside the ephemeral range) so
        // collisions, exhaustion and double releases actually happen.
        let port = prop_oneof![LO - 4..=HI + 4, 1u16..8];
        prop_oneof![port.clone().prop_map(Op::Bind), Just(Op::BindAny), port.prop_map(Op::Release),]
    }

    proptest! {
        #[test]
        fn matches_hashset_model(
            seed in any::<u64>(),
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let config = PortConfig { ephemeral: LO..=HI, allow_privileged: true };
            let mut t = PortTable::new(Protocol::Udp, config, seed);
            let mut model = HashSet::new();
            for op in ops {
                match op {
                    Op::Bind(p) => {
                        let expected = if model.insert(p) { Ok(p) } else { Err(BindError::InUse(p)) };
                        prop_assert_eq!(t.bind(p), expected);
                    }
                    Op::BindAny => {
                        let full = (LO..=HI).all(|p| model.contains(&p));
                        match t.bind(0) {
                            Ok(p) => {
                                prop_assert!((LO..=HI).contains(&p));
                                prop_assert!(model.insert(p), "returned bound port {}", p);
                            }
                            Err(e) => {
                                prop_assert_eq!(e, BindError::Exhausted);
                                prop_assert!(full);
                            }
                        }
                    }
                    Op::Release(p) => prop_assert_eq!(t.release(p), model.remove(&p)),
                }
                prop_assert_eq!(t.len(), model.len());
                prop_assert_eq!(t.is_empty(), model.is_empty());
            }
            let sorted: BTreeSet<u16> = model.into_iter().collect();
            prop_assert_eq!(t.iter().collect::<Vec<_>>(), sorted.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn bind_zero_stays_in_any_range(
            start in any::<u16>(),
            end in any::<u16>(),
            allow_privileged in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let config = PortConfig { ephemeral: start..=end, allow_privileged };
            let mut t = PortTable::new(Protocol::Tcp, config, seed);
            for _ in 0..20 {
                match t.bind(0) {
                    Ok(p) => {
                        prop_assert!((start..=end).contains(&p));
                        prop_assert!(p != 0);
                        prop_assert!(allow_privileged || p >= 1024);
                    }
                    Err(e) => prop_assert_eq!(e, BindError::Exhausted),
                }
            }
        }
    }
}
