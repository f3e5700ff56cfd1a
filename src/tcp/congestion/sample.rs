//! What a congestion controller measures on each ACK: the round-trip time and the
//! delivery rate, beside the window events of [`CongestionControl`](super::CongestionControl).
//!
//! NewReno needs none of it; CUBIC (RFC 9438) needs the RTT to aim its window one
//! round trip ahead and HyStart++ (RFC 9406) to see the delay rise in slow start; a
//! model-based controller (BBR) needs the delivery rate. The rate follows the
//! sampling of draft-cheng-iccrg-delivery-rate-estimation (the one RFC 9330-era
//! controllers use): every segment remembers, when it is sent, how many bytes had
//! been delivered and when; the ACK that delivers it yields
//! `(delivered now − delivered then) / max(send interval, ACK interval)`.

use std::time::Duration;

/// The round-trip times known after one ACK (RFC 6298 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttSample {
    /// The measurement this ACK carried.
    pub latest: Duration,
    /// The smallest measurement of the connection so far: the path's propagation
    /// delay, as best known.
    pub min: Duration,
    /// SRTT, the smoothed RTT (RFC 6298 §2).
    pub smoothed: Duration,
}

/// One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSample {
    /// Bytes delivered over `interval` (`rs.delivered`).
    pub delivered: u64,
    /// The longer of the send and the ACK interval of those bytes (`rs.interval`);
    /// never shorter than the minimum RTT, else there is no sample.
    pub interval: Duration,
    /// The segment that ended the interval was sent while the sender was
    /// application-limited: the rate says what the application offered, not
    /// what the path can carry (`rs.is_app_limited`).
    pub is_app_limited: bool,
}

impl RateSample {
    /// The delivery rate, bytes per second (`rs.delivery_rate`), saturating.
    pub fn delivery_rate(&self) -> u64 {
        let micros = self.interval.as_micros().max(1);
        let rate = u128::from(self.delivered) * 1_000_000 / micros;
        u64::try_from(rate).unwrap_or(u64::MAX)
    }
}

/// What one ACK told the sender, given to
/// [`on_ack_sample`](super::CongestionControl::on_ack_sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckSample {
    /// Bytes this ACK newly delivered, cumulatively or by SACK.
    pub newly_delivered: usize,
    /// Bytes delivered over the whole connection, this ACK's included
    /// (`C.delivered`).
    pub delivered: u64,
    /// `delivered` when the most recently sent segment this ACK delivered was
    /// sent (`P.delivered`). A round trip that began when `delivered` was `d` is
    /// over once an ACK's `prior_delivered` reaches `d`: the segments sent after
    /// its start are coming back (the round counting of RFC 9406 §4.2 without
    /// sequence numbers). 0 when the ACK delivered nothing.
    pub prior_delivered: u64,
    /// The RTT measured on this ACK, if it carried one.
    pub rtt: Option<RttSample>,
    /// The delivery rate, if this ACK gave a valid sample.
    pub rate: Option<RateSample>,
    /// The sender is application-limited now: it has less than a segment to send
    /// and the congestion window is not full (RFC 7661's "rate-limited").
    pub app_limited: bool,
    /// The flight size after this ACK.
    pub bytes_in_flight: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_bytes_over_the_interval() {
        let rs = RateSample { delivered: 125_000, interval: Duration::from_millis(10), is_app_limited: false };
        assert_eq!(rs.delivery_rate(), 12_500_000);
        let zero = RateSample { interval: Duration::ZERO, ..rs };
        assert_eq!(zero.delivery_rate(), 125_000_000_000, "a zero interval counts as 1 µs");
        let huge = RateSample { delivered: u64::MAX, interval: Duration::from_micros(1), is_app_limited: true };
        assert_eq!(huge.delivery_rate(), u64::MAX);
    }
}
