//! Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation): how fast
//! the path delivered the connection's data lately, for the congestion controller.
//!
//! **Representation.** The connection counts the bytes delivered so far
//! (`C.delivered`) and when the last of them was (`C.delivered_time`). Each
//! transmission stamps its record in the retransmission queue with a
//! [`TxSnapshot`] of those counters (§3.2). When an ACK delivers records, the most
//! recently sent of them (largest `P.delivered`) decides the sample (§3.3): the
//! bytes delivered since its snapshot over the longer of the time it took to send
//! them and the time it took to ACK them. The longer interval hides ACK
//! compression and stretch ACKs; an interval shorter than the minimum RTT is
//! impossible for a real path and gives no sample.
//!
//! **Application-limited.** When the sender has less than a segment to send and
//! the congestion window is not full, the rate measures the application, not the
//! path; [`DeliveryRate::on_app_limited`] marks the bubble (`C.app_limited`)
//! until the data in flight then is delivered, and samples taken meanwhile say so.
//!
//! **Bounds and cost.** Three counters and one sample under construction; O(1)
//! per transmission and per delivered record. Nothing here comes from the peer
//! but which records it acknowledged, and all arithmetic saturates.

use std::time::Duration;

use super::congestion::RateSample;
use super::sent_queue::SentSegment;
use crate::time::Instant;

/// The counters at a segment's (re)transmission (draft §3.2, the `P.*` fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxSnapshot {
    /// `C.delivered` then.
    pub delivered: u64,
    /// `C.delivered_time` then.
    pub delivered_time: Instant,
    /// `C.first_sent_time` then: when the send interval it ends began.
    pub first_sent_time: Instant,
    /// The sender was application-limited then.
    pub is_app_limited: bool,
}

/// The sample an ACK is building (draft §3.3, the `rs.*` fields).
#[derive(Clone, Copy, Debug)]
struct Building {
    prior_delivered: u64,
    send_elapsed: Duration,
    ack_elapsed: Duration,
    is_app_limited: bool,
}

/// One connection's delivery counters. See the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct DeliveryRate {
    /// `C.delivered`: bytes delivered (cumulatively ACKed or SACKed) so far.
    delivered: u64,
    /// `C.delivered_time`: when `delivered` last grew.
    delivered_time: Instant,
    /// `C.first_sent_time`: send time of the segment that began the current
    /// send interval.
    first_sent_time: Instant,
    /// `C.app_limited`: 0, or the `delivered` count past which the sender is no
    /// longer application-limited.
    app_limited: u64,
    /// Bytes the ACK under way delivered so far.
    newly: usize,
    /// Its sample, once it delivered something.
    building: Option<Building>,
}

/// What [`DeliveryRate::finish`] reports of one ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckDelivery {
    /// Bytes the ACK delivered.
    pub newly: usize,
    /// `C.delivered` after it.
    pub delivered: u64,
    /// `P.delivered` of the most recently sent segment it delivered (0 when it
    /// delivered nothing: no round trip ends on it).
    pub prior_delivered: u64,
    /// The rate sample, if valid.
    pub rate: Option<RateSample>,
    /// The sender is still application-limited.
    pub app_limited: bool,
}

impl DeliveryRate {
    /// A segment is (re)sent at `now` with `in_flight` bytes already outstanding:
    /// its snapshot (draft §3.2, `SendPacket`). With nothing in flight the send
    /// and ACK intervals start afresh, so an idle period is not counted.
    pub fn on_send(&mut self, now: Instant, in_flight: usize) -> TxSnapshot {
        if in_flight == 0 {
            self.first_sent_time = now;
            self.delivered_time = now;
        }
        TxSnapshot {
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_sent_time: self.first_sent_time,
            is_app_limited: self.app_limited != 0,
        }
    }

    /// `seg` was delivered (newly ACKed or SACKed) at `now` (draft §3.3,
    /// `UpdateRateSample`).
    pub fn on_delivered(&mut self, seg: &SentSegment, now: Instant) {
        let len = seg.len();
        self.delivered = self.delivered.saturating_add(len as u64);
        self.delivered_time = now;
        self.newly = self.newly.saturating_add(len);
        let tx = seg.tx;
        if self.building.is_some_and(|b| tx.delivered < b.prior_delivered) {
            return;
        }
        self.building = Some(Building {
            prior_delivered: tx.delivered,
            send_elapsed: seg.sent_at.saturating_duration_since(tx.first_sent_time),
            ack_elapsed: now.saturating_duration_since(tx.delivered_time),
            is_app_limited: tx.is_app_limited,
        });
        // The next send interval starts where this one ended.
        self.first_sent_time = seg.sent_at;
    }

    /// The ACK is processed: its sample (draft §3.3, `GenerateRateSample`). No
    /// rate when it delivered nothing or its interval is below `min_rtt`.
    pub fn finish(&mut self, min_rtt: Option<Duration>) -> AckDelivery {
        if self.app_limited != 0 && self.delivered > self.app_limited {
            self.app_limited = 0;
        }
        let newly = std::mem::take(&mut self.newly);
        let building = self.building.take();
        let rate = building.and_then(|b| {
            let interval = b.send_elapsed.max(b.ack_elapsed);
            let too_short = interval.is_zero() || min_rtt.is_some_and(|min| interval < min);
            (!too_short).then(|| RateSample {
                delivered: self.delivered.saturating_sub(b.prior_delivered),
                interval,
                is_app_limited: b.is_app_limited,
            })
        });
        AckDelivery {
            newly,
            delivered: self.delivered,
            prior_delivered: building.map_or(0, |b| b.prior_delivered),
            rate,
            app_limited: self.app_limited != 0,
        }
    }

    /// The sender ran out of data with room in the congestion window, `pipe`
    /// bytes in the network (draft §3.4, `CheckIfApplicationLimited`): until
    /// those are delivered, samples are application-limited.
    pub fn on_app_limited(&mut self, pipe: usize) {
        self.app_limited = self.delivered.saturating_add(pipe as u64).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::seq::SeqNumber;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn segment(start: u32, len: u32, sent_at: Instant, tx: TxSnapshot) -> SentSegment {
        SentSegment {
            start: SeqNumber(start),
            end: SeqNumber(start + len),
            sent_at,
            tx,
            retransmitted: false,
            sacked: false,
            lost: false,
        }
    }

    #[test]
    fn a_steady_flight_measures_its_rate() {
        let mut d = DeliveryRate::default();
        // Ten 1000-byte segments sent 1 ms apart from t = 0, each ACKed 40 ms later.
        let segs: Vec<_> = (0..10u32)
            .map(|i| {
                let now = at(u64::from(i));
                let tx = d.on_send(now, (i * 1000) as usize);
                segment(i * 1000, 1000, now, tx)
            })
            .collect();
        for (i, s) in segs.iter().enumerate() {
            d.on_delivered(s, at(40 + i as u64));
            let ack = d.finish(Some(Duration::from_millis(40)));
            assert_eq!(ack.newly, 1000);
            assert_eq!(ack.delivered, 1000 * (i as u64 + 1));
            assert_eq!(ack.prior_delivered, 0, "all were sent before anything was delivered");
            let rate = ack.rate.expect("a 40 ms interval is a valid sample");
            // (i+1) segments over max(send i ms, ACK 40+i ms).
            assert_eq!(rate.delivered, 1000 * (i as u64 + 1));
            assert_eq!(rate.interval, Duration::from_millis(40 + i as u64));
            assert!(!ack.app_limited && !rate.is_app_limited);
        }
    }

    #[test]
    fn an_interval_below_the_minimum_rtt_is_no_sample() {
        let mut d = DeliveryRate::default();
        let tx = d.on_send(at(0), 0);
        d.on_delivered(&segment(0, 1000, at(0), tx), at(5));
        let ack = d.finish(Some(Duration::from_millis(40)));
        assert_eq!((ack.newly, ack.rate), (1000, None));
        let none = d.finish(None);
        assert_eq!((none.newly, none.prior_delivered, none.rate), (0, 0, None), "nothing delivered");
    }

    #[test]
    fn the_most_recently_sent_segment_decides() {
        let mut d = DeliveryRate::default();
        let first = segment(0, 1000, at(0), d.on_send(at(0), 0));
        d.on_delivered(&first, at(40));
        d.finish(None);
        let second = segment(1000, 1000, at(40), d.on_send(at(40), 0));
        // An old record (P.delivered 0) SACKed after the newer one does not win.
        let old = segment(5000, 500, at(1), TxSnapshot { delivered: 0, ..first.tx });
        d.on_delivered(&second, at(80));
        d.on_delivered(&old, at(80));
        let ack = d.finish(None);
        assert_eq!(ack.prior_delivered, 1000);
        assert_eq!(ack.rate.map(|r| r.delivered), Some(1500));
    }

    #[test]
    fn the_app_limited_bubble_lasts_until_its_flight_is_delivered() {
        let mut d = DeliveryRate::default();
        let a = segment(0, 1000, at(0), d.on_send(at(0), 0));
        d.on_app_limited(1000);
        let b = segment(1000, 1000, at(1), d.on_send(at(1), 1000));
        assert!(b.tx.is_app_limited && !a.tx.is_app_limited);
        d.on_delivered(&a, at(40));
        assert!(d.finish(None).app_limited, "1000 delivered, not past the mark");
        d.on_delivered(&b, at(41));
        let ack = d.finish(None);
        assert!(!ack.app_limited);
        assert!(ack.rate.is_some_and(|r| r.is_app_limited), "b was sent app-limited");
    }
}
