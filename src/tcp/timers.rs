//! Timer expiry for one connection: retransmission (RFC 6298 §5), tail loss probe
//! and RACK reordering (RFC 8985 §6–7), persist (RFC 9293 §3.8.6.1), delayed ACK (RFC 1122 4.2.3.2), TIME-WAIT (RFC 9293 §3.4.2) and
//! the FIN-WAIT-2 linger of closed connections.

use std::io;

use tracing::debug;

use super::receiver::AckState;
use super::state::State;
use super::tcb::{Ctx, Tcb, NO_DATA};
use super::timer_table::Timer;
use crate::time::Instant;
use crate::wire::tcp::Flags;

impl Tcb {
    /// Run whatever timers of this connection are due at `ctx.now`.
    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        if self.timers.expire(Timer::TimeWait, now) {
            self.set_state(State::Closed, "2MSL timer");
            self.notify(ctx);
            return;
        }
        if self.timers.expire(Timer::UserTimeout, now) {
            // RFC 5482: data has stayed unacknowledged longer than the program allows.
            ctx.counters.tcp_timeouts += 1;
            self.time_out(ctx, "user timeout");
            return;
        }
        if self.timers.expire(Timer::Keepalive, now) {
            self.on_keepalive_timer(ctx);
            if self.state == State::Closed {
                return;
            }
        }
        if self.timers.expire(Timer::Linger, now) {
            self.set_state(State::Closed, "FIN-WAIT-2 timeout");
            return;
        }
        match self.rcv.ack {
            AckState::Delayed if self.timers.expire(Timer::DelayedAck, now) => self.rcv.ack = AckState::Now,
            AckState::EndOfBatch => self.rcv.ack = AckState::Now,
            _ => {}
        }
        if self.timers.expire(Timer::Retransmit, now) {
            self.on_retransmit_timeout(ctx);
            if self.state == State::Closed {
                return;
            }
        }
        if self.timers.expire(Timer::Reorder, now) {
            self.detect_losses(ctx);
        }
        // The next paced segment may go: `output`, which runs after every timer,
        // sends it.
        self.timers.expire(Timer::Pace, now);
        if self.timers.expire(Timer::LossProbe, now) {
            self.on_loss_probe(ctx);
        }
        if self.timers.expire(Timer::Persist, now) {
            if self.probes_unanswered >= ctx.tcp().max_retries {
                // RFC 9293 §3.8.6.1 keeps probing a zero window for as long as the
                // receiver answers; one that stopped answering altogether is gone
                // (Linux's tcp_probe_timer gives up the same way).
                ctx.counters.tcp_timeouts += 1;
                self.time_out(ctx, "zero-window probes unanswered");
                return;
            }
            if self.snd.rwnd_room() == 0 || !self.send_into_small_window(ctx) {
                self.send_window_probe(ctx);
            }
            self.persist_backoff = self.persist_backoff.saturating_add(1);
            self.probes_unanswered = self.probes_unanswered.saturating_add(1);
            let backoff = self.snd.rtt.rto().saturating_mul(1 << self.persist_backoff.min(6));
            self.timers.set(Timer::Persist, now + backoff.min(ctx.tcp().rto.max));
        }
    }

    /// RFC 6298 §5.4–5.7: resend the oldest segment, back off the timer, and collapse
    /// the congestion window (RFC 5681 §3.1); past the retry limit, give up.
    fn on_retransmit_timeout(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_rto_expired += 1;
        self.snd.retries += 1;
        let limit = match self.state {
            State::SynReceived if self.listener.is_some() => ctx.tcp().syn_ack_retries,
            State::SynSent | State::SynReceived => ctx.tcp().syn_retries,
            _ => ctx.tcp().max_retries,
        };
        if self.snd.retries > limit {
            ctx.counters.tcp_timeouts += 1;
            debug!(local = %self.local, remote = %self.remote, retries = limit, "tcp retransmission limit reached");
            self.time_out(ctx, "retransmission limit");
            return;
        }
        self.snd.rtt.on_timeout();
        if matches!(self.state, State::SynSent | State::SynReceived) {
            // RFC 6298 §5.7: after a lost SYN the RTO for data starts at 3 s
            // (RttEstimator::on_handshake_done, when the state leaves the handshake).
            self.retransmit_syn(ctx, "RTO");
            self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
            return;
        }
        self.detect_black_hole(ctx);
        let snd = &mut self.snd;
        debug!(
            target: "tunstack::tcp::retransmit", local = %self.local, remote = %self.remote, flight = snd.in_flight(), segments = snd.sent.len(),
            sacked = snd.sent.sacked_bytes(), lost = snd.sent.lost_bytes(), cwnd = snd.cwnd(),
            recovery = snd.recovery.is_some(), probe_out = snd.tlp_end.is_some(), rwnd = snd.snd_wnd,
            "tcp retransmission timeout"
        );
        snd.cc.on_rto(snd.in_flight());
        // RFC 6675 §5.1: the recovery in progress ends, and none starts until
        // everything sent so far is acknowledged.
        snd.recovery = None;
        snd.rto_recovery = Some(snd.snd_nxt);
        snd.tlp_end = None;
        snd.dup_acks = 0;
        if snd.retries > 1 {
            // RFC 2018 §8: the receiver may have reneged on what it SACKed (a
            // second timeout in a row suggests so); send it all again.
            snd.scoreboard.clear();
            snd.sent.clear_sacks();
        }
        // RFC 8985 §6.3: everything not SACKed is lost; `output` resends it from
        // SND.UNA as the collapsed window reopens (slow start).
        snd.sent.mark_all_lost();
        snd.sampler.on_retransmit();
        self.timers.stop(Timer::LossProbe);
        self.timers.stop(Timer::Reorder);
        self.output(ctx);
        self.timers.set(Timer::Retransmit, ctx.now + self.snd.rtt.rto());
    }

    /// The peer is taken for gone: the program hears `TimedOut`, or the ICMP soft
    /// error that probably explains the silence (as Linux reports `sk_err_soft`).
    fn time_out(&mut self, ctx: &mut Ctx<'_>, cause: &'static str) {
        let kind = self.soft_error.take().unwrap_or(io::ErrorKind::TimedOut);
        self.fail(ctx, kind, cause);
    }

    /// RFC 1122 4.2.3.6: an idle connection that has not heard from its peer for
    /// the idle time sends a probe — a segment one byte below SND.UNA, which the
    /// peer must answer with an ACK — and another every interval; past the probe
    /// count it gives up. A busy connection needs no probe: the retransmission and
    /// persist timers already notice a dead peer.
    fn on_keepalive_timer(&mut self, ctx: &mut Ctx<'_>) {
        let ka = self.keepalive;
        if !ka.enabled || !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        if self.snd.in_flight() > 0 || self.snd.unsent() > 0 {
            self.timers.set(Timer::Keepalive, ctx.now + ka.idle);
            return;
        }
        if self.probes_unanswered >= ka.probes {
            // As Linux: tell the peer, in case only our probes were lost, then fail.
            let seq = self.snd.snd_nxt;
            self.emit(ctx, seq, Flags { rst: true, ack: true, ..Flags::default() }, NO_DATA, None);
            ctx.counters.tcp_timeouts += 1;
            self.time_out(ctx, "keepalive probes unanswered");
            return;
        }
        ctx.counters.tcp_keepalive_probes += 1;
        self.probes_unanswered += 1;
        let seq = self.snd.snd_una - 1;
        self.emit(ctx, seq, Flags { ack: true, ..Flags::default() }, NO_DATA, None);
        self.timers.set(Timer::Keepalive, ctx.now + ka.interval);
    }

    /// The peer spoke (an acceptable segment with an ACK): its keepalive silence
    /// starts again.
    pub(crate) fn heard_from_peer(&mut self, now: Instant) {
        self.probes_unanswered = 0;
        if self.keepalive.enabled {
            self.timers.set(Timer::Keepalive, now + self.keepalive.idle);
        }
    }

    /// Data went out with nothing else unacknowledged: the user timeout (RFC 5482)
    /// starts, if the program set one.
    pub(crate) fn start_user_timeout(&mut self, now: Instant) {
        if let Some(limit) = self.user_timeout {
            if !self.timers.is_armed(Timer::UserTimeout) {
                self.timers.set(Timer::UserTimeout, now + limit);
            }
        }
    }

    /// An ACK acknowledged new data: the user timeout counts again from now while
    /// data is still in flight, and stops when all is acknowledged.
    pub(crate) fn restart_user_timeout(&mut self, now: Instant) {
        let running = self.user_timeout.filter(|_| self.snd.in_flight() > 0);
        self.timers.set_to(Timer::UserTimeout, running.map(|limit| now + limit));
    }
}
