//! Buffer sizes a program chooses (`SO_RCVBUF`, `SO_SNDBUF`), and how they are
//! reported back.
//!
//! Without a choice a connection starts from
//! [`TcpConfig::recv_buffer`]/[`send_buffer`](TcpConfig::send_buffer) and
//! auto-tuning grows both (`autotune.rs`). A size the program sets is kept: no
//! tuning, and the window scale is the smallest that fits it (RFC 7323 §2.3, as
//! Linux bases it on a locked buffer). A program may set sizes
//!
//! * on a connection, from then on (the receive window never shrinks below what
//!   was promised, RFC 9293 §3.8.6);
//! * on a listener: each connection it accepts starts with them, so the SYN,ACK
//!   already offers that window and scale (Linux's children inherit the
//!   listener's);
//! * before `connect`: the SYN offers them ([`SocketBuffers`] given to
//!   `Stack::tcp_connect_with`).
//!
//! Linux doubles a size set with `SO_RCVBUF`/`SO_SNDBUF`, to leave room for its
//! own bookkeeping, and `getsockopt` reports the doubled value, while the window
//! is about the size asked for. With
//! [`TcpConfig::double_socket_buffers`] (the `linux` profile) the stack reports
//! sizes the same way; the bytes it holds are still the size asked for.
//! (Linux's floor of about 2 KiB and its cap at `net.core.rmem_max` are not
//! modelled.)
//!
//! Cost: O(1); a size is a bound, not an allocation.

use super::autotune::AutoTune;
use super::config::TcpConfig;
use super::tcb::Tcb;

/// Receive and send buffer sizes a program asked for; `None`: the configured
/// default, auto-tuned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketBuffers {
    /// `SO_RCVBUF`: the most received data held, and so the largest window.
    pub recv: Option<usize>,
    /// `SO_SNDBUF`: the most data the program may have queued unacknowledged.
    pub send: Option<usize>,
}

impl SocketBuffers {
    /// The sizes `getsockopt` reports for sizes `held` (receive, send) when the
    /// program asked for these: doubled under
    /// [`TcpConfig::double_socket_buffers`], as Linux reports them.
    pub fn reported(&self, config: &TcpConfig, held: (usize, usize)) -> (usize, usize) {
        let report = |asked: Option<usize>, held: usize| match asked {
            Some(asked) if config.double_socket_buffers => asked.saturating_mul(2),
            _ => held,
        };
        (report(self.recv, held.0), report(self.send, held.1))
    }
}

impl Tcb {
    /// Take the sizes a program chose; what it left `None` stays as it is.
    pub(crate) fn set_buffers(&mut self, buffers: SocketBuffers) {
        if let Some(bytes) = buffers.recv {
            let promised = self.rcv.rcv_wnd() + self.rcv.buffer.len();
            self.rcv.capacity = bytes.max(promised).max(1);
            // A size the program chose is kept: no auto-tuning (like SO_RCVBUF).
            self.rcv.tune = AutoTune::new(self.rcv.capacity);
            self.asked.recv = Some(bytes);
        }
        if let Some(bytes) = buffers.send {
            self.snd.buffer.set_capacity(bytes.max(1));
            self.asked.send = Some(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_asked_for_are_reported_doubled_only_under_the_linux_knob() {
        let asked = SocketBuffers { recv: Some(65_536), send: None };
        let mut config = TcpConfig::default();
        assert_eq!(asked.reported(&config, (65_536, 262_144)), (65_536, 262_144));
        config.double_socket_buffers = true;
        assert_eq!(asked.reported(&config, (65_536, 262_144)), (131_072, 262_144));
        // A size the program never set is reported as held, auto-tuned.
        assert_eq!(SocketBuffers::default().reported(&config, (700_000, 9)), (700_000, 9));
    }
}
