//! The live dashboard: the stack serving, over its own TCP, the page that shows
//! the stack.
//!
//! `GET /` returns one page of plain HTML, SVG and JavaScript
//! (`dashboard.html`, compiled into the binary); the page then asks
//! `GET /api/state.json` twice a second — each time a new TCP connection to
//! port 80 of this very stack — and redraws:
//!
//! * the socket table as two tables, TCP and UDP, because they are two port
//!   namespaces (TCP 7 and UDP 7 are different sockets); raw IP sockets, keyed by
//!   protocol number, in a third when there are any;
//! * each socket's receive queue as a bar against its bound — a listener's
//!   accept queue against the backlog, a UDP socket's datagrams against
//!   `--udp-queue` — with the drops a full queue caused;
//! * the counters, the state transitions seen from one answer to the next,
//!   and, for a chosen connection, a time-sequence graph (sent, acknowledged,
//!   window, received, in relative sequence numbers as tshark shows them) with
//!   its congestion window and smoothed RTT.
//!
//! Everything here is read from the core's public snapshots under the one
//! stack lock, as `tunstack ss` and `tunstack stats` read them: the socket
//! table ([`Stack::socket_table`](crate::Stack::socket_table)), the counters,
//! and each connection's [`Stack::tcp_info`](crate::Stack::tcp_info).

use serde::Serialize;

use crate::counters::Counters;
use crate::runtime::Runtime;
use crate::stack::SocketRow;
use std::net::SocketAddr;

/// The page, served as it is.
pub(crate) const PAGE: &str = include_str!("dashboard.html");

/// At most this many sockets in one answer (a SYN flood can leave thousands):
/// the rest are counted in `omitted`, so a page stays small however busy the
/// stack is.
const MAX_ROWS: usize = 2000;
/// At most this many connections get a `tcp_info` snapshot in one answer (not
/// those in TIME-WAIT, which have nothing left to draw and pile up by the
/// hundred under a busy port).
const MAX_INFOS: usize = 256;

/// One answer of `/api/state.json`.
#[derive(Serialize)]
struct State {
    /// The stack's clock, in µs (the x axis of the time-sequence graph).
    now_us: u64,
    /// The address this request came from: the page hides the connections of
    /// its own requests, which it knows by these.
    client: Option<SocketAddr>,
    /// The socket table as `tunstack ss --json` lists it (TCP, then UDP, then raw).
    sockets: Vec<SocketRow>,
    /// Rows left out beyond [`MAX_ROWS`].
    omitted: usize,
    counters: Counters,
    /// A `tcp_info` snapshot of each connection (not of listeners, nor TIME-WAIT).
    connections: Vec<Connection>,
}

/// A connection's `tcp_info`, in the units the page draws.
#[derive(Serialize)]
struct Connection {
    local: SocketAddr,
    peer: SocketAddr,
    state: &'static str,
    /// Smoothed RTT and its variation (RFC 6298 §2), and the retransmission
    /// timeout with its back-off, in µs.
    rtt_us: u32,
    rttvar_us: u32,
    rto_us: u32,
    /// Congestion window and slow-start threshold in segments of `mss`.
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    unacked: u32,
    retrans: u32,
    total_retrans: u32,
    /// Relative sequence numbers: acknowledged, sent, received; and the peer's window.
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u32,
    rcv_nxt: u32,
}

/// The JSON answer of `/api/state.json`, taken under one hold of the stack lock.
pub(crate) fn state_json(runtime: &Runtime, client: Option<SocketAddr>) -> Vec<u8> {
    let state = runtime.with_stack(|stack, now| {
        let mut sockets = stack.socket_table();
        let omitted = sockets.len().saturating_sub(MAX_ROWS);
        sockets.truncate(MAX_ROWS);
        let connections = stack
            .tcp_sockets()
            .into_iter()
            .filter(|s| s.state != "TIME-WAIT")
            .filter_map(|s| Some((s.peer?, s)))
            .take(MAX_INFOS)
            .filter_map(|(peer, s)| {
                let info = stack.tcp_info(s.handle)?;
                Some(Connection {
                    local: s.local,
                    peer,
                    state: s.state,
                    rtt_us: info.rtt,
                    rttvar_us: info.rttvar,
                    rto_us: info.rto,
                    cwnd: info.snd_cwnd,
                    ssthresh: info.snd_ssthresh,
                    mss: info.snd_mss,
                    unacked: info.unacked,
                    retrans: info.retrans,
                    total_retrans: info.total_retrans,
                    snd_una: info.snd_una_rel,
                    snd_nxt: info.snd_nxt_rel,
                    snd_wnd: info.snd_wnd,
                    rcv_nxt: info.rcv_nxt_rel,
                })
            })
            .collect();
        State { now_us: now.micros(), client, sockets, omitted, counters: stack.counters().clone(), connections }
    });
    // Only a map with non-string keys can fail to serialize; none here has one.
    serde_json::to_vec(&state).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes())
}
