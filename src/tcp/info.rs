//! A connection's `tcp_info`: the numbers Linux's `getsockopt(TCP_INFO)` reports
//! (`struct tcp_info` in `include/uapi/linux/tcp.h`), read from a [`Tcb`] at one
//! instant.
//!
//! Linux's units are kept so that a packetdrill script written against Linux
//! reads the same numbers here: times in microseconds, windows in segments.
//! Where this stack keeps a quantity differently, the field's documentation
//! says which of its numbers is reported.

use super::scoreboard::DUP_THRESH;
use super::state::State;
use super::tcb::Tcb;
use std::time::Duration;

/// What Linux reports for an "infinite" slow-start threshold
/// (`TCP_INFINITE_SSTHRESH`, 0x7fffffff): the threshold before the first loss
/// (RFC 5681 §3.1, "arbitrarily high").
pub const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// A read-only snapshot of one connection's sender and receiver, in the spirit
/// of Linux's `struct tcp_info`. See
/// [`Stack::tcp_info`](crate::Stack::tcp_info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// The RFC 9293 state (`tcpi_state`).
    pub state: State,
    /// The retransmission timeout the timer is armed with, back-off included
    /// (RFC 6298 §5.5: each expiry doubles it), in µs (`tcpi_rto`).
    pub rto: u32,
    /// The most payload we put in one segment: the peer's MSS less our option
    /// bytes (`tcpi_snd_mss`).
    pub snd_mss: u32,
    /// The segment size the peer is taken to send: its MSS option (536 without
    /// one, RFC 9293 §3.7.1) (`tcpi_rcv_mss`; Linux estimates it from the
    /// segments seen).
    pub rcv_mss: u32,
    /// Segments sent and not yet acknowledged, our SYN and FIN included
    /// (`tcpi_unacked`, Linux's `packets_out`).
    pub unacked: u32,
    /// Of those, segments the peer reported in SACK blocks (RFC 2018)
    /// (`tcpi_sacked`).
    pub sacked: u32,
    /// Of those, segments judged lost (by RACK, duplicate ACKs or the
    /// retransmission timer) and not resent since (`tcpi_lost`). Linux keeps a
    /// resent segment counted as lost until it is acknowledged, so its
    /// `lost_out` is about this plus [`retrans`](Self::retrans).
    pub lost: u32,
    /// Of those, segments resent and neither SACKed nor judged lost again
    /// (`tcpi_retrans`, Linux's `retrans_out`).
    pub retrans: u32,
    /// The smoothed round-trip time SRTT of RFC 6298 §2, in µs; 0 before the
    /// first sample (`tcpi_rtt`).
    pub rtt: u32,
    /// The round-trip time variation RTTVAR of RFC 6298 §2, in µs (`tcpi_rttvar`).
    pub rttvar: u32,
    /// The slow-start threshold in segments, [`INFINITE_SSTHRESH`] until the
    /// first loss (`tcpi_snd_ssthresh`).
    pub snd_ssthresh: u32,
    /// The congestion window in segments of [`snd_mss`](Self::snd_mss), rounded
    /// down (`tcpi_snd_cwnd`; Linux counts the window in segments itself).
    pub snd_cwnd: u32,
    /// The duplicate-ACK threshold loss detection starts from: RFC 6675's
    /// DupThresh, 3, Linux's default `tcp_reordering` (`tcpi_reordering`; RACK,
    /// RFC 8985, widens its time window instead of this count).
    pub reordering: u32,
    /// Every retransmission of this connection, SYN and FIN included
    /// (`tcpi_total_retrans`).
    pub total_retrans: u32,
    /// The oldest unacknowledged sequence number SND.UNA, relative to our
    /// initial sequence number as tshark shows it (our SYN is 0, the first data
    /// byte 1); it wraps after 4 GiB. Drawn against time, it is the ACK line of
    /// a time-sequence graph.
    pub snd_una_rel: u32,
    /// SND.NXT, the next sequence number to send, relative the same way: the
    /// top of the data sent so far.
    pub snd_nxt_rel: u32,
    /// The peer's advertised window in bytes, scaled (RFC 7323 §2.3): SND.UNA +
    /// this is the window line of a time-sequence graph.
    pub snd_wnd: u32,
    /// RCV.NXT relative to the peer's initial sequence number: the bytes
    /// received in order so far, plus one for its SYN.
    pub rcv_nxt_rel: u32,
}

/// A count as `tcp_info`'s 32-bit field, saturating.
fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A duration in µs, saturating.
fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl Tcb {
    /// This connection's [`TcpInfo`]. O(segments in flight): the retransmitted
    /// ones are counted on the spot.
    pub(crate) fn info(&self) -> TcpInfo {
        let snd = &self.snd;
        let mss = snd.mss.max(1);
        let syn_out = matches!(self.state, State::SynSent | State::SynReceived);
        let lost = snd.sent.iter().filter(|s| s.lost).count();
        let retrans = snd.sent.iter().filter(|s| s.retransmitted && !s.sacked && !s.lost).count();
        let ssthresh = snd.cc.ssthresh();
        TcpInfo {
            state: self.state,
            rto: micros(snd.rtt.rto()),
            snd_mss: u32_of(snd.mss),
            rcv_mss: u32_of(self.rcv.peer_mss),
            unacked: u32_of(snd.sent.len() + usize::from(syn_out)),
            sacked: u32_of(snd.sent.sacked_segments()),
            lost: u32_of(lost),
            retrans: u32_of(retrans),
            rtt: snd.rtt.srtt().map_or(0, micros),
            rttvar: micros(snd.rtt.rttvar()),
            snd_ssthresh: if ssthresh == usize::MAX { INFINITE_SSTHRESH } else { u32_of(ssthresh / mss) },
            snd_cwnd: u32_of(snd.cc.cwnd() / mss),
            reordering: u32_of(DUP_THRESH),
            total_retrans: self.total_retrans,
            snd_una_rel: snd.snd_una.0.wrapping_sub(snd.iss.0),
            snd_nxt_rel: snd.snd_nxt.0.wrapping_sub(snd.iss.0),
            snd_wnd: u32_of(snd.snd_wnd),
            rcv_nxt_rel: self.rcv.rcv_nxt.0.wrapping_sub(self.rcv.irs.0),
        }
    }
}
