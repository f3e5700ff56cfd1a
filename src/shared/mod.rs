//! The types every layer of the core shares, and nothing else: the leaf of the
//! import graph (it uses only [`crate::time`] and [`crate::counters`]).
//!
//! * [`TcpHandle`], [`UdpHandle`], [`RawHandle`] — names of sockets, never reused;
//! * [`Event`] and the bounded [`EventQueue`] — "look at this socket again";
//! * [`DropReason`] — why a packet was discarded, each reason tied to the one
//!   counter it increments (declared once, in `drop.rs`);
//! * [`Context`] — what a layer borrows from the stack while it handles one call:
//!   the time, the counters, the event queue and the verdict on the packet being
//!   input; [`Context::drop`] is the one path every drop takes;
//! * [`TokenBucket`] — the rate limiter ICMP errors and challenge ACKs use;
//! * [`QueueLimit`] and [`RecvQueue`] — a datagram socket's bounded receive
//!   queue (UDP ports and raw IP protocol sockets both have one).
//!
//! Keeping these here, below `ip`, `icmp`, `udp` and `tcp`, is what lets the
//! imports of the core point one way (DESIGN.md, "Layers"): a protocol module
//! reports an event or a drop without knowing the [`Stack`](crate::Stack) exists,
//! and devices, captures and simulators read a [`DropReason`] without depending on
//! the protocols.

/// `Err(message)` unless `cond` holds: how the invariants (beside each table)
/// state their rules.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

mod context;
mod datagram_queue;
mod drop;
mod events;
mod handle_hash;
mod handles;
mod rate_limit;
mod rx_checksum;

pub use context::Context;
pub use datagram_queue::{ReceivedDatagram, RecvQueue};
pub use drop::{DropLog, DropReason};
pub use events::{Event, EventQueue};
pub use handle_hash::{HandleMap, HandleSet};
pub use handles::{RawHandle, TcpHandle, UdpHandle};
pub use rate_limit::TokenBucket;
pub use rx_checksum::RxChecksum;

/// The bound of a datagram receive queue: both counts apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimit {
    /// Most datagrams held.
    pub datagrams: usize,
    /// Most payload bytes held.
    pub bytes: usize,
}

impl Default for QueueLimit {
    fn default() -> Self {
        QueueLimit { datagrams: 1024, bytes: 1 << 20 }
    }
}

impl std::fmt::Display for QueueLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} datagrams / {} bytes", self.datagrams, self.bytes)
    }
}
