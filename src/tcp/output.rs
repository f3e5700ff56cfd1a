//! Deciding what to send (RFC 9293 §3.8, RFC 5681, RFC 896 Nagle, §3.8.6.2.1
//! sender-side silly-window avoidance): data within the windows, the FIN after it,
//! retransmissions, and ACKs and window updates when due.

use super::receiver::AckState;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{Ctx, Tcb};
use crate::wire::tcp::Flags;

impl Tcb {
    /// Send everything that is due now. Called after every event on the connection.
    pub(crate) fn output(&mut self, ctx: &mut Ctx<'_>) {
        let mut sent_ack = false;
        if self.state.is_synchronized() && !matches!(self.state, State::TimeWait { .. }) {
            sent_ack = self.send_data(ctx);
        }
        if self.state == State::Closed {
            return;
        }
        let want_update = self.state.can_receive_data() && self.rcv.window_update_due();
        if !sent_ack && (self.rcv.ack == AckState::Now || want_update) && self.state != State::SynSent {
            self.emit(ctx, self.snd.snd_nxt, Flags { ack: true, ..Flags::default() }, &[], None);
        }
    }

    /// Send new data (and the FIN) while the windows allow. Returns whether any
    /// segment went out (each carries an ACK).
    fn send_data(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut sent = false;
        let mut payload = Vec::new();
        loop {
            let snd = &self.snd;
            let offset = snd.offset_of(snd.snd_nxt);
            let unsent = snd.buffer.len().saturating_sub(offset);
            let fin_due = snd.fin_seq().is_some_and(|fin| snd.snd_nxt <= fin);
            if unsent == 0 && !fin_due {
                break;
            }
            let window = snd.usable_window();
            let len = unsent.min(snd.mss).min(window);
            if unsent > 0 && len == 0 {
                break;
            }
            if len < unsent && len < snd.mss {
                // Sender SWS avoidance: a window too small for a full segment is
                // used only once it reaches half the largest window seen.
                if len < snd.max_snd_wnd / 2 {
                    break;
                }
            }
            let outstanding = snd.snd_nxt > snd.snd_una;
            if len == unsent && len < snd.mss && len > 0 && !self.nodelay && outstanding && !fin_due {
                // Nagle (RFC 896, RFC 9293 §3.7.4): while data is unacknowledged,
                // a small tail waits until it fills a segment or the ACK comes.
                break;
            }
            let fin = fin_due && offset + len == self.snd.buffer.len();
            payload.clear();
            self.snd.buffer.read_at(offset, len, &mut payload);
            let seq = self.snd.snd_nxt;
            let flags = Flags { ack: true, fin, psh: len == unsent, ..Flags::default() };
            let end = seq + len + usize::from(fin);
            let retransmission = seq < self.snd.snd_max;
            if retransmission {
                ctx.counters.tcp_tx_retransmits += 1;
            } else {
                ctx.counters.tcp_tx_bytes += len as u64;
            }
            self.snd.sampler.on_send(end, ctx.now, retransmission);
            self.emit(ctx, seq, flags, &payload, None);
            sent = true;
            self.snd.snd_nxt = end;
            self.snd.snd_max = self.snd.snd_max.max(end);
            if self.timers.retransmit.is_none() {
                self.timers.retransmit = Some(ctx.now + self.snd.rtt.rto());
            }
            if fin || len == 0 {
                break;
            }
        }
        // A zero window with data waiting and nothing in flight: probe it later
        // (RFC 9293 §3.8.6.1), or we would wait forever for a lost window update.
        let waiting = self.snd.unsent() > 0;
        if waiting && self.snd.snd_wnd == 0 && self.snd.in_flight() == 0 {
            if self.timers.persist.is_none() {
                self.timers.persist = Some(ctx.now + self.snd.rtt.rto());
            }
        } else {
            self.timers.persist = None;
        }
        sent
    }

    /// Resend the oldest unacknowledged segment (fast retransmit, partial ACK in
    /// recovery, or a timeout in the handshake).
    pub(crate) fn retransmit_una(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_tx_retransmits += 1;
        self.snd.sampler.on_retransmit();
        let una = self.snd.snd_una;
        match self.state {
            State::SynSent => {
                let options = self.syn_options(ctx.config, ctx.now, None);
                self.emit(ctx, self.snd.iss, Flags { syn: true, ..Flags::default() }, &[], Some(options));
            }
            State::SynReceived => {
                let options = self.syn_options(ctx.config, ctx.now, Some(&self.peer_syn_options));
                self.emit(ctx, self.snd.iss, Flags { syn: true, ack: true, ..Flags::default() }, &[], Some(options));
            }
            _ => {
                let offset = self.snd.offset_of(una);
                let len = self.snd.buffer.len().saturating_sub(offset).min(self.snd.mss);
                let fin = self.snd.fin_seq().is_some_and(|f| una + len == f);
                let mut payload = Vec::with_capacity(len);
                self.snd.buffer.read_at(offset, len, &mut payload);
                self.emit(ctx, una, Flags { ack: true, fin, ..Flags::default() }, &payload, None);
                self.snd.high_rxt = self.snd.high_rxt.max(una + len);
            }
        }
        self.timers.retransmit = Some(ctx.now + self.snd.rtt.rto());
    }

    /// A zero-window probe: a segment one byte below SND.UNA, which the peer must
    /// answer with an ACK carrying its current window (as Linux probes).
    pub(crate) fn send_window_probe(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_zero_window_probes += 1;
        let seq: SeqNumber = self.snd.snd_una - 1;
        self.emit(ctx, seq, Flags { ack: true, ..Flags::default() }, &[], None);
    }
}
