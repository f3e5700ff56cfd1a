//! The sending half of a connection (RFC 9293 §3.8, RFC 5681, RFC 6298): what the
//! program wrote, what is in flight, and how much more the windows allow.

use super::congestion::CongestionControl;
use super::rtt::{RttEstimator, RttSampler};
use super::scoreboard::Scoreboard;
use super::send_buffer::SendBuffer;
use super::seq::SeqNumber;

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
    /// SND.UNA: oldest unacknowledged sequence number.
    pub snd_una: SeqNumber,
    /// SND.NXT: next sequence number to send. After a timeout it goes back to
    /// SND.UNA and data is sent again from there.
    pub snd_nxt: SeqNumber,
    /// The highest sequence number sent so far + 1 (BSD's snd_max): ACKs up to here
    /// are acceptable even after SND.NXT went back.
    pub snd_max: SeqNumber,
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
    /// The program shut down writing: a FIN follows the buffered data.
    pub fin_queued: bool,
    pub rtt: RttEstimator,
    pub sampler: RttSampler,
    pub cc: Box<dyn CongestionControl>,
    /// Duplicate ACKs in a row (RFC 5681 §3.2).
    pub dup_acks: u32,
    /// While in fast recovery: the highest sequence sent when it began ("recover",
    /// RFC 6582 §3.2).
    pub recovery: Option<SeqNumber>,
    /// Highest sequence retransmitted in this recovery (RFC 6675 HighRxt).
    pub high_rxt: SeqNumber,
    /// What the peer reported holding beyond SND.UNA (RFC 2018).
    pub scoreboard: Scoreboard,
    /// Consecutive retransmission timeouts without progress (the retry limit).
    pub retries: u32,
}

impl Sender {
    /// Sequence number of our FIN, once the program has shut down writing.
    pub fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_queued.then(|| self.buf_seq + self.buffer.len())
    }

    /// Whether our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|fin| self.snd_una > fin)
    }

    /// Bytes sent and not acknowledged (SYN and FIN count as one each).
    pub fn in_flight(&self) -> usize {
        self.snd_max.since(self.snd_una)
    }

    /// Bytes sent from SND.NXT onward would start at this offset in `buffer`.
    pub fn offset_of(&self, seq: SeqNumber) -> usize {
        seq.since(self.buf_seq)
    }

    /// Data in the buffer not yet sent (from SND.NXT).
    pub fn unsent(&self) -> usize {
        self.buffer.len().saturating_sub(self.offset_of(self.snd_nxt))
    }

    /// The send window right now: min(SND.WND, cwnd) less what is in flight from
    /// SND.UNA to SND.NXT (RFC 5681 §3.1's "flight size" bound).
    pub fn usable_window(&self) -> usize {
        let window = self.snd_wnd.min(self.cwnd());
        window.saturating_sub(self.snd_nxt.since(self.snd_una))
    }

    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }

    /// Whether `ack` acknowledges something new and nothing never sent (RFC 9293
    /// §3.10.7.4: SND.UNA < SEG.ACK ≤ SND.NXT, with SND.NXT read as snd_max).
    pub fn acks_new_data(&self, ack: SeqNumber) -> bool {
        self.snd_una < ack && ack <= self.snd_max
    }
}
