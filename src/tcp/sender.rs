//! The sending half of a connection (RFC 9293 §3.8, RFC 5681, RFC 6298): what the
//! program wrote, what is in flight, and how much more the windows allow.

use std::time::Duration;

use super::congestion::{AckSample, CongestionControl, RttSample};
use super::delivery_rate::DeliveryRate;
use super::prr::Prr;
use super::rack::Rack;
use super::rtt::{RttEstimator, RttSampler};
use super::scoreboard::Scoreboard;
use super::send_buffer::SendBuffer;
use super::sent_queue::SentQueue;
use super::seq::SeqNumber;
use crate::time::Instant;

/// One fast recovery episode.
#[derive(Debug)]
pub struct Recovery {
    /// SND.NXT when it began: recovery ends when SND.UNA reaches it ("recover",
    /// RFC 6582 §3.2; RecoveryPoint, RFC 6675 §5).
    pub point: SeqNumber,
    /// How much may be sent meanwhile.
    pub prr: Prr,
}

/// Send sequence variables and buffers.
///
/// ```text
///       1          2          3          4
///  ----------|----------|----------|----------
///         SND.UNA    SND.NXT    SND.UNA
///                              +SND.WND
///  1 - acknowledged   2 - sent, not acknowledged
///  3 - may be sent    4 - not yet allowed
/// ```
#[derive(Debug)]
pub struct Sender {
    /// Initial send sequence number (RFC 6528).
    pub iss: SeqNumber,
    /// When our SYN (or SYN,ACK) was last sent, for RTT sampling.
    pub syn_sent_at: Instant,
    /// SND.UNA: oldest unacknowledged sequence number.
    pub snd_una: SeqNumber,
    /// SND.NXT: next sequence number to send. It never goes back: lost data is
    /// resent from the retransmission queue (`sent`), not by rewinding.
    pub snd_nxt: SeqNumber,
    /// SND.WND: the peer's window, scaled.
    pub snd_wnd: usize,
    /// SND.WL1 / SND.WL2: sequence and ack numbers of the segment that last updated
    /// SND.WND, so an old segment cannot shrink it (RFC 9293 §3.10.7.4).
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    /// The largest window the peer ever offered (sender SWS avoidance, RFC 5961 §5.2).
    pub max_snd_wnd: usize,
    /// The peer's window-scale shift: its window field is multiplied by 2^this.
    pub snd_wscale: u8,
    /// Largest payload per segment (peer's MSS less our option bytes).
    pub mss: usize,
    /// Bytes written by the program and not yet acknowledged.
    pub buffer: SendBuffer,
    /// Sequence number of the first byte in `buffer`.
    pub buf_seq: SeqNumber,
    pub rtt: RttEstimator,
    pub sampler: RttSampler,
    pub cc: Box<dyn CongestionControl>,
    /// Bytes delivered and the delivery rate, for `cc`.
    pub delivery: DeliveryRate,
    /// Duplicate ACKs in a row (RFC 5681 §3.2), counted only without SACK: each
    /// says one more segment left the network.
    pub dup_acks: u32,
    /// The fast recovery in progress, if any.
    pub recovery: Option<Recovery>,
    /// After a retransmission timeout: SND.NXT when it fired. Until SND.UNA passes
    /// it no fast recovery begins (RFC 6675 §5.1); the window grows by slow start.
    pub rto_recovery: Option<SeqNumber>,
    /// A tail loss probe is out; the episode ends when SND.UNA passes this
    /// (TLPRxtOut / TLP.end_seq, RFC 8985 §7).
    pub tlp_end: Option<SeqNumber>,
    /// What the peer reported holding beyond SND.UNA (RFC 2018).
    pub scoreboard: Scoreboard,
    /// One record per segment in flight: send times and SACK/lost marks.
    pub sent: SentQueue,
    /// Time-based loss detection (RFC 8985).
    pub rack: Rack,
    /// Consecutive retransmission timeouts without progress (the retry limit).
    pub retries: u32,
}

impl Sender {
    /// Bytes sent and not acknowledged (SYN and FIN count as one each): RFC 5681's
    /// FlightSize.
    pub fn in_flight(&self) -> usize {
        self.snd_nxt.since(self.snd_una)
    }

    /// The sender's estimate of bytes still in the network (RFC 6675 §4
    /// `SetPipe`): the flight less what the peer SACKed, what is judged lost
    /// and not yet resent, and — without SACK — one segment per duplicate ACK.
    pub fn pipe(&self) -> usize {
        let dup_acked = (self.dup_acks as usize).saturating_mul(self.mss);
        self.in_flight()
            .saturating_sub(self.sent.sacked_bytes())
            .saturating_sub(self.sent.lost_bytes())
            .saturating_sub(dup_acked)
    }

    /// Bytes sent from SND.NXT onward would start at this offset in `buffer`.
    pub fn offset_of(&self, seq: SeqNumber) -> usize {
        seq.since(self.buf_seq)
    }

    /// Data in the buffer not yet sent (from SND.NXT).
    pub fn unsent(&self) -> usize {
        self.buffer.len().saturating_sub(self.offset_of(self.snd_nxt))
    }

    /// What the congestion window still allows: cwnd − pipe (RFC 6675 §5), or
    /// in fast recovery what PRR allows (RFC 6937).
    pub fn cwnd_room(&self) -> usize {
        match &self.recovery {
            Some(r) => r.prr.allowance(self.mss),
            None => self.cwnd().saturating_sub(self.pipe()),
        }
    }

    /// `bytes` of sequence space were (re)transmitted: count them for PRR.
    pub fn on_transmit(&mut self, bytes: usize) {
        if let Some(r) = &mut self.recovery {
            r.prr.on_send(bytes);
        }
    }

    /// What the peer's window still allows beyond SND.NXT (RFC 9293 §3.8:
    /// SND.UNA + SND.WND − SND.NXT).
    pub fn rwnd_room(&self) -> usize {
        self.snd_wnd.saturating_sub(self.in_flight())
    }

    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }

    /// The controller's pacing rate, bytes per second, if it paces (0 does not).
    pub fn pacing_rate(&self) -> Option<u64> {
        self.cc.pacing_rate().filter(|&rate| rate > 0)
    }

    /// One ACK is processed as far as its deliveries (`delivery` has counted
    /// them) and its RTT measurement `rtt`: tell the congestion controller, before
    /// the window event the ACK causes.
    pub fn sample_ack(&mut self, now: Instant, rtt: Option<Duration>) {
        let ack = self.delivery.finish(self.rtt.min_rtt());
        let rtt =
            rtt.and_then(|latest| Some(RttSample { latest, min: self.rtt.min_rtt()?, smoothed: self.rtt.srtt()? }));
        if ack.newly == 0 && rtt.is_none() {
            return;
        }
        let sample = AckSample {
            newly_delivered: ack.newly,
            delivered: ack.delivered,
            prior_delivered: ack.prior_delivered,
            rtt,
            rate: ack.rate,
            app_limited: ack.app_limited,
            bytes_in_flight: self.in_flight(),
        };
        self.cc.on_ack_sample(now, &sample);
    }

    /// Whether `ack` acknowledges something new and nothing never sent (RFC 9293
    /// §3.10.7.4: SND.UNA < SEG.ACK ≤ SND.NXT).
    pub fn acks_new_data(&self, ack: SeqNumber) -> bool {
        self.snd_una < ack && ack <= self.snd_nxt
    }
}
