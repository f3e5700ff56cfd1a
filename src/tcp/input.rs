//! Segment arrival (RFC 9293 §3.10.7): what a connection does with one segment.
//!
//! The order of the checks is the RFC's — sequence number, RST, SYN, ACK, data,
//! FIN — with RFC 5961's hardening of the RST, SYN and ACK checks and RFC 7323's
//! PAWS test in front.

use bytes::Bytes;
use tracing::{debug, trace};

use super::assembler::InsertOutcome;
use super::receiver::AckDue;
use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{reset_for, Ctx, Tcb, NO_DATA};
use super::timer_table::Timer;
use crate::shared::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{Flags, Segment};
use std::io;
use std::time::Duration;

impl Tcb {
    /// One segment for this connection. Afterwards the caller runs
    /// [`output`](Tcb::output) to send whatever the segment made due.
    pub(crate) fn on_segment(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        match self.state {
            State::SynSent => self.on_segment_syn_sent(ctx, seg),
            State::Closed => reset_for(ctx, self.local.ip(), self.remote.ip(), seg),
            _ => self.on_segment_synchronized(ctx, seg),
        }
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn on_segment_syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        let ack = SeqNumber(seg.ack);
        // First: an ACK must acknowledge our SYN and nothing more.
        if seg.flags.ack && (ack <= self.snd.iss || ack > self.snd.snd_nxt) {
            reset_for(ctx, self.local.ip(), self.remote.ip(), seg);
            return;
        }
        // Second: a RST is believed only with an acceptable ACK.
        if seg.flags.rst {
            if seg.flags.ack {
                ctx.counters.tcp_rx_rst += 1;
                self.fail(ctx, io::ErrorKind::ConnectionRefused, "rcvd RST in SYN-SENT");
            }
            return;
        }
        // Fourth: the peer's SYN.
        if !seg.flags.syn {
            return;
        }
        let seq = SeqNumber(seg.seq);
        self.rcv.irs = seq;
        self.rcv.rcv_nxt = seq + 1;
        self.rcv.last_ack_sent = self.rcv.rcv_nxt;
        // What our SYN offered (its window is never scaled, RFC 7323 §2.2).
        let offered = self.rcv.free().min(usize::from(u16::MAX));
        self.rcv.rcv_adv = self.rcv.rcv_nxt + offered;
        self.negotiate(ctx.config, &seg.options, ctx.now);
        if seg.flags.ack {
            // Our SYN is acknowledged: the handshake is done (two of three steps
            // from our side; our ACK completes it).
            let oldest = self.oldest_in_flight();
            self.snd.snd_una = ack;
            self.snd.snd_nxt = self.snd.snd_nxt.max(ack);
            self.update_window(seq, ack, seg.window, true);
            self.take_rtt_sample(ctx, seg, ack, oldest);
            self.timers.stop(Timer::Retransmit);
            self.snd.retries = 0;
            self.set_state(State::Established, "rcvd SYN,ACK");
            ctx.counters.tcp_established += 1;
            self.rcv.ack = super::receiver::AckState::Now;
            // RFC 9293 §3.10.7.3: "If there are other controls or text in the
            // segment, then continue processing at the sixth step" — data (and a
            // FIN) riding on the SYN,ACK are taken, not dropped.
            if !seg.payload.is_empty() || seg.flags.fin {
                let flags = Flags { syn: false, ..seg.flags };
                let rest = Segment { seq: seg.seq.wrapping_add(1), flags, ..*seg };
                self.on_segment_synchronized(ctx, &rest);
                return;
            }
        } else {
            // Simultaneous open (RFC 9293 §3.5, figure 7): answer SYN,ACK with our
            // original ISN.
            self.set_state(State::SynReceived, "rcvd SYN (simultaneous open)");
            self.update_window(seq, self.snd.iss, seg.window, true);
            // RFC 9293 §3.10.7.3: "queue [text] for processing after the
            // ESTABLISHED state has been reached" (FreeBSD does; Linux discards).
            if ctx.tcp().queue_data_on_syn && !seg.payload.is_empty() {
                let room = seg.payload.len().min(self.rcv.rcv_wnd());
                self.syn_data = Some(Bytes::copy_from_slice(&seg.payload[..room]));
            }
            self.peer_syn_options = seg.options;
            self.emit_syn(ctx);
        }
        self.notify(ctx);
    }

    /// TIME-WAIT as BSD answers in it (`tcp_twcheck`): a RST is ignored (RFC
    /// 1337's remedy for TIME-WAIT assassination), a segment without ACK dropped,
    /// a duplicate of the peer's FIN restarts the 2MSL wait, and anything but an
    /// exact duplicate ACK (flags, data, sequence or acknowledgment number) is
    /// answered with an ACK — in or out of the window.
    fn on_segment_time_wait_bsd(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        if seg.flags.rst || !seg.flags.ack {
            self.discard(ctx, DropReason::TcpOutOfWindow);
            return;
        }
        let seq = SeqNumber(seg.seq);
        if seg.flags.fin && seq + seg.payload.len() + usize::from(seg.flags.syn) + 1 == self.rcv.rcv_nxt {
            self.timers.set(Timer::TimeWait, ctx.now + ctx.tcp().msl * 2);
        }
        let only_ack = seg.flags == Flags { ack: true, ..Flags::default() };
        let duplicate =
            only_ack && seg.payload.is_empty() && seq == self.rcv.rcv_nxt && SeqNumber(seg.ack) == self.snd.snd_nxt;
        if !duplicate {
            let seq = self.snd.snd_nxt;
            self.emit(ctx, seq, Flags { ack: true, ..Flags::default() }, NO_DATA, None);
        }
    }

    /// RFC 9293 §3.10.7.4: every state after SYN-SENT.
    fn on_segment_synchronized(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        if self.state == State::TimeWait && ctx.tcp().bsd_time_wait {
            self.on_segment_time_wait_bsd(ctx, seg);
            return;
        }
        if self.state == State::SynReceived && self.is_repeated_syn(seg) {
            self.answer_repeated_syn(ctx, seg);
            return;
        }
        // Simultaneous open (RFC 9293 §3.5, figure 8): in SYN-RECEIVED the peer's
        // SYN,ACK repeats the SYN we already have (SEQ = RCV.NXT − 1) and acknowledges
        // ours. Read literally, §3.10.7.4 finds it outside the window and drops it, and
        // the handshake then waits for a retransmission. Like Linux, take it as the
        // ACK it carries: its SYN is a duplicate, the rest is new.
        let stripped;
        let seg = if self.state == State::SynReceived
            && seg.flags.syn
            && seg.flags.ack
            && SeqNumber(seg.seq) + 1 == self.rcv.rcv_nxt
            && SeqNumber(seg.ack) == self.snd.snd_nxt
        {
            stripped = Segment { seq: seg.seq.wrapping_add(1), flags: Flags { syn: false, ..seg.flags }, ..*seg };
            &stripped
        } else {
            seg
        };
        let mut seq = SeqNumber(seg.seq);
        let seg_len = seg.seg_len();

        // RFC 7323 §5.3 (PAWS): a timestamp older than TS.Recent marks an old
        // duplicate from a previous incarnation of the sequence space. Like Linux
        // (tcp_disordered_ack), pure ACKs are exempt: on a reordering path an older
        // ACK still carries SACK blocks and window updates, and it cannot corrupt data.
        if let (Some(_), Some((tsval, _))) = (self.negotiated.timestamps, seg.options.timestamp) {
            if !seg.flags.rst && seg_len > 0 && (tsval.wrapping_sub(self.rcv.ts_recent) as i32) < 0 {
                self.discard(ctx, DropReason::TcpPawsRejected);
                self.ack_unusable(ctx, seg);
                return;
            }
        }

        // RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK
        // "irrespective of the sequence number" — outside the window too (Linux's
        // tcp_validate_incoming, FreeBSD's tcp_input: a bare ACK, never the
        // repeated FIN an ordinary out-of-window ACK may carry).
        let acceptable = self.acceptable(seq, seg_len, ctx.tcp().advertise_full_window);
        if seg.flags.syn && !seg.flags.rst && !acceptable && !matches!(self.state, State::SynReceived | State::TimeWait)
        {
            self.discard(ctx, DropReason::TcpOutOfWindow);
            self.challenge_ack(ctx);
            return;
        }

        // First: is any of the segment inside the receive window?
        if !acceptable {
            // BSD (tcp_input's "trimthenstep6"): a segment wholly before RCV.NXT
            // is trimmed to nothing but its ACK, which is still processed, and an
            // ACK goes back unless that closes the connection. RFC 9293 §3.10.7.4
            // drops it after the ACK.
            if ctx.tcp().trim_old_segments && seg.flags.ack && !seg.flags.rst && seq + seg_len <= self.rcv.rcv_nxt {
                if seg.flags.fin && self.state == State::TimeWait {
                    self.timers.set(Timer::TimeWait, ctx.now + ctx.tcp().msl * 2);
                }
                self.rcv.ack = super::receiver::AckState::Now;
                let flags = Flags { syn: false, fin: false, ..seg.flags };
                let trimmed = Segment { seq: self.rcv.rcv_nxt.0, flags, payload: &[], ..*seg };
                self.on_segment_synchronized(ctx, &trimmed);
                return;
            }
            trace!(
                seq = self.rel_rcv(seq),
                len = seg_len,
                rcv_nxt = self.rel_rcv(self.rcv.rcv_nxt),
                "segment outside the window"
            );
            self.discard(ctx, DropReason::TcpOutOfWindow);
            if !seg.flags.rst {
                let end = seq + seg.payload.len();
                if self.negotiated.sack && !seg.payload.is_empty() && end <= self.rcv.rcv_nxt {
                    // Data we already have: say so with a D-SACK (RFC 2883 §4).
                    self.rcv.dsack = Some((seq, end));
                }
                // A retransmitted FIN in TIME-WAIT restarts the 2MSL wait
                // (RFC 9293 §3.10.7.4).
                if seg.flags.fin && self.state == State::TimeWait {
                    self.timers.set(Timer::TimeWait, ctx.now + ctx.tcp().msl * 2);
                }
                self.ack_unusable(ctx, seg);
            }
            return;
        }

        // RFC 7323 §4.3: remember the timestamp to echo.
        if let Some((tsval, _)) = seg.options.timestamp {
            if seq <= self.rcv.last_ack_sent && (tsval.wrapping_sub(self.rcv.ts_recent) as i32) >= 0 {
                self.rcv.ts_recent = tsval;
            }
        }

        // Second: RST. RFC 5961 §3.2: only an exact match resets; any other RST
        // in the window gets a challenge ACK, so a blind attacker must guess exactly
        // (unless `rfc5961_rst` is off: RFC 793's any in-window RST).
        if seg.flags.rst {
            if seq == self.rcv.rcv_nxt || !ctx.tcp().rfc5961_rst {
                ctx.counters.tcp_rx_rst += 1;
                self.on_reset(ctx);
            } else {
                self.challenge_ack(ctx);
            }
            return;
        }

        // Fourth: SYN. RFC 5961 §4.2: a SYN in a synchronized state is answered with
        // a challenge ACK; a legitimate peer that lost its state will then send RST.
        // With `rfc5961_syn` off, RFC 793's rule: the SYN (in the window, as this
        // segment is) is an error — answer RST and reset the connection.
        if seg.flags.syn {
            if ctx.tcp().rfc5961_syn {
                self.challenge_ack(ctx);
            } else {
                // As FreeBSD's tcp_drop: the RST carries SND.NXT and RCV.NXT.
                let seq = self.snd.snd_nxt;
                self.emit(ctx, seq, Flags { rst: true, ack: true, ..Flags::default() }, NO_DATA, None);
                ctx.counters.tcp_resets += 1;
                self.fail(ctx, io::ErrorKind::ConnectionReset, "rcvd SYN in the window");
            }
            return;
        }

        // Fifth: ACK.
        if !seg.flags.ack {
            return;
        }
        let ack = SeqNumber(seg.ack);
        if self.state == State::SynReceived {
            if !self.snd.acks_new_data(ack) {
                reset_for(ctx, self.local.ip(), self.remote.ip(), seg);
                return;
            }
            self.update_window(seq, ack, seg.window, true);
            self.set_state(State::Established, "rcvd ACK of SYN");
            ctx.counters.tcp_established += 1;
            self.notify(ctx);
            // Text that came with the peer's SYN in a simultaneous open, kept for
            // now (RFC 9293 §3.10.7.3).
            if let Some(data) = self.syn_data.take() {
                let at = self.rcv.rcv_nxt;
                self.receive_data(ctx, at, &data);
            }
        }
        // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA − MAX.SND.WND, SND.NXT].
        if ack > self.snd.snd_nxt {
            self.ack_unusable(ctx, seg);
            return;
        }
        let oldest = self.snd.snd_una - self.snd.max_snd_wnd.max(1);
        if ack < oldest {
            self.challenge_ack(ctx);
            return;
        }
        self.process_ack(ctx, seg, seq, ack);
        if self.state == State::Closed {
            return;
        }

        // Seventh: segment text.
        let mut payload = seg.payload;
        if !payload.is_empty() {
            if !self.state.can_receive_data() {
                // Data after the peer's FIN: ignored (RFC 9293 §3.10.7.4).
            } else if !self.attached {
                // Nobody will ever read this: tell the peer (RFC 1122 4.2.2.13).
                self.discard(ctx, DropReason::TcpDataAfterClose);
                self.abort(ctx, "data after close");
                return;
            } else {
                if seq < self.rcv.rcv_nxt {
                    let skip = self.rcv.rcv_nxt.since(seq).min(payload.len());
                    payload = &payload[skip..];
                    seq = self.rcv.rcv_nxt;
                }
                if self.read_closed {
                    // Shut down for reading: acknowledged and thrown away.
                    self.rcv.rcv_nxt = self.rcv.rcv_nxt.max(seq + payload.len());
                    self.rcv.ack = super::receiver::AckState::Now;
                } else {
                    self.receive_data(ctx, seq, payload);
                }
            }
        }

        // Eighth: FIN.
        if seg.flags.fin {
            self.rcv.fin_seq = Some(SeqNumber(seg.seq) + seg.payload.len());
        }
        if let Some(fin) = self.rcv.fin_seq {
            if !self.state.fin_received() && fin == self.rcv.rcv_nxt {
                self.receive_fin(ctx);
            }
        }
    }

    /// Whether `seg` is the peer's SYN again: SYN without ACK or RST, at IRS.
    fn is_repeated_syn(&self, seg: &Segment<'_>) -> bool {
        seg.flags.syn && !seg.flags.ack && !seg.flags.rst && SeqNumber(seg.seq) == self.rcv.irs
    }

    /// SYN-RECEIVED and the peer sent its SYN again: our SYN,ACK was lost or is
    /// late. Read literally, RFC 9293 §3.10.7.4 finds the SYN outside the window
    /// and answers `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`, which the peer in
    /// SYN-SENT must drop (it carries no SYN, §3.10.7.3), leaving the handshake to
    /// our retransmission timer — whose back-off runs in step with the peer's, so
    /// after a partition both sides keep missing each other (found by the
    /// simulator: a handshake that took 31 s after a 7 s partition). Like Linux
    /// (`tcp_check_req`), answer with the SYN,ACK itself, echoing the repeated
    /// SYN's timestamp so the peer measures a true round trip. Our own timer is
    /// left as it was.
    fn answer_repeated_syn(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        if let (Some(_), Some((tsval, _))) = (self.negotiated.timestamps, seg.options.timestamp) {
            if (tsval.wrapping_sub(self.rcv.ts_recent) as i32) >= 0 {
                self.rcv.ts_recent = tsval;
                self.peer_syn_options.timestamp = seg.options.timestamp;
            }
        }
        self.retransmit_syn(ctx, "duplicate SYN");
    }

    /// RFC 9293 §3.10.7.4's four-case acceptability test against the window we
    /// advertised.
    /// With `free_space` (FreeBSD's way) the window is the buffer's free space
    /// when that is larger than what was advertised.
    fn acceptable(&self, seq: SeqNumber, seg_len: usize, free_space: bool) -> bool {
        let rcv_nxt = self.rcv.rcv_nxt;
        // Not for a passive open in SYN-RECEIVED: there the window is the one
        // our SYN,ACK offered (FreeBSD's syncache checks against it).
        let free_space = free_space && !(self.state == State::SynReceived && self.listener.is_some());
        let wnd = if free_space { self.rcv.rcv_wnd().max(self.rcv.free()) } else { self.rcv.rcv_wnd() };
        let end = rcv_nxt + wnd;
        match (seg_len, wnd) {
            (0, 0) => seq == rcv_nxt,
            (0, _) => seq.in_window(rcv_nxt, end),
            // A zero window accepts nothing, but the ACK, RST and URG of a segment
            // at RCV.NXT must still be processed.
            (_, 0) => seq == rcv_nxt,
            (len, _) => seq.in_window(rcv_nxt, end) || (seq + (len - 1)).in_window(rcv_nxt, end),
        }
    }

    /// Answer a segment we cannot use — outside the window, PAWS-rejected, or
    /// acknowledging data we never sent — with an ACK that tells the peer where we
    /// are (RFC 9293 §3.10.7.4, RFC 5961 §5.2). A segment without data gets such an
    /// answer at most once per `tcp.unusable_ack_interval`: two ends that disagree
    /// about the sequence numbers (after a forged segment, or a middlebox that
    /// rewrites them) each find the other's ACKs unusable, and without a limit they
    /// trade them as fast as the path carries them, forever — an ACK loop. Data (and
    /// a FIN) is always answered: a retransmission needs its duplicate ACK. Linux
    /// does the same (`tcp_oow_rate_limited`, sysctl `tcp_invalid_ratelimit`).
    fn ack_unusable(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>) {
        let carries_data = seg.seg_len() > 0 && !seg.flags.syn;
        if !carries_data {
            let interval = ctx.tcp().unusable_ack_interval;
            if self.rcv.last_unusable_ack.is_some_and(|last| ctx.now < last + interval) {
                ctx.counters.tcp_unusable_acks_limited += 1;
                return;
            }
            self.rcv.last_unusable_ack = Some(ctx.now);
        }
        self.rcv.ack = super::receiver::AckState::Now;
    }

    /// RFC 5961 §7: a challenge ACK, rate-limited stack-wide.
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        if ctx.challenge.try_take(now) {
            ctx.counters.tcp_challenge_acks += 1;
            self.emit(ctx, self.snd.snd_nxt, Flags { ack: true, ..Flags::default() }, NO_DATA, None);
        } else {
            ctx.counters.tcp_challenge_acks_limited += 1;
        }
    }

    /// A RST was accepted (RFC 9293 §3.10.7.4 "second").
    fn on_reset(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.tcp_resets += 1;
        match self.state {
            // A passive open that was reset just ends; the listener carries on.
            State::SynReceived if self.listener.is_some() => self.set_state(State::Closed, "rcvd RST"),
            State::SynReceived | State::SynSent => self.fail(ctx, io::ErrorKind::ConnectionRefused, "rcvd RST"),
            // Linux reports EPIPE in CLOSE-WAIT, FreeBSD ECONNRESET.
            State::CloseWait if ctx.tcp().reset_in_close_wait_is_epipe => {
                self.fail(ctx, io::ErrorKind::BrokenPipe, "rcvd RST")
            }
            // RFC 9293 only deletes the TCB in CLOSING and LAST-ACK; Linux and
            // FreeBSD also tell a program still holding it (ECONNRESET).
            State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck => self.fail(ctx, io::ErrorKind::ConnectionReset, "rcvd RST"),
            State::TimeWait | State::Closed => self.set_state(State::Closed, "rcvd RST"),
        }
        self.notify(ctx);
    }

    /// Adopt a new send window if this segment is newer than the one that set the
    /// current one (SND.WL1/SND.WL2 rule of RFC 9293 §3.10.7.4).
    pub(crate) fn update_window(&mut self, seq: SeqNumber, ack: SeqNumber, window: u16, syn: bool) -> bool {
        let snd = &mut self.snd;
        if !(syn || snd.snd_wl1 < seq || (snd.snd_wl1 == seq && snd.snd_wl2 <= ack)) {
            return false;
        }
        // RFC 7323 §2.2: the window in a SYN segment is never scaled.
        let wnd = if syn { usize::from(window) } else { usize::from(window) << snd.snd_wscale };
        let changed = wnd != snd.snd_wnd;
        snd.snd_wnd = wnd;
        snd.snd_wl1 = seq;
        snd.snd_wl2 = ack;
        snd.max_snd_wnd = snd.max_snd_wnd.max(wnd);
        if wnd > 0 {
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
        }
        changed
    }

    /// An ACK of new data: take the RTT sample it carries, if it is a valid one,
    /// and return it. `oldest` is what [`oldest_in_flight`](Tcb::oldest_in_flight)
    /// said before this ACK moved SND.UNA.
    fn take_rtt_sample(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &Segment<'_>,
        ack: SeqNumber,
        oldest: Option<(Instant, bool)>,
    ) -> Option<Duration> {
        // RFC 7323 §4.1: with timestamps every ACK of new data carries a sample
        // (Karn's problem disappears: the echo says which transmission it answers).
        let sample = match seg.options.timestamp {
            Some((_, tsecr)) if self.negotiated.timestamps.is_some() && !self.echoes_an_earlier_copy(tsecr, oldest) => {
                self.ts_rtt(ctx.now, tsecr)
            }
            _ => None,
        };
        let sample = sample.or_else(|| self.snd.sampler.on_ack(ack, ctx.now));
        if let Some(rtt) = sample {
            self.snd.rtt.on_sample(rtt);
        }
        sample
    }

    /// The oldest thing in flight — our SYN while it is unacknowledged, else the
    /// first segment of the retransmission queue: when it was last sent, and
    /// whether it had been sent before.
    fn oldest_in_flight(&self) -> Option<(Instant, bool)> {
        if self.snd.snd_una == self.snd.iss {
            return Some((self.snd.syn_sent_at, self.snd.retries > 0));
        }
        self.snd.sent.iter().next().map(|s| (s.sent_at, s.retransmitted))
    }

    /// Whether `tsecr` echoes an earlier copy of the oldest segment this ACK
    /// acknowledges (`oldest`), one sent before its latest retransmission. The
    /// peer then got that copy long ago and the ACKs it sent for it were lost;
    /// later ACKs keep echoing its TSval, because a duplicate outside the window
    /// does not update TS.Recent (RFC 7323 §5.3). `now − TSecr` then measures the
    /// lost ACKs, not the path, and one such sample after a few backed-off
    /// timeouts pins SRTT and the RTO near their maximum for hundreds of round
    /// trips. Karn's rule (RFC 6298 §3) applied to timestamps: such an echo is
    /// ambiguous and is not sampled. An echo of the latest copy (a retransmission
    /// that filled a hole, RFC 7323 §4.3 case (c)) is a true round trip and is.
    fn echoes_an_earlier_copy(&self, tsecr: u32, oldest: Option<(Instant, bool)>) -> bool {
        oldest.is_some_and(|(sent_at, resent)| resent && self.echo_predates(tsecr, sent_at))
    }

    /// The ACK field (RFC 9293 §3.10.7.4 "fifth"), with loss detection and
    /// congestion control riding on it (see `recovery.rs`).
    fn process_ack(&mut self, ctx: &mut Ctx<'_>, seg: &Segment<'_>, seq: SeqNumber, ack: SeqNumber) {
        // The peer is alive, whatever its window says (see timers.rs).
        self.heard_from_peer(ctx.now);
        let window_changed = self.update_window(seq, ack, seg.window, false);
        self.snd.rack.on_ack_start();
        let mut delivered = 0;
        if self.negotiated.sack {
            delivered += self.on_sack_option(ctx, seg, ack);
        }
        let acks_new_data = self.snd.acks_new_data(ack);
        if acks_new_data {
            let oldest = self.oldest_in_flight();
            let acked = ack.since(self.snd.snd_una);
            let data_acked = ack.since(self.snd.buf_seq).min(self.snd.buffer.len());
            self.snd.buffer.ack(data_acked);
            self.snd.buf_seq += data_acked;
            self.snd.snd_una = ack;
            self.snd.retries = 0;
            let rtt = self.take_rtt_sample(ctx, seg, ack, oldest);
            delivered += self.on_cumulative_ack(ctx, ack, acked, rtt);
            // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
            let in_flight = self.snd.in_flight();
            self.timers.set_to(Timer::Retransmit, (in_flight > 0).then(|| ctx.now + self.snd.rtt.rto()));
            self.restart_user_timeout(ctx.now);
            self.schedule_loss_probe(ctx);
            self.on_fin_acked(ctx);
            let windows = self.snd.cwnd().min(self.snd.snd_wnd);
            self.snd.buffer.grow_toward(windows.saturating_mul(2));
            self.notify(ctx);
        } else if ack == self.snd.snd_una
            && seg.payload.is_empty()
            && !seg.flags.fin
            && !window_changed
            && self.snd.in_flight() > 0
        {
            self.on_duplicate_ack(ctx);
            if !self.negotiated.sack {
                // Without SACK a duplicate ACK stands for one delivered segment.
                delivered += self.snd.mss;
            }
        }
        if !acks_new_data {
            // What its SACK blocks delivered, for the congestion controller (an
            // ACK of new data told it in `on_cumulative_ack`).
            self.snd.sample_ack(ctx.now, None);
        }
        self.detect_losses(ctx);
        self.on_delivery_in_recovery(delivered);
    }

    /// Our FIN was acknowledged: the closing states move on (RFC 9293 §3.10.7.4).
    fn on_fin_acked(&mut self, ctx: &mut Ctx<'_>) {
        if !self.fin_acked() {
            return;
        }
        match self.state {
            State::FinWait1 => {
                self.set_state(State::FinWait2, "rcvd ACK of FIN");
                if !self.attached {
                    self.timers.set(Timer::Linger, ctx.now + ctx.tcp().fin_wait2_timeout);
                }
            }
            State::Closing => self.enter_time_wait(ctx, "rcvd ACK of FIN"),
            State::LastAck => self.set_state(State::Closed, "rcvd ACK of FIN"),
            _ => {}
        }
    }

    /// In-window data at `seq` (≥ RCV.NXT after trimming).
    fn receive_data(&mut self, ctx: &mut Ctx<'_>, seq: SeqNumber, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        if seq == self.rcv.rcv_nxt {
            let before = self.rcv.rcv_nxt;
            let filled_hole = self.rcv.accept_in_order(payload);
            ctx.counters.tcp_rx_bytes += self.rcv.rcv_nxt.since(before) as u64;
            // A segment larger than the peer's MSS was glued together below us (TSO
            // offload on the TUN): it counts as the segments it stands for.
            let segments = (payload.len() / self.rcv.peer_mss.max(1)).max(1);
            self.rcv.unacked_segments = self.rcv.unacked_segments.saturating_add(segments as u32);
            // RFC 1122 4.2.3.2 / RFC 5681 §4.2: ACK at least every second full-sized
            // segment (once for all those in one input batch), and at once when a
            // hole was filled.
            let due = if filled_hole {
                AckDue::Now
            } else if self.rcv.unacked_segments >= 2 {
                AckDue::EndOfBatch
            } else {
                AckDue::Delayed
            };
            if let Some(at) = self.rcv.schedule_ack(ctx.now, ctx.tcp().delayed_ack, due) {
                self.timers.set(Timer::DelayedAck, at);
            }
            self.notify(ctx);
        } else {
            // Out of order: hold it (bounded), and send an immediate duplicate ACK
            // so the sender's fast retransmit can start (RFC 5681 §4.2).
            let room = self.rcv.rcv_adv.since(seq).min(payload.len());
            let data = Bytes::copy_from_slice(&payload[..room]);
            match self.rcv.assembler.insert(self.rcv.rcv_nxt, seq, data) {
                InsertOutcome::NoRoom => {
                    self.dropped += 1;
                    let (len, limit) = (self.rcv.assembler.ranges(), ctx.tcp().max_ooo_ranges);
                    let detail = format_args!("local={} remote={}", self.local, self.remote);
                    ctx.overflow(DropReason::TcpOutOfOrderFull, len, limit, detail);
                }
                _ => ctx.counters.tcp_rx_out_of_order += 1,
            }
            self.rcv.ack = super::receiver::AckState::Now;
        }
    }

    /// The peer's FIN is next in sequence (RFC 9293 §3.10.7.4 "eighth").
    fn receive_fin(&mut self, ctx: &mut Ctx<'_>) {
        self.rcv.rcv_nxt += 1;
        self.rcv.ack = super::receiver::AckState::Now;
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait, "rcvd FIN"),
            State::FinWait1 => {
                if self.fin_acked() {
                    self.enter_time_wait(ctx, "rcvd FIN");
                } else {
                    self.set_state(State::Closing, "rcvd FIN (simultaneous close)");
                }
            }
            State::FinWait2 => {
                self.timers.stop(Timer::Linger);
                self.enter_time_wait(ctx, "rcvd FIN");
            }
            _ => {}
        }
        self.notify(ctx);
    }

    /// Enter `state`, with a trace event naming the cause: the only way a
    /// connection's state changes.
    pub(crate) fn set_state(&mut self, state: State, cause: &'static str) {
        if self.state != state {
            // A passive open is born CLOSED, but it is its listener's SYN that
            // moves it: say LISTEN, as RFC 9293's diagram does.
            let from =
                if self.state == State::Closed && self.listener.is_some() { "LISTEN" } else { self.state.name() };
            debug!(
                target: "tunstack::tcp::state",
                local = %self.local,
                remote = %self.remote,
                from,
                to = state.name(),
                cause,
                "tcp state"
            );
            if matches!(self.state, State::SynSent | State::SynReceived) && state.is_synchronized() {
                self.snd.rtt.on_handshake_done();
            }
            self.state = state;
        }
    }

    /// Both FINs are acknowledged: linger 2×MSL in TIME-WAIT (RFC 9293 §3.4.2).
    fn enter_time_wait(&mut self, ctx: &mut Ctx<'_>, cause: &'static str) {
        self.timers.set(Timer::TimeWait, ctx.now + ctx.tcp().msl * 2);
        self.set_state(State::TimeWait, cause);
    }

    /// The connection failed: the program's next call returns `kind`.
    pub(crate) fn fail(&mut self, ctx: &mut Ctx<'_>, kind: io::ErrorKind, cause: &'static str) {
        self.error = Some(kind);
        self.stop_timers();
        self.set_state(State::Closed, cause);
        self.notify(ctx);
    }
}
