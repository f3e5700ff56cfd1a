//! Congestion control: how much a sender may have in flight so as not to overrun the
//! *network* (flow control, the receive window, protects the *receiver*).
//!
//! A TCP sender may have at most `min(cwnd, rwnd)` unacknowledged bytes outstanding
//! (RFC 5681 §3). `cwnd`, the congestion window, is the sender's own guess at the path's
//! capacity. It is probed upward while ACKs flow and cut when loss signals congestion.
//! `ssthresh`, the slow-start threshold, separates the two growth regimes: exponential
//! "slow start" below it and linear "congestion avoidance" above it.
//!
//! The connection detects the events (new ACKs, duplicate ACKs, timeouts, idle
//! periods) and tells a [`CongestionControl`] implementation about them; the
//! implementation only does the window arithmetic. That split keeps the algorithm
//! pluggable: [`Cubic`] (RFC 9438, with HyStart++) is the default, as in Linux,
//! [`NewReno`] the classic one, and [`CongestionAlgorithm::Custom`] lets users
//! supply their own (BBR, a fixed window for experiments…): besides the window
//! events, [`CongestionControl::on_ack_sample`] gives it each ACK's RTT, delivered
//! bytes, delivery rate and the application-limited flag.
//!
//! The sequence the connection drives (RFC 5681 §3, RFC 6675 §5):
//!
//! ```text
//!   any ACK that delivered data or timed a round trip ► on_ack_sample
//!                                           (RTT, delivery rate; before the rest)
//!   new ACK outside recovery ──────────────► on_ack
//!   first loss detected (RACK, 3 dup ACKs) ► on_fast_retransmit   (enter recovery)
//!     during recovery the connection sends while cwnd − pipe allows;
//!     the controller is not consulted per ACK (RFC 6675 §5)
//!   ACK at/above the recovery point ───────► on_recovery_end      (leave recovery)
//!   retransmission timer fires ────────────► on_rto
//!   sending after idle > RTO ──────────────► on_idle_restart
//! ```
//!
//! A controller may also pace: [`CongestionControl::pacing_rate`] spaces the data
//! segments the window allows (the `Pace` timer of the connection).
//!
//! Because recovery is driven by `pipe` — the bytes actually estimated in the
//! network — rather than by inflating `cwnd` per duplicate ACK, an implementation
//! only says how large the window should be, never how it is clocked.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::time::Instant;

pub mod cubic;
mod hystart;
pub mod newreno;
pub mod sample;
pub use cubic::Cubic;
pub use newreno::NewReno;
pub use sample::{AckSample, RateSample, RttSample};

/// What a congestion controller is told. All sizes are in bytes.
///
/// "SMSS" below is the sender maximum segment size set by [`set_mss`](Self::set_mss)
/// (or given when the controller was built).
///
/// Implementations must not panic on any input: the connection passes values that
/// come from the network (sizes of ACKed data, flight sizes), which may be anything.
pub trait CongestionControl: fmt::Debug + Send {
    /// A short name for logs and statistics, e.g. `"newreno"`.
    fn name(&self) -> &'static str;

    /// The congestion window: most bytes the sender may have in flight.
    fn cwnd(&self) -> usize;

    /// The slow-start threshold (`usize::MAX` while still "arbitrarily high",
    /// RFC 5681 §3.1).
    fn ssthresh(&self) -> usize;

    /// New data acknowledged (`acked` bytes) while not in recovery;
    /// `bytes_in_flight` is the flight size after this ACK. `now` is for time-based
    /// algorithms (CUBIC, BBR).
    fn on_ack(&mut self, now: Instant, acked: usize, bytes_in_flight: usize);

    /// Entering fast recovery: a loss was detected (by RACK or three duplicate
    /// ACKs). RFC 5681 §3.2 step 2 and RFC 6675 §5 step 4. `bytes_in_flight` is
    /// the flight size when the loss was detected (FlightSize in RFC 5681).
    fn on_fast_retransmit(&mut self, now: Instant, bytes_in_flight: usize);

    /// A full ACK ends recovery (RFC 6582 §3.2 step 6). `bytes_in_flight` is the
    /// flight size after this ACK.
    fn on_recovery_end(&mut self, bytes_in_flight: usize);

    /// The retransmission timer fired (RFC 5681 §3.1: `ssthresh = max(FlightSize/2,
    /// 2·SMSS)` (eq. 4), `cwnd = 1 SMSS`, the loss window). `bytes_in_flight` is the
    /// flight size when the timer fired.
    fn on_rto(&mut self, bytes_in_flight: usize);

    /// The connection was idle for longer than an RTO and is about to send again
    /// (RFC 5681 §4.1: the restart window).
    fn on_idle_restart(&mut self);

    /// The sender MSS changed (after the handshake, or on a path-MTU change).
    fn set_mss(&mut self, mss: usize);

    /// What one ACK measured: the RTT, the bytes delivered and the delivery rate,
    /// whether the sender is application-limited (see [`AckSample`]). Called for
    /// every ACK that delivered data (cumulatively or by SACK) or carried an RTT
    /// sample, in recovery too, *before* the window event the same ACK causes
    /// ([`on_ack`](Self::on_ack), [`on_fast_retransmit`](Self::on_fast_retransmit),
    /// [`on_recovery_end`](Self::on_recovery_end)). The default ignores it, as
    /// NewReno does.
    fn on_ack_sample(&mut self, now: Instant, sample: &AckSample) {
        let _ = (now, sample);
    }

    /// The rate the sender should pace data at, bytes per second; `None` (the
    /// default, NewReno's and CUBIC's) or 0 sends whatever the window allows at
    /// once, clocked by ACKs. Asked before each data segment (first transmissions
    /// and retransmissions): the next may leave `len / rate` after the last.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }
}

/// The initial window of RFC 6928 §2: `min(10·MSS, max(2·MSS, 14600))`.
///
/// Ten segments for the common 1460-byte MSS, but never more than 14600 bytes unless
/// that would be fewer than two segments. Examples: MSS 536 → 5360, MSS 1460 → 14600,
/// MSS 8960 → 17920. Saturates instead of overflowing for absurd MSS values.
pub fn initial_window(mss: usize) -> usize {
    mss.saturating_mul(10).min(mss.saturating_mul(2).max(14_600))
}

/// The windows of a loss-based controller after the SMSS changed to `mss` (at
/// least 1), shared by NewReno and CUBIC: an `untouched` window (no event yet)
/// is recomputed as the new initial window, later windows keep their bytes;
/// then `cwnd ≥ 1·SMSS` and `ssthresh ≥ 2·SMSS` (RFC 5681's floors) hold again.
pub(super) fn windows_for_new_mss(cwnd: &mut usize, ssthresh: &mut usize, mss: usize, untouched: bool) {
    if untouched {
        *cwnd = initial_window(mss);
    }
    *cwnd = (*cwnd).max(mss);
    *ssthresh = (*ssthresh).max(mss.saturating_mul(2));
}

/// A factory for a user-supplied congestion controller: given the sender MSS, build
/// one controller for one connection.
pub type CongestionFactory = Arc<dyn Fn(usize) -> Box<dyn CongestionControl> + Send + Sync>;

/// Which algorithm a connection uses.
///
/// ```
/// use std::sync::Arc;
/// use tunstack::congestion::{CongestionAlgorithm, NewReno};
///
/// let standard = CongestionAlgorithm::default();
/// assert_eq!(standard.build(1460).name(), "cubic");
/// assert_eq!("newreno".parse::<CongestionAlgorithm>()?.build(1460).name(), "newreno");
///
/// // Plug in your own: here NewReno again, but any `CongestionControl` works.
/// let custom = CongestionAlgorithm::Custom(Arc::new(|mss| Box::new(NewReno::new(mss))));
/// assert_eq!(custom.build(536).cwnd(), 5360);
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 with the NewReno recovery of RFC 6582.
    NewReno,
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406): the default, as in Linux.
    #[default]
    Cubic,
    /// A user-supplied algorithm: called once per connection with the sender MSS.
    Custom(CongestionFactory),
}

impl CongestionAlgorithm {
    /// A fresh controller for one connection whose sender MSS is `mss`.
    pub fn build(&self, mss: usize) -> Box<dyn CongestionControl> {
        match self {
            CongestionAlgorithm::NewReno => Box::new(NewReno::new(mss)),
            CongestionAlgorithm::Cubic => Box::new(Cubic::new(mss)),
            CongestionAlgorithm::Custom(factory) => factory(mss),
        }
    }
}

/// Two algorithms are equal when they build the same controller: the same
/// standard one, or the same custom factory (the same `Arc`).
impl PartialEq for CongestionAlgorithm {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CongestionAlgorithm::NewReno, CongestionAlgorithm::NewReno)
            | (CongestionAlgorithm::Cubic, CongestionAlgorithm::Cubic) => true,
            (CongestionAlgorithm::Custom(a), CongestionAlgorithm::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for CongestionAlgorithm {}

impl FromStr for CongestionAlgorithm {
    type Err = String;

    /// `cubic` or `newreno` (a custom algorithm has no name to parse).
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "cubic" => Ok(CongestionAlgorithm::Cubic),
            "newreno" => Ok(CongestionAlgorithm::NewReno),
            other => Err(format!("unknown congestion control {other:?} (known: cubic, newreno)")),
        }
    }
}

impl fmt::Debug for CongestionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CongestionAlgorithm::NewReno => f.write_str("NewReno"),
            CongestionAlgorithm::Cubic => f.write_str("Cubic"),
            CongestionAlgorithm::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_rfc_6928() {
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(8960), 17920);
        // In between: 1500-byte MSS is capped at 14600 (< 10·1500).
        assert_eq!(initial_window(1500), 14600);
        assert_eq!(initial_window(usize::MAX), usize::MAX);
        assert_eq!(initial_window(0), 0);
    }

    /// A trivial fixed-window controller, to show a custom algorithm plugging in.
    #[derive(Debug)]
    struct Fixed(usize);

    impl CongestionControl for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn cwnd(&self) -> usize {
            self.0
        }
        fn ssthresh(&self) -> usize {
            usize::MAX
        }
        fn on_ack(&mut self, _: Instant, _: usize, _: usize) {}
        fn on_fast_retransmit(&mut self, _: Instant, _: usize) {}
        fn on_recovery_end(&mut self, _: usize) {}
        fn on_rto(&mut self, _: usize) {}
        fn on_idle_restart(&mut self) {}
        fn set_mss(&mut self, _: usize) {}
    }

    #[test]
    fn algorithms_build_and_print() {
        let default = CongestionAlgorithm::default();
        assert_eq!(format!("{default:?}"), "Cubic");
        let cc = default.build(1460);
        assert_eq!(cc.name(), "cubic");
        assert_eq!(cc.cwnd(), 14600);
        let newreno = CongestionAlgorithm::NewReno;
        assert_eq!(format!("{newreno:?}"), "NewReno");
        assert_eq!(newreno.build(1460).name(), "newreno");

        let custom = CongestionAlgorithm::Custom(Arc::new(|mss| Box::new(Fixed(mss * 4))));
        assert_eq!(format!("{custom:?}"), "Custom(..)");
        let cc = custom.clone().build(1000);
        assert_eq!(cc.name(), "fixed");
        assert_eq!(cc.cwnd(), 4000);
    }

    #[test]
    fn algorithms_compare_by_what_they_build() {
        let factory: CongestionFactory = Arc::new(|mss| Box::new(Fixed(mss)));
        assert_eq!(CongestionAlgorithm::Cubic, CongestionAlgorithm::default());
        assert_ne!(CongestionAlgorithm::Cubic, CongestionAlgorithm::NewReno);
        assert_eq!(CongestionAlgorithm::Custom(factory.clone()), CongestionAlgorithm::Custom(factory.clone()));
        let other: CongestionFactory = Arc::new(|mss| Box::new(Fixed(mss)));
        assert_ne!(CongestionAlgorithm::Custom(factory), CongestionAlgorithm::Custom(other));
    }

    #[test]
    fn algorithms_parse_by_name() {
        assert_eq!("cubic".parse::<CongestionAlgorithm>().map(|a| a.build(1).name()), Ok("cubic"));
        assert_eq!("newreno".parse::<CongestionAlgorithm>().map(|a| a.build(1).name()), Ok("newreno"));
        assert!("bbr".parse::<CongestionAlgorithm>().is_err_and(|e| e.contains("known: cubic, newreno")));
    }
}
