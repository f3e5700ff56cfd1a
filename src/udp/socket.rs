//! The state of one UDP socket inside the core.

use std::io;
use std::net::SocketAddrV4;

use crate::shared::RecvQueue;

/// What the core knows of one UDP socket: its port, an optional connected peer, its
/// bounded receive queue and an error reported by ICMP and not yet seen by the
/// program.
#[derive(Debug)]
pub struct UdpSocketState {
    pub local_port: u16,
    /// Set by `connect`: datagrams go there by default and only datagrams from there
    /// are accepted.
    pub peer: Option<SocketAddrV4>,
    pub queue: RecvQueue,
    /// RFC 1122 4.1.3.3: ICMP errors are reported to the application; like Linux, only
    /// connected sockets get them, as the error of their next call.
    pub pending_error: Option<io::ErrorKind>,
}
