//! LISTEN (RFC 9293 §3.10.7.2): a passive open waiting for SYNs, with its bounded
//! backlog.
//!
//! A listener owns two bounded queues, as in BSD and Linux: half-open connections
//! (SYN-RECEIVED, bounded by `syn_backlog`) and established connections the program
//! has not accepted yet (bounded by the `listen` backlog). A SYN that finds either
//! full is dropped and counted — the client retransmits it later — so an
//! application that never calls `accept` costs bounded memory.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::shared::TcpHandle;

/// One listening socket.
#[derive(Debug)]
pub struct Listener {
    pub handle: TcpHandle,
    /// The address the program bound (the port is what matters: one address).
    pub local: SocketAddrV4,
    /// Most established connections waiting for `accept`.
    pub backlog: usize,
    /// Connections in SYN-RECEIVED created by this listener.
    pub half_open: usize,
    /// Established connections waiting for `accept`, oldest first.
    pub accept_queue: VecDeque<TcpHandle>,
    /// SYNs dropped because a queue was full.
    pub overflows: u64,
}

impl Listener {
    pub fn new(handle: TcpHandle, local: SocketAddrV4, backlog: usize) -> Self {
        Listener { handle, local, backlog, half_open: 0, accept_queue: VecDeque::new(), overflows: 0 }
    }

    /// Whether a new SYN may start a connection (RFC 9293 leaves the bound to the
    /// implementation; like Linux we also refuse while the accept queue is full).
    pub fn has_room(&self, syn_backlog: usize) -> bool {
        self.half_open < syn_backlog && self.accept_queue.len() < self.backlog
    }
}
