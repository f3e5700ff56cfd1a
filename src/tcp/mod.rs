//! TCP (RFC 9293): reliable byte streams over IP.
//!
//! Where to look:
//! * `state.rs` — the eleven states; `tcb.rs` — the control block of one connection;
//! * `input.rs` — what a segment does to a connection (RFC 9293 §3.10.7);
//! * `output.rs` — what a connection sends (data, FIN, ACKs, window updates);
//! * `timer_table.rs` — every timer of a connection in one table; `timers.rs` —
//!   what each does when it fires (retransmission, loss probe, persist, delayed
//!   ACK, TIME-WAIT, FIN-WAIT-2 linger);
//! * `pmtu.rs` — path MTU discovery (RFC 1191) and black-hole detection;
//! * `recovery.rs` — loss detection and recovery on each ACK: SACK, RACK
//!   (RFC 8985), fast recovery (RFC 6675, RFC 6937 PRR);
//! * `user_calls.rs` — SEND, RECEIVE, CLOSE, ABORT from the program;
//! * `sender.rs` / `receiver.rs` — the two halves' sequence variables and buffers;
//! * `listener.rs` — LISTEN and the backlog; `syncookie.rs` — SYN cookies for a
//!   full backlog (RFC 4987); `demux.rs` — finding the connection
//!   for a segment, passive opens; `table.rs` — the table of connections and
//!   listeners, running an event on one connection and the bookkeeping after it;
//!   `schedule.rs` — the table's timer set and its expiry loop; `api.rs` — the
//!   TCP calls the stack offers programs; `invariants.rs` — what must hold of the
//!   table and of each connection between calls; `info.rs` — a connection's
//!   `tcp_info` snapshot (RTO, RTT, windows, segment counts in Linux's units);
//! * `seq.rs`, `isn.rs`, `rtt.rs`, `congestion/`, `send_buffer.rs`, `assembler.rs`,
//!   `scoreboard.rs`, `sent_queue.rs`, `rack.rs`, `prr.rs`, `delivery_rate.rs` — the
//!   building blocks.

mod api;
pub mod assembler;
pub(crate) mod autotune;
mod buffers;
mod config;
pub mod congestion;
pub(crate) mod delivery_rate;
mod demux;
mod icmp_errors;
mod info;
mod input;
mod invariants;
pub(crate) mod isn;
pub(crate) mod listener;
mod output;
mod pmtu;
pub(crate) mod prr;
pub(crate) mod rack;
mod readiness;
pub(crate) mod receiver;
mod recovery;
pub mod rtt;
mod schedule;
pub(crate) mod scoreboard;
pub mod send_buffer;
pub(crate) mod sender;
pub(crate) mod sent_queue;
pub mod seq;
mod state;
mod syncookie;
mod table;
pub(crate) mod tcb;
#[cfg(test)]
mod tests;
mod timer_table;
mod timers;
mod tuple_map;
mod user_calls;

pub use api::TcpSocketInfo;
pub use buffers::SocketBuffers;
pub use config::{Keepalive, OptionLayout, SynCookies, TcpConfig};
pub use info::{TcpInfo, INFINITE_SSTHRESH};
pub use readiness::TcpReadiness;
pub use state::State;
pub(crate) use table::TcpTable;

use std::net::{Ipv4Addr, Ipv6Addr};

/// What the TCP table is given of the stack's configuration: its own settings,
/// and the addresses and MTU of the IP layer below (for our MSS).
#[derive(Clone, Debug)]
pub(crate) struct TcpParams {
    pub tcp: TcpConfig,
    pub addr: Ipv4Addr,
    /// Our IPv6 address, if the stack has one.
    pub addr6: Option<Ipv6Addr>,
    /// New IPv6 listeners on `::` start IPv6-only (`StackConfig::bind_v6only`).
    pub bind_v6only: bool,
    pub mtu: usize,
    /// Segments leave with a partial checksum (`StackConfig::tx_checksum_offload`).
    pub tx_checksum_offload: bool,
}
