//! The user calls of RFC 9293 §3.10 on one connection: SEND, RECEIVE, CLOSE,
//! ABORT — what a program's `write`, `read`, `shutdown` and `drop` become.

use std::io;

use super::state::State;
use super::tcb::{Ctx, Tcb, NO_DATA};
use super::timer_table::Timer;
use crate::wire::tcp::Flags;

impl Tcb {
    /// SEND (RFC 9293 §3.10.2): queue bytes; `WouldBlock` when the send buffer is
    /// full. The data goes out from [`output`](Tcb::output).
    pub(crate) fn user_send(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(kind) = self.error.take() {
            return Err(kind.into());
        }
        if !self.state.can_send_data() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "connection closed for sending"));
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.snd.buffer.write(data) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// RECEIVE (RFC 9293 §3.10.3): take in-order bytes; `Ok(0)` at end of stream
    /// (the peer's FIN, or our own shutdown of reading); `WouldBlock` when nothing
    /// has arrived yet.
    pub(crate) fn user_recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.rcv.buffer.is_empty() && !buf.is_empty() {
            return Ok(self.rcv.read(buf));
        }
        self.nothing_to_receive(buf.is_empty())
    }

    /// RECEIVE that throws the bytes away (`MSG_TRUNC`): up to `max` are
    /// consumed, with [`user_recv`](Self::user_recv)'s answers otherwise.
    pub(crate) fn user_discard(&mut self, max: usize) -> io::Result<usize> {
        if !self.rcv.buffer.is_empty() && max > 0 {
            return Ok(self.rcv.discard(max));
        }
        self.nothing_to_receive(max == 0)
    }

    /// RECEIVE with no data to hand over: a pending error, end of stream
    /// (also for a zero-length request), or "not yet".
    fn nothing_to_receive(&mut self, empty_request: bool) -> io::Result<usize> {
        if let Some(kind) = self.error.take() {
            return Err(kind.into());
        }
        if self.state.fin_received() || self.read_closed || self.state == State::Closed || empty_request {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// CLOSE for the sending direction (RFC 9293 §3.10.4): a FIN follows the data
    /// already queued.
    pub(crate) fn user_shutdown_write(&mut self) {
        // Entering FIN-WAIT-1 or LAST-ACK is what queues the FIN (`Tcb::fin_seq`);
        // in every other state it is queued already, or there is none to send.
        match self.state {
            State::SynSent => self.set_state(State::Closed, "close in SYN-SENT"),
            State::SynReceived | State::Established => {
                self.set_state(State::FinWait1, "close");
            }
            State::CloseWait => {
                self.set_state(State::LastAck, "close");
            }
            _ => {}
        }
    }

    /// The program let go of the connection. With unread data this is an abort (RFC
    /// 1122 4.2.2.13: the peer must learn its data was not read); otherwise a graceful
    /// close that finishes on its own.
    pub(crate) fn user_close(&mut self, ctx: &mut Ctx<'_>) {
        self.attached = false;
        self.read_closed = true;
        if !self.rcv.buffer.is_empty() && self.state.is_synchronized() {
            self.abort(ctx, "closed with unread data");
            return;
        }
        self.user_shutdown_write();
        if self.state == State::FinWait2 {
            self.timers.set(Timer::Linger, ctx.now + ctx.tcp().fin_wait2_timeout);
        }
    }

    /// ABORT (RFC 9293 §3.10.5): send RST in SYN-RECEIVED, ESTABLISHED,
    /// FIN-WAIT-1/2 and CLOSE-WAIT, and drop everything; in CLOSING, LAST-ACK and
    /// TIME-WAIT the connection is only deleted (both FINs are out: there is
    /// nothing for the peer to learn).
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_>, cause: &'static str) {
        let reset = matches!(
            self.state,
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait
        );
        if reset {
            let seq = self.snd.snd_nxt;
            self.emit(ctx, seq, Flags { rst: true, ack: true, ..Flags::default() }, NO_DATA, None);
            ctx.counters.tcp_resets += 1;
        }
        self.stop_timers();
        self.set_state(State::Closed, cause);
        self.notify(ctx);
    }
}
