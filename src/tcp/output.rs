//! Deciding what to send (RFC 9293 §3.8, RFC 5681, RFC 896 Nagle, §3.8.6.2.1
//! sender-side silly-window avoidance): data within the windows, the FIN after it,
//! retransmissions, and ACKs and window updates when due.

use std::time::Duration;

use tracing::debug;

use super::receiver::AckState;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{Ctx, Tcb, NO_DATA};
use super::timer_table::Timer;
use crate::wire::tcp::Flags;

impl Tcb {
    /// Send everything that is due now. Called after every event on the connection.
    pub(crate) fn output(&mut self, ctx: &mut Ctx<'_>) {
        let mut sent_ack = false;
        if self.state.is_synchronized() && !matches!(self.state, State::TimeWait) {
            sent_ack = self.send_data(ctx);
        }
        if self.state == State::Closed {
            return;
        }
        let want_update = self.state.can_receive_data() && self.rcv.window_update_due();
        if !sent_ack && (self.rcv.ack == AckState::Now || want_update) && self.state != State::SynSent {
            // FreeBSD (tcp_output, whose flags for FIN-WAIT-1, CLOSING and
            // LAST-ACK include FIN): while our FIN is unacknowledged, the ACK
            // carries it again. (Challenge and out-of-window ACKs do not.)
            let fin = self.fin_seq().filter(|&fin| {
                ctx.tcp().repeat_fin_until_acked
                    && matches!(self.state, State::FinWait1 | State::Closing | State::LastAck)
                    && self.snd.snd_nxt > fin
                    && self.snd.snd_una <= fin
            });
            match fin {
                Some(fin) => self.emit(ctx, fin, Flags { ack: true, fin: true, ..Flags::default() }, NO_DATA, None),
                None => self.emit(ctx, self.snd.snd_nxt, Flags { ack: true, ..Flags::default() }, NO_DATA, None),
            }
        }
    }

    /// Send what the windows allow: first the segments judged lost (RFC 6675
    /// §4 `NextSeg()` rule 1), then new data and the FIN. Returns whether any
    /// segment went out (each carries an ACK).
    fn send_data(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut sent = false;
        while let Some(i) = self.snd.sent.first_lost() {
            // RFC 6675 §5 step (C): only while cwnd − pipe ≥ 1 SMSS.
            if self.snd.cwnd_room() < self.snd.mss || !self.pacing_allows(ctx) {
                break;
            }
            // Who judged it lost: a timeout (every record then is), or RACK /
            // duplicate ACKs during fast recovery.
            let cause = match (self.snd.rto_recovery.is_some(), self.negotiated.sack) {
                (true, _) => "RTO",
                (false, true) => "RACK loss",
                (false, false) => "duplicate ACKs",
            };
            self.retransmit_segment(ctx, i, cause);
            let len = self.snd.sent.get(i).map_or(0, |s| s.len());
            self.paced(ctx, len);
            sent = true;
        }
        if ctx.tcp().slow_start_after_idle && self.snd.in_flight() == 0 && ctx.now - self.last_send > self.snd.rtt.rto()
        {
            // RFC 5681 §4.1: after an idle period ACK clocking is lost; restart
            // from a small window rather than burst a whole old one.
            self.snd.cc.on_idle_restart();
        }
        let mut sent_new = false;
        while self.pacing_allows(ctx) {
            let before = self.snd.snd_nxt;
            if !self.send_new_segment(ctx, self.snd.cwnd_room(), false) {
                break;
            }
            self.paced(ctx, self.snd.snd_nxt.since(before));
            sent_new = true;
        }
        if sent_new {
            self.schedule_loss_probe(ctx);
        }
        self.check_app_limited();
        // Data waiting and nothing in flight: only the peer's window holds it back
        // (zero, or too small to be worth a segment). Nothing will come to open it
        // if the window update is lost, so the persist timer probes (RFC 9293
        // §3.8.6.1) or, for a small window, sends what fits (the SWS override
        // timeout of §3.8.6.2.1).
        let waiting = self.snd.unsent() > 0;
        if waiting && self.snd.in_flight() == 0 {
            if !self.timers.is_armed(Timer::Persist) {
                self.timers.set(Timer::Persist, ctx.now + self.snd.rtt.rto());
            }
        } else {
            self.timers.stop(Timer::Persist);
        }
        sent || sent_new
    }

    /// Whether pacing lets a data segment leave now: the controller does not
    /// pace, or the `Pace` timer (the next departure) is not running.
    fn pacing_allows(&self, ctx: &Ctx<'_>) -> bool {
        self.snd.pacing_rate().is_none() || self.timers.get(Timer::Pace).is_none_or(|at| ctx.now >= at)
    }

    /// A data segment of `len` bytes left: with pacing, the next may leave
    /// `len / rate` later.
    fn paced(&mut self, ctx: &Ctx<'_>, len: usize) {
        if let Some(rate) = self.snd.pacing_rate() {
            let micros = (len as u128 * 1_000_000).div_ceil(u128::from(rate));
            let gap = Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX));
            self.timers.set(Timer::Pace, ctx.now + gap);
        }
    }

    /// After sending what it could: if less than a segment is left to send, none
    /// is waiting to be resent and the congestion window has room, the
    /// application, not the network, holds the flow back
    /// (draft-cheng-iccrg-delivery-rate-estimation §3.4).
    fn check_app_limited(&mut self) {
        let snd = &mut self.snd;
        if snd.unsent() < snd.mss && snd.sent.lost_bytes() == 0 && snd.pipe() < snd.cwnd() {
            let pipe = snd.pipe();
            snd.delivery.on_app_limited(pipe);
        }
    }

    /// A tail loss probe's new data (RFC 8985 §7.3): one segment if the peer's
    /// window allows, whatever the congestion window says.
    pub(crate) fn send_probe_data(&mut self, ctx: &mut Ctx<'_>) -> bool {
        self.send_new_segment(ctx, self.snd.mss, false)
    }

    /// The persist timer found a window too small for sender SWS avoidance:
    /// send what fits anyway (RFC 9293 §3.8.6.2.1's override timeout).
    pub(crate) fn send_into_small_window(&mut self, ctx: &mut Ctx<'_>) -> bool {
        self.send_new_segment(ctx, self.snd.mss, true)
    }

    /// Send one segment of new data (or the FIN) from SND.NXT if the peer's
    /// window, `room` and — unless `force` — the SWS and Nagle rules allow.
    /// Returns whether one went (after the FIN nothing more can).
    fn send_new_segment(&mut self, ctx: &mut Ctx<'_>, room: usize, force: bool) -> bool {
        let fin_seq = self.fin_seq();
        let snd = &self.snd;
        let offset = snd.offset_of(snd.snd_nxt);
        let unsent = snd.buffer.len().saturating_sub(offset);
        let fin_due = fin_seq.is_some_and(|fin| snd.snd_nxt <= fin);
        if unsent == 0 && !fin_due {
            return false;
        }
        // A full segment leaves room for the SACK blocks it will carry (RFC 6691).
        let full = snd.mss.saturating_sub(self.pending_sack_len()).max(1);
        let window = snd.rwnd_room().min(room);
        let len = unsent.min(full).min(window);
        if unsent > 0 && len == 0 {
            return false;
        }
        if !force && len < unsent && len < full && len < snd.max_snd_wnd / 2 {
            // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a window too small for a
            // full segment is used only once it reaches half the largest seen.
            return false;
        }
        let outstanding = snd.snd_nxt > snd.snd_una;
        if !force && len == unsent && len < full && len > 0 && !self.nodelay && outstanding && !fin_due {
            // Nagle (RFC 896, RFC 9293 §3.7.4): while data is unacknowledged,
            // a small tail waits until it fills a segment or the ACK comes.
            return false;
        }
        let fin = fin_due && offset + len == snd.buffer.len();
        if len == 0 && !fin {
            return false;
        }
        let seq = self.snd.snd_nxt;
        let flags = Flags { ack: true, fin, psh: len == unsent, ..Flags::default() };
        let end = seq + len + usize::from(fin);
        ctx.counters.tcp_tx_bytes += len as u64;
        self.snd.sampler.on_send(end, ctx.now, false);
        self.emit(ctx, seq, flags, offset..offset + len, None);
        let tx = self.snd.delivery.on_send(ctx.now, self.snd.in_flight());
        self.snd.sent.push(seq, end, ctx.now, tx);
        self.snd.on_transmit(end.since(seq));
        self.snd.snd_nxt = end;
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
        }
        self.start_user_timeout(ctx.now);
        true
    }

    /// Resend segment `index` of the retransmission queue, exactly as first sent;
    /// `cause` says why, for the `tunstack::tcp::retransmit` trace event.
    pub(crate) fn retransmit_segment(&mut self, ctx: &mut Ctx<'_>, index: usize, cause: &'static str) {
        let Some(seg) = self.snd.sent.get(index).copied() else {
            return;
        };
        let fin = self.fin_seq().is_some_and(|f| f + 1 == seg.end);
        let len = seg.len() - usize::from(fin);
        debug!(
            target: "tunstack::tcp::retransmit", local = %self.local, remote = %self.remote, seq = self.rel_snd(seg.start), len,
            fin, cause, rto_ms = self.snd.rtt.rto().as_millis() as u64, cwnd = self.snd.cwnd(), "tcp retransmit"
        );
        let offset = self.snd.offset_of(seg.start);
        ctx.counters.tcp_tx_retransmits += 1;
        self.total_retrans = self.total_retrans.saturating_add(1);
        self.snd.sampler.on_retransmit();
        self.emit(ctx, seg.start, Flags { ack: true, fin, ..Flags::default() }, offset..offset + len, None);
        let tx = self.snd.delivery.on_send(ctx.now, self.snd.in_flight());
        self.snd.sent.on_retransmit(index, ctx.now, tx);
        self.snd.on_transmit(seg.len());
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
        }
    }

    /// Resend our SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED); `cause` says why
    /// (`RTO`, or `duplicate SYN` when the peer repeated its SYN).
    pub(crate) fn retransmit_syn(&mut self, ctx: &mut Ctx<'_>, cause: &'static str) {
        ctx.counters.tcp_tx_retransmits += 1;
        self.total_retrans = self.total_retrans.saturating_add(1);
        debug!(
            target: "tunstack::tcp::retransmit", local = %self.local, remote = %self.remote, seq = 0,
            syn = true, cause, rto_ms = self.snd.rtt.rto().as_millis() as u64, "tcp retransmit"
        );
        self.snd.sampler.on_retransmit();
        self.emit_syn(ctx);
    }

    /// Begin the handshake (RFC 9293 §3.5): enter `state` (SYN-SENT for an
    /// active open, SYN-RECEIVED for a passive one), send the SYN or SYN,ACK and
    /// start the retransmission timer. The one place a handshake starts.
    pub(crate) fn open(&mut self, ctx: &mut Ctx<'_>, state: State, cause: &'static str) {
        self.set_state(state, cause);
        self.emit_syn(ctx);
        let iss = self.snd.iss;
        self.snd.snd_nxt = iss + 1;
        self.snd.sampler.on_send(iss + 1, ctx.now, false);
        self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
    }

    /// A passive open rebuilt from a SYN cookie (`syncookie.rs`): SYN-RECEIVED as
    /// if our SYN,ACK had left from this connection, so the returning ACK
    /// completes it the usual way. Nothing is sent; the SYN,ACK's retransmission
    /// timer runs only if the connection must `wait` (its ACK found the accept
    /// queue full and is dropped: a retransmission makes the peer repeat it).
    pub(crate) fn resume_from_cookie(&mut self, ctx: &mut Ctx<'_>, wait: bool) {
        self.set_state(State::SynReceived, "rcvd ACK with a valid SYN cookie");
        let iss = self.snd.iss;
        self.snd.snd_nxt = iss + 1;
        self.snd.syn_sent_at = ctx.now;
        // The window our cookie SYN,ACK offered, unscaled (RFC 7323 §2.2).
        let offered = self.rcv.free().min(usize::from(u16::MAX));
        self.rcv.rcv_adv = self.rcv.rcv_nxt + offered;
        if wait {
            self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
        }
    }

    /// Our SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED), with the options we offer —
    /// on a SYN,ACK only those the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
    pub(crate) fn emit_syn(&mut self, ctx: &mut Ctx<'_>) {
        let (flags, peer) = match self.state {
            State::SynReceived => (Flags { syn: true, ack: true, ..Flags::default() }, Some(&self.peer_syn_options)),
            _ => (Flags { syn: true, ..Flags::default() }, None),
        };
        let options = self.syn_options(ctx.config, ctx.now, peer);
        self.emit(ctx, self.snd.iss, flags, NO_DATA, Some(options));
    }

    /// A zero-window probe: a segment one byte below SND.UNA, which the peer must
    /// answer with an ACK carrying its current window (as Linux probes).
    pub(crate) fn send_window_probe(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_zero_window_probes += 1;
        let seq: SeqNumber = self.snd.snd_una - 1;
        self.emit(ctx, seq, Flags { ack: true, ..Flags::default() }, NO_DATA, None);
    }
}
