//! The socket table: every socket of a [`Stack`](crate::Stack) as one row, the way `ss -tuna`
//! lists a Linux host's sockets.
//!
//! [`Stack::socket_table`](crate::Stack::socket_table) is a pure function of the core's state — no clock, no
//! IO, no lock of its own — so a test builds a stack, feeds it packets and reads
//! the table, and the control socket and the HTTP page call the very same
//! function under the runtime's lock.
//!
//! # What the queues mean
//!
//! Each queue is shown as bytes waiting *and* the bound they wait under, because
//! a queue only explains a drop next to its limit:
//!
//! | row | Recv-Q | Send-Q |
//! |-----|--------|--------|
//! | TCP connection | received in order, not read by the program / receive buffer | written, not yet acknowledged (sent or not) / send buffer |
//! | TCP listener | connections waiting for `accept` / the backlog | — (0/0) |
//! | UDP socket | payload bytes queued / byte bound, plus datagrams / datagram bound | — (UDP sends at once) |
//!
//! Linux's `ss` prints a listener's backlog in the Send-Q column; here it is the
//! accept queue's bound, where it belongs.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::ports::services::service_name;
use crate::ports::Protocol;
use crate::raw::RawSocketInfo;
use crate::tcp::TcpSocketInfo;
use crate::udp::UdpSocketInfo;

/// One socket, as `tunstack ss` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketRow {
    /// `tcp` or `udp`: which port namespace the local port lives in.
    pub netid: Protocol,
    /// TCP: the RFC 9293 state name (`LISTEN`, `ESTABLISHED`, `TIME-WAIT`, …).
    /// UDP: `UNCONN`, or `ESTAB` once connected (as Linux's `ss` says).
    pub state: String,
    /// Bytes waiting to be read (listener: connections waiting for `accept`).
    pub recv_q: usize,
    /// The bound of that queue (listener: the backlog).
    pub recv_q_max: usize,
    /// Bytes written and not yet acknowledged (0 for listeners and UDP).
    pub send_q: usize,
    /// The bound of that queue (0 where there is no send queue).
    pub send_q_max: usize,
    /// The local address: IPv4, or (an IPv6 UDP socket) the IPv6 address bound.
    pub local: SocketAddr,
    /// The connected peer; `None` for a listener or an unconnected UDP socket.
    pub peer: Option<SocketAddr>,
    /// The well-known name of the local port, else of the peer's port (from
    /// [`crate::ports::services`]).
    pub service: Option<String>,
    /// Packets this socket discarded: a UDP datagram refused by a full queue, a
    /// SYN or handshake ACK refused by a full listen backlog, a segment of a
    /// connection dropped on arrival (out of window, PAWS, out-of-order queue full).
    pub drops: u64,
    /// UDP only: datagrams queued and the datagram bound (a UDP queue has both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datagrams: Option<(usize, usize)>,
    /// Listener only: connections in SYN-RECEIVED (bounded by the SYN backlog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open: Option<usize>,
    /// TCP connection only: the path MTU it knows (RFC 1191; the link MTU unless
    /// an ICMP error or black-hole detection lowered it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_mtu: Option<usize>,
}

/// The name of `local`'s port, else of `peer`'s: an incoming connection is
/// named by our well-known port, an outgoing one by the server's.
fn service(protocol: Protocol, local: SocketAddr, peer: Option<SocketAddr>) -> Option<String> {
    service_name(protocol, local.port())
        .or_else(|| peer.and_then(|p| service_name(protocol, p.port())))
        .map(str::to_string)
}

/// Sort key: local port, then peer (listeners and unconnected sockets first),
/// IPv4 before IPv6.
fn order(row: &SocketRow) -> (u16, bool, Option<SocketAddr>) {
    (row.local.port(), row.local.is_ipv6(), row.peer)
}

/// The rows of the socket table from the TCP and UDP tables' own listings:
/// TCP first, then UDP; within each, by local port and then peer (a listener
/// before its connections).
pub(super) fn rows(tcp: Vec<TcpSocketInfo>, udp: Vec<UdpSocketInfo>, raw: Vec<RawSocketInfo>) -> Vec<SocketRow> {
    let mut tcp: Vec<SocketRow> = tcp
        .into_iter()
        .map(|t| SocketRow {
            netid: Protocol::Tcp,
            state: t.state.to_string(),
            recv_q: t.recv_queue,
            recv_q_max: t.recv_queue_max,
            send_q: if t.half_open.is_some() { 0 } else { t.send_queue },
            send_q_max: t.send_queue_max,
            local: t.local,
            peer: t.peer,
            service: service(Protocol::Tcp, t.local, t.peer),
            drops: t.drops,
            datagrams: None,
            half_open: t.half_open,
            path_mtu: t.path_mtu,
        })
        .collect();
    tcp.sort_by_key(order);
    let mut udp: Vec<SocketRow> = udp
        .into_iter()
        .map(|u| SocketRow {
            netid: Protocol::Udp,
            state: if u.peer.is_some() { "ESTAB" } else { "UNCONN" }.to_string(),
            recv_q: u.queued_bytes,
            recv_q_max: u.limit.bytes,
            send_q: 0,
            send_q_max: 0,
            local: u.local,
            peer: u.peer,
            service: service(Protocol::Udp, u.local, u.peer),
            drops: u.dropped,
            datagrams: Some((u.queued_datagrams, u.limit.datagrams)),
            half_open: None,
            path_mtu: None,
        })
        .collect();
    udp.sort_by_key(order);
    // Raw sockets have no port: like Linux's `ss -w`, the protocol number stands
    // in its place.
    let raw = raw.into_iter().map(|r| SocketRow {
        netid: Protocol::Raw,
        state: if r.peer.is_some() { "ESTAB" } else { "UNCONN" }.to_string(),
        recv_q: r.queued_bytes,
        recv_q_max: r.limit.bytes,
        send_q: 0,
        send_q_max: 0,
        local: SocketAddr::new(r.local, u16::from(r.protocol)),
        peer: r.peer.map(|p| SocketAddr::new(p, u16::from(r.protocol))),
        service: None,
        drops: r.dropped,
        datagrams: Some((r.queued_datagrams, r.limit.datagrams)),
        half_open: None,
        path_mtu: None,
    });
    tcp.extend(udp);
    tcp.extend(raw);
    tcp
}
