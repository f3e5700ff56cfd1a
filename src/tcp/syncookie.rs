//! SYN cookies (RFC 4987 §3.6): answering a SYN without keeping any state, so a
//! flood of SYNs from forged addresses cannot fill the listener's backlog.
//!
//! When the half-open queue is full, the SYN,ACK's initial sequence number *is*
//! the state: it encodes when it was made and which MSS the peer offered, and a
//! keyed hash that only this stack can compute binds both to the connection's
//! 4-tuple and the peer's ISN. A real peer's ACK returns it (ACK − 1); the stack
//! checks the hash and rebuilds the connection as if it had kept it. An
//! attacker who never sees the SYN,ACK has one chance in 2^24 per try.
//!
//! The 32 bits of a cookie, most significant first:
//!
//! ```text
//!  5 bits: time counter (64-second periods, mod 32)   — a cookie lives one to two periods
//!  3 bits: index of the peer's MSS in MSS_TABLE       — rounded down
//! 24 bits: keyed hash of (secret, 4-tuple, peer ISN, counter, MSS index)
//! ```
//!
//! The other options of the peer's SYN need more room. When the peer offered
//! timestamps (RFC 7323), the low 5 bits of our SYN,ACK's TSval carry them — the
//! window scale (4 bits, 15 meaning none) and SACK-permitted (1 bit) — and come
//! back in the ACK's TSecr, the way Linux does it. Without timestamps a cookie
//! connection has neither window scaling nor SACK: the cost RFC 4987 accepts.
//!
//! Cost: one SipHash per cookie sent and at most two per ACK checked; no memory.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use super::isn::hash_addr;
use super::seq::SeqNumber;
use crate::time::Instant;

/// How long one value of the cookie's time counter lasts.
pub(crate) const PERIOD: Duration = Duration::from_secs(64);

/// The MSS values a cookie can say, smallest first; the peer's offer is rounded
/// down to one of them (536 is the RFC 9293 default, 1460 Ethernet's).
pub(crate) const MSS_TABLE: [u16; 8] = [536, 1024, 1200, 1280, 1360, 1400, 1440, 1460];

/// Low bits of the TSval that carry the options.
const TS_BITS: u32 = 5;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
/// "No window scale" in the 4 window-scale bits.
const NO_WSCALE: u32 = 15;
const SACK_BIT: u32 = 1 << 4;

/// The keyed secret cookies are made and checked with.
#[derive(Clone, Debug)]
pub(crate) struct CookieJar {
    secret: u64,
}

/// What a valid cookie gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cookie {
    /// The MSS the peer offered, rounded down to the table.
    pub mss: u16,
}

/// Options carried in the timestamp bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TsOptions {
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
}

fn counter(now: Instant) -> u32 {
    (now.micros() / PERIOD.as_micros() as u64) as u32
}

impl CookieJar {
    pub fn new(secret: u64) -> Self {
        CookieJar { secret }
    }

    fn mac(&self, local: SocketAddr, remote: SocketAddr, peer_isn: SeqNumber, count: u32, mss_index: u32) -> u32 {
        let mut hasher = DefaultHasher::new();
        self.secret.hash(&mut hasher);
        hash_addr(&local, &mut hasher);
        hash_addr(&remote, &mut hasher);
        peer_isn.0.hash(&mut hasher);
        count.hash(&mut hasher);
        mss_index.hash(&mut hasher);
        hasher.finish() as u32 & 0x00ff_ffff
    }

    /// The cookie — our ISN — for a SYN from `remote` to `local` with ISN
    /// `peer_isn`, offering `peer_mss`.
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        peer_mss: u16,
    ) -> SeqNumber {
        let index = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32;
        let count = counter(now);
        SeqNumber(((count & 0x1f) << 27) | (index << 24) | self.mac(local, remote, peer_isn, count, index))
    }

    /// Check the cookie an ACK returns (its ACK number − 1), made within the last
    /// two periods for this 4-tuple and peer ISN (its sequence number − 1).
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        peer_isn: SeqNumber,
        cookie: SeqNumber,
    ) -> Option<Cookie> {
        let (stamp, index, mac) = (cookie.0 >> 27, (cookie.0 >> 24) & 0x7, cookie.0 & 0x00ff_ffff);
        let now = counter(now);
        [now, now.wrapping_sub(1)]
            .into_iter()
            .find(|&count| count & 0x1f == stamp && self.mac(local, remote, peer_isn, count, index) == mac)
            .map(|_| Cookie { mss: MSS_TABLE[index as usize] })
    }
}

/// The TSval of a cookie SYN,ACK: our clock `tsval` with its low bits replaced by
/// the options, never later than the clock (so the connection's next TSval is not
/// older than this one, RFC 7323 §5.4).
pub(crate) fn encode_ts(tsval: u32, options: TsOptions) -> u32 {
    let bits = options.window_scale.map_or(NO_WSCALE, |s| u32::from(s.min(14)))
        | if options.sack_permitted { SACK_BIT } else { 0 };
    let stamped = (tsval & !TS_MASK) | bits;
    if stamped > tsval {
        stamped.wrapping_sub(TS_MASK + 1)
    } else {
        stamped
    }
}

/// The options a cookie SYN,ACK's TSval carried, read from the ACK's TSecr.
pub(crate) fn decode_ts(tsecr: u32) -> TsOptions {
    let scale = tsecr & 0xf;
    TsOptions { window_scale: (scale != NO_WSCALE).then_some(scale as u8), sack_permitted: tsecr & SACK_BIT != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple() -> (SocketAddr, SocketAddr) {
        ("198.18.0.2:80".parse().expect("addr"), "198.18.0.1:40000".parse().expect("addr"))
    }

    #[test]
    fn a_cookie_checks_for_its_tuple_and_isn_for_two_periods() {
        let jar = CookieJar::new(7);
        let (local, remote) = tuple();
        let made = Instant::from_millis(1_000_000);
        let isn = SeqNumber(123_456);
        let cookie = jar.make(made, local, remote, isn, 1460);
        for later in
            [Duration::ZERO, PERIOD, PERIOD * 2 - Duration::from_millis(1) - Duration::from_millis(1_000_000 % 64_000)]
        {
            assert_eq!(
                jar.check(made + later, local, remote, isn, cookie),
                Some(Cookie { mss: 1460 }),
                "{later:?} later"
            );
        }
        assert_eq!(jar.check(made + PERIOD * 2, local, remote, isn, cookie), None, "too old");
        let other: SocketAddr = "198.18.0.1:40001".parse().expect("addr");
        assert_eq!(jar.check(made, local, other, isn, cookie), None, "another port");
        assert_eq!(jar.check(made, local, remote, isn + 1, cookie), None, "another peer ISN");
        assert_eq!(CookieJar::new(8).check(made, local, remote, isn, cookie), None, "another secret");
        assert_eq!(jar.check(made, local, remote, isn, cookie + 1), None, "a guessed neighbour");
    }

    #[test]
    fn the_mss_is_rounded_down_to_the_table() {
        let jar = CookieJar::new(1);
        let (local, remote) = tuple();
        let now = Instant::from_millis(5);
        for (offered, kept) in [(1460, 1460), (9000, 1460), (1400, 1400), (1300, 1280), (600, 536), (100, 536)] {
            let cookie = jar.make(now, local, remote, SeqNumber(1), offered);
            assert_eq!(jar.check(now, local, remote, SeqNumber(1), cookie), Some(Cookie { mss: kept }), "{offered}");
        }
    }

    #[test]
    fn options_round_trip_through_the_timestamp_and_never_run_ahead_of_the_clock() {
        for window_scale in [None, Some(0), Some(7), Some(14)] {
            for sack_permitted in [false, true] {
                let options = TsOptions { window_scale, sack_permitted };
                for clock in [0u32, 5, 31, 32, 1_000_003, u32::MAX] {
                    let ts = encode_ts(clock, options);
                    assert_eq!(decode_ts(ts), options, "clock {clock}");
                    assert!(clock.wrapping_sub(ts) < 64, "clock {clock}: {ts} is not just before it");
                }
            }
        }
    }
}
