//! Loss detection and recovery, run on every ACK (and by the RACK and loss-probe
//! timers).
//!
//! The pieces, in the order an ACK meets them:
//!
//! 1. **SACK** (RFC 2018): the blocks go into the [scoreboard](super::scoreboard)
//!    and mark whole segments of the [retransmission queue](super::sent_queue)
//!    SACKed. A first block below the cumulative ACK is a **D-SACK** (RFC 2883):
//!    we resent something the peer already had, i.e. the network reordered.
//! 2. **Delivery**: every newly SACKed or cumulatively ACKed segment feeds
//!    [RACK](super::rack) its send time.
//! 3. **Loss detection**: RACK marks lost the segments sent before the latest
//!    delivered one that are overdue (RFC 8985 §6.2). Without SACK, three
//!    duplicate ACKs mark the first segment lost (RFC 5681 §3.2), and in
//!    recovery each partial ACK marks the next one (RFC 6582 §3.2 step 4).
//! 4. **Fast recovery**: the first loss of a window halves the congestion
//!    window (RFC 5681 §3.2, `cwnd = ssthresh`, RFC 6675 §5) until SND.UNA
//!    passes the recovery point. Meanwhile `output` resends lost segments first
//!    and new data after, while `cwnd − pipe` allows (RFC 6675 §4–5).
//! 5. **Tail loss probe** (RFC 8985 §7): when the last segments of a flight are
//!    lost no ACK comes back to reveal it; instead of waiting for the RTO, a
//!    probe two SRTTs after the last send draws a SACK that lets RACK act.

use std::time::Duration;

use tracing::{debug, trace};

use super::prr::Prr;
use super::scoreboard::DUP_THRESH;
use super::sender::{Recovery, Sender};
use super::seq::SeqNumber;
use super::tcb::{Ctx, Tcb};
use super::timer_table::Timer;
use crate::wire::tcp::Segment;

/// RFC 8985 §7.2 WCDelAckT: the longest a peer may delay the ACK of a lone
/// segment, added to the probe timeout when only one segment is in flight.
const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(200);

/// Probe timeout before any RTT sample (RFC 8985 §7.2).
const INITIAL_PTO: Duration = Duration::from_secs(1);

impl Tcb {
    /// Step 1–2 for the SACK blocks of an ACK whose cumulative acknowledgement is
    /// `ack`. Runs before SND.UNA moves, so blocks are judged against the flight
    /// they describe. Returns the bytes newly SACKed.
    pub(crate) fn on_sack_option(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>, ack: SeqNumber) -> usize {
        let mut blocks = [(SeqNumber(0), SeqNumber(0)); 4];
        let mut n = 0;
        for (slot, (l, r)) in blocks.iter_mut().zip(seg.options.sacks()) {
            *slot = (SeqNumber(l), SeqNumber(r));
            n += 1;
        }
        let blocks = &blocks[..n];
        let Some(&(first_l, first_r)) = blocks.first() else {
            return 0;
        };
        // RFC 2883 §4: a first block at or below the cumulative ACK, or inside the
        // second block, reports a duplicate arrival.
        let inside_second = blocks.get(1).is_some_and(|&(l, r)| l <= first_l && first_r <= r);
        if first_r <= ack || inside_second {
            ctx.counters.tcp_rx_dsack += 1;
            self.snd.rack.on_dsack(self.snd.snd_una, self.snd.snd_nxt);
        }
        let now = ctx.now;
        let Sender { scoreboard, sent, rack, delivery, snd_una, snd_nxt, .. } = &mut self.snd;
        scoreboard.on_sack(*snd_una, *snd_nxt, blocks);
        let mut delivered = 0;
        for &(l, r) in blocks {
            sent.on_sack_block(
                l,
                r,
                |a, b| scoreboard.covers(a, b),
                |s| {
                    delivered += s.len();
                    rack.on_delivered(s, now);
                    delivery.on_delivered(s, now);
                },
            );
        }
        delivered
    }

    /// Step 2 for a cumulative ACK: drop the acknowledged records, tell the
    /// congestion controller what the ACK measured (`rtt` its RTT sample), and
    /// end the recovery episodes it completes. Returns the bytes newly delivered
    /// (not SACKed before).
    pub(crate) fn on_cumulative_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: SeqNumber,
        acked: usize,
        rtt: Option<Duration>,
    ) -> usize {
        let now = ctx.now;
        let snd = &mut self.snd;
        snd.scoreboard.on_cumulative_ack(ack);
        let Sender { rack, delivery, sent, .. } = snd;
        let mut delivered = 0;
        sent.on_cumulative_ack(ack, |s| {
            delivered += s.len();
            rack.on_delivered(s, now);
            delivery.on_delivered(s, now);
        });
        snd.sample_ack(now, rtt);
        snd.dup_acks = 0;
        if snd.tlp_end.is_some_and(|end| ack >= end) {
            snd.tlp_end = None;
        }
        if snd.rto_recovery.is_some_and(|point| ack >= point) {
            snd.rto_recovery = None;
        }
        let in_flight = snd.in_flight();
        match &snd.recovery {
            Some(r) if ack >= r.point => {
                // Full acknowledgement: recovery is over (RFC 6582 §3.2 step 3).
                snd.cc.on_recovery_end(in_flight);
                snd.rack.on_recovery_end();
                snd.recovery = None;
                trace!(local = %self.local, cwnd = snd.cwnd(), "tcp fast recovery done");
            }
            Some(_) if !self.negotiated.sack => {
                // Partial acknowledgement without SACK: the segment now at SND.UNA
                // was lost too (RFC 6582 §3.2 step 4).
                if snd.sent.mark_lost(0) {
                    ctx.counters.tcp_segments_lost += 1;
                }
            }
            Some(_) => {}
            None => snd.cc.on_ack(now, acked, in_flight),
        }
        delivered
    }

    /// A duplicate ACK (RFC 5681 §2). With SACK its blocks already told RACK
    /// everything; without, the third in a row marks SND.UNA's segment lost.
    pub(crate) fn on_duplicate_ack(&mut self, ctx: &mut Ctx<'_>) {
        if self.negotiated.sack {
            return;
        }
        self.snd.dup_acks = self.snd.dup_acks.saturating_add(1);
        if self.snd.dup_acks as usize == DUP_THRESH && self.snd.recovery.is_none() && self.snd.sent.mark_lost(0) {
            ctx.counters.tcp_segments_lost += 1;
        }
    }

    /// Step 4 for an ACK that reported `delivered` bytes: PRR's share of what may
    /// be sent in return (RFC 6937 §3.1).
    pub(crate) fn on_delivery_in_recovery(&mut self, delivered: usize) {
        let (pipe, ssthresh, mss) = (self.snd.pipe(), self.snd.cc.ssthresh(), self.snd.mss);
        if let Some(r) = &mut self.snd.recovery {
            r.prr.on_ack(delivered, pipe, ssthresh, mss);
        }
    }

    /// Step 3–4: run RACK, arm its reordering timer, and start fast recovery if
    /// anything is now known lost.
    pub(crate) fn detect_losses(&mut self, ctx: &mut Ctx<'_>) {
        let snd = &mut self.snd;
        let reo_wnd = snd.rack.reo_wnd(snd.recovery.is_some(), snd.sent.sacked_segments(), snd.rtt.srtt());
        let (marked, recheck) = snd.rack.detect_loss(&mut snd.sent, ctx.now, reo_wnd);
        ctx.counters.tcp_segments_lost += marked as u64;
        self.timers.set_to(Timer::Reorder, recheck);
        if snd.sent.lost_bytes() > 0 && snd.recovery.is_none() && snd.rto_recovery.is_none() {
            ctx.counters.tcp_fast_retransmits += 1;
            snd.cc.on_fast_retransmit(ctx.now, snd.in_flight());
            snd.recovery = Some(Recovery { point: snd.snd_nxt, prr: Prr::new(snd.in_flight()) });
            snd.tlp_end = None;
            self.timers.stop(Timer::LossProbe);
            trace!(local = %self.local, cwnd = snd.cwnd(), reo_wnd = ?reo_wnd, "tcp fast recovery");
        }
    }

    /// RFC 8985 §7.2: arm the probe timeout after new data was sent or SND.UNA
    /// advanced, when a probe can help — SACK on (the probe's ACK must say what
    /// is missing), data in flight, no recovery and no probe already out.
    pub(crate) fn schedule_loss_probe(&mut self, ctx: &mut Ctx<'_>) {
        let snd = &self.snd;
        let can_probe = self.negotiated.sack
            && snd.in_flight() > 0
            && snd.recovery.is_none()
            && snd.rto_recovery.is_none()
            && snd.tlp_end.is_none();
        if !can_probe {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        let mut pto = snd.rtt.srtt().map_or(INITIAL_PTO, |srtt| srtt.saturating_mul(2));
        if snd.in_flight() <= snd.mss {
            pto += WORST_CASE_DELAYED_ACK;
        }
        let at = ctx.now + pto;
        // Never later than the retransmission timer itself.
        let due = self.timers.get(Timer::Retransmit).map_or(at, |rto| at.min(rto));
        self.timers.set(Timer::LossProbe, due);
    }

    /// The probe timer fired (RFC 8985 §7.3): send one new segment if the
    /// windows allow, else resend the last one; then wait for the RTO.
    pub(crate) fn on_loss_probe(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_loss_probes += 1;
        let next = self.snd.snd_nxt;
        if self.send_probe_data(ctx) {
            debug!(
                target: "tunstack::tcp::retransmit", local = %self.local, remote = %self.remote, seq = self.rel_snd(next),
                cause = "TLP", new_data = true, "tcp loss probe"
            );
        } else if let Some(last) = self.snd.sent.len().checked_sub(1) {
            self.retransmit_segment(ctx, last, "TLP");
        }
        self.snd.tlp_end = Some(self.snd.snd_nxt);
        self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
    }
}
