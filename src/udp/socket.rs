//! The state of one UDP socket inside the core.

use std::io;
use std::net::SocketAddr;

use crate::ip::dual_stack::Binding;
use crate::shared::RecvQueue;

/// What the core knows of one UDP socket: its port and what it bound, an optional
/// connected peer, its bounded receive queue and an error reported by ICMP and not
/// yet seen by the program.
#[derive(Debug)]
pub struct UdpSocketState {
    pub local_port: u16,
    /// The address bound and `IPV6_V6ONLY`: which families the socket serves
    /// (see `ip/dual_stack.rs`).
    pub(crate) binding: Binding,
    /// Set by `connect`: datagrams go there by default and only datagrams from there
    /// are accepted. Canonical: an IPv4 peer is kept as IPv4 even when the program
    /// named it `::ffff:a.b.c.d`.
    pub peer: Option<SocketAddr>,
    pub queue: RecvQueue,
    /// RFC 1122 4.1.3.3: ICMP errors are reported to the application; like Linux, only
    /// connected sockets get them, as the error of their next call.
    pub pending_error: Option<io::ErrorKind>,
}
