//! LISTEN (RFC 9293 §3.10.7.2): a passive open waiting for SYNs, with its bounded
//! backlog.
//!
//! A listener owns two bounded queues, as in BSD and Linux: half-open connections
//! (SYN-RECEIVED, bounded by `syn_backlog`) and established connections the program
//! has not accepted yet (bounded by the `listen` backlog). A SYN that finds the
//! accept queue full is dropped and counted — the client retransmits it later —
//! so an application that never calls `accept` costs bounded memory; one that
//! finds the half-open queue full is answered with a SYN cookie (`syncookie.rs`,
//! unless they are off), which costs no memory at all.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::buffers::SocketBuffers;
use crate::ip::dual_stack::Binding;
use crate::shared::TcpHandle;

/// One listening socket.
#[derive(Debug)]
pub struct Listener {
    pub handle: TcpHandle,
    /// The address shown for it: ours for an IPv4 listener, the one bound for an
    /// IPv6 one (`[::]:P` for a dual-stack listener), and the port.
    pub local: SocketAddr,
    /// What was bound and `only_v6`: which families' SYNs it takes
    /// (`ip/dual_stack.rs`).
    pub binding: Binding,
    /// Most established connections waiting for `accept`.
    pub backlog: usize,
    /// Connections in SYN-RECEIVED created by this listener.
    pub half_open: usize,
    /// Established connections waiting for `accept`, oldest first.
    pub accept_queue: VecDeque<TcpHandle>,
    /// SYNs dropped because a queue was full.
    pub overflows: u64,
    /// When this listener last answered a SYN with a cookie: ACKs to it are
    /// checked for cookies for two cookie periods after (as Linux does).
    pub cookie_sent_at: Option<crate::time::Instant>,
    /// Buffer sizes the program set on the listener: its connections start
    /// with them (`buffers.rs`).
    pub buffers: SocketBuffers,
}

impl Listener {
    pub fn new(handle: TcpHandle, local: SocketAddr, binding: Binding, backlog: usize) -> Self {
        Listener {
            handle,
            local,
            binding,
            backlog,
            half_open: 0,
            accept_queue: VecDeque::new(),
            overflows: 0,
            cookie_sent_at: None,
            buffers: SocketBuffers::default(),
        }
    }
}
