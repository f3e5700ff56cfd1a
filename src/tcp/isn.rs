//! Initial sequence numbers (RFC 6528 §3).
//!
//! ISN = M + F(local address, local port, remote address, remote port, secret),
//! where M is a clock ticking every 4 µs and F a keyed hash. The clock keeps a
//! quickly reused 4-tuple from reusing sequence numbers; the keyed hash keeps an
//! off-path attacker from guessing them.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;

use super::seq::SeqNumber;
use crate::time::Instant;

/// Generates ISNs from a secret fixed when the stack starts (from the config seed,
/// so runs are reproducible; a production deployment seeds it randomly).
#[derive(Debug, Clone)]
pub struct IsnGenerator {
    secret: u64,
}

impl IsnGenerator {
    pub fn new(secret: u64) -> Self {
        IsnGenerator { secret }
    }

    /// The ISN for a connection between `local` and `remote` at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNumber {
        // DefaultHasher::new() is SipHash with fixed keys; mixing the secret in
        // first makes it a keyed pseudo-random function of the 4-tuple.
        let mut hasher = DefaultHasher::new();
        self.secret.hash(&mut hasher);
        hash_addr(&local, &mut hasher);
        hash_addr(&remote, &mut hasher);
        let f = hasher.finish() as u32;
        let m = (now.micros() / 4) as u32;
        SeqNumber(m.wrapping_add(f))
    }
}

/// Hash an address of either family; an IPv4 one exactly as a `SocketAddrV4`
/// (so IPv4 ISNs and cookies are what they were before IPv6).
pub(crate) fn hash_addr(addr: &SocketAddr, hasher: &mut impl Hasher) {
    match addr {
        SocketAddr::V4(a) => a.hash(hasher),
        SocketAddr::V6(a) => a.hash(hasher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_per_tuple_and_advancing() {
        let g = IsnGenerator::new(42);
        let a: SocketAddr = "198.18.0.2:80".parse().expect("addr");
        let b: SocketAddr = "198.18.0.1:40000".parse().expect("addr");
        let c: SocketAddr = "[2001:2::1]:40000".parse().expect("addr");
        let t = Instant::from_millis(10);
        assert_ne!(g.isn(t, a, b), g.isn(t, a, c));
        assert_ne!(g.isn(t, a, b), IsnGenerator::new(43).isn(t, a, b));
        assert_eq!(g.isn(t + std::time::Duration::from_micros(400), a, b) - g.isn(t, a, b), 100);
    }
}
