//! TCP (RFC 9293): reliable byte streams over IP.
//!
//! Where to look:
//! * `state.rs` — the eleven states; `tcb.rs` — the control block of one connection;
//! * `input.rs` — what a segment does to a connection (RFC 9293 §3.10.7);
//! * `output.rs` — what a connection sends (data, FIN, ACKs, window updates);
//! * `timers.rs` — retransmission, loss probe, persist, delayed ACK, TIME-WAIT;
//! * `recovery.rs` — loss detection and recovery on each ACK: SACK, RACK
//!   (RFC 8985), fast recovery (RFC 6675, RFC 6937 PRR);
//! * `user_calls.rs` — SEND, RECEIVE, CLOSE, ABORT from the program;
//! * `sender.rs` / `receiver.rs` — the two halves' sequence variables and buffers;
//! * `listener.rs` — LISTEN and the backlog; `demux.rs` — finding the connection
//!   for a segment; `api.rs` — the stack's TCP calls used by the socket layer;
//! * `seq.rs`, `isn.rs`, `rtt.rs`, `congestion/`, `send_buffer.rs`, `assembler.rs`,
//!   `scoreboard.rs`, `sent_queue.rs`, `rack.rs`, `prr.rs` — the building blocks.

mod api;
pub mod assembler;
pub mod autotune;
pub mod congestion;
mod demux;
mod input;
pub mod isn;
pub mod listener;
mod output;
pub mod prr;
pub mod rack;
pub mod receiver;
mod recovery;
pub mod rtt;
pub mod scoreboard;
pub mod send_buffer;
pub mod sender;
pub mod sent_queue;
pub mod seq;
pub mod state;
pub mod tcb;
#[cfg(test)]
mod tests;
mod timers;
mod user_calls;

pub use api::TcpSocketInfo;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddrV4;

use crate::config::StackConfig;
use crate::icmp::TokenBucket;
use crate::ports::{PortTable, Protocol};
use crate::time::Instant;
use isn::IsnGenerator;
use listener::Listener;
use tcb::Tcb;

/// Names one TCP connection or listener of a [`Stack`](crate::Stack). Never
/// reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle(pub(crate) u64);

/// Every TCP connection and listener, and the TCP port namespace.
#[derive(Debug)]
pub(crate) struct TcpTable {
    pub ports: PortTable,
    pub conns: HashMap<TcpHandle, Tcb>,
    /// (local port, remote address) → connection: O(1) demultiplexing.
    pub by_tuple: HashMap<(u16, SocketAddrV4), TcpHandle>,
    pub listeners: HashMap<TcpHandle, Listener>,
    pub listener_by_port: HashMap<u16, TcpHandle>,
    /// Every connection's next deadline, earliest first.
    pub timers: BTreeSet<(Instant, TcpHandle)>,
    pub isn: IsnGenerator,
    pub challenge: TokenBucket,
    next_handle: u64,
}

impl TcpTable {
    pub fn new(config: &StackConfig) -> Self {
        let per_sec = config.tcp.challenge_acks_per_sec.max(1);
        TcpTable {
            ports: PortTable::new(Protocol::Tcp, config.ports.clone(), config.seed.rotate_left(17)),
            conns: HashMap::new(),
            by_tuple: HashMap::new(),
            listeners: HashMap::new(),
            listener_by_port: HashMap::new(),
            timers: BTreeSet::new(),
            isn: IsnGenerator::new(config.seed.rotate_left(29) ^ 0x6528),
            challenge: TokenBucket::new(per_sec, std::time::Duration::from_micros(1_000_000 / u64::from(per_sec))),
            next_handle: 1,
        }
    }

    pub fn new_handle(&mut self) -> TcpHandle {
        let h = TcpHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// The earliest deadline of any connection.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Put `handle` in the timer set under its current deadline.
    pub fn reschedule(&mut self, handle: TcpHandle) {
        let Some(tcb) = self.conns.get_mut(&handle) else {
            return;
        };
        let deadline = tcb.deadline();
        if tcb.scheduled == deadline {
            return;
        }
        if let Some(old) = tcb.scheduled.take() {
            self.timers.remove(&(old, handle));
        }
        if let Some(new) = deadline {
            self.timers.insert((new, handle));
        }
        tcb.scheduled = deadline;
    }
}
