//! What a program waiting on a TCP socket could do now without blocking: the
//! view `poll(2)` gives (and an async runtime would wake a task for), read from
//! the connection's state and buffers. Linux's `tcp_poll` is the model; each
//! flag says which of its bits it stands for. O(1) per socket.

use super::state::State;
use super::TcpTable;
use crate::shared::TcpHandle;

/// The readiness of one TCP socket; see [`Stack::tcp_readiness`](crate::Stack::tcp_readiness).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpReadiness {
    /// `read` would not block (data, end of stream or an error); for a listener,
    /// `accept` has a connection waiting (POLLIN).
    pub readable: bool,
    /// `write` would take at least one byte, or fail at once because writing was
    /// shut down (POLLOUT). Not during the handshake.
    pub writable: bool,
    /// The peer's FIN has arrived: after the buffered bytes, reading ends (POLLRDHUP).
    pub read_closed: bool,
    /// The connection failed (reset, timed out, refused, unreachable) and the
    /// next call reports it (POLLERR).
    pub error: bool,
    /// Neither direction carries data any more: both FINs, or the connection is
    /// gone (POLLHUP).
    pub hang_up: bool,
}

impl TcpTable {
    /// The readiness of a listener or connection; a handle no longer known is
    /// a connection that is gone (readable, writable, hung up), as Linux reports a
    /// closed socket.
    pub fn readiness(&self, handle: TcpHandle) -> TcpReadiness {
        if let Some(l) = self.listeners.get(&handle) {
            return TcpReadiness { readable: !l.accept_queue.is_empty(), ..TcpReadiness::default() };
        }
        let Some(t) = self.conns.get(&handle) else {
            return TcpReadiness { readable: true, writable: true, read_closed: true, error: false, hang_up: true };
        };
        let error = t.error.is_some();
        if t.state == State::Closed {
            return TcpReadiness { readable: true, writable: true, read_closed: true, error, hang_up: true };
        }
        if !t.state.is_synchronized() {
            return TcpReadiness { error, ..TcpReadiness::default() };
        }
        let write_shut = !t.state.can_send_data();
        TcpReadiness {
            readable: self.can_recv(handle),
            writable: write_shut || t.snd.buffer.free() > 0,
            read_closed: t.state.fin_received(),
            error,
            hang_up: write_shut && t.state.fin_received(),
        }
    }
}
