//! Ports: the per-transport namespaces that tell the stack *which process* a
//! segment or datagram belongs to.
//!
//! # What a port is
//!
//! An IP address gets a packet to the right *host*. Most hosts run many
//! programs at once, so the host still has to decide which of them should
//! receive the packet. The transport header answers that with a 16-bit
//! **port number** (0–65535). Conceptually a port is a *queue* that the stack
//! keeps on behalf of one process: arriving data whose destination port is
//! `p` is pushed onto `p`'s queue and waits there until the owning process
//! reads it. Like any queue it has a size, it can overflow in extreme cases,
//! and a process may ask for it to be made larger or smaller (the socket
//! buffer sizes).
//!
//! Sending needs a port too: every packet carries a *source* port so that the
//! peer knows where to send its reply. A client that never called `bind`
//! gets a temporary **ephemeral** port picked for it (see
//! [`PortTable::bind`] with port `0`, and [`PortTable::pick_ephemeral`]).
//!
//! # TCP and UDP ports are independent
//!
//! Each transport protocol has its *own* port namespace. TCP port 255 and
//! UDP port 255 are two different ports that may belong to two different
//! processes; the IP header's protocol field (6 for TCP, 17 for UDP) decides
//! which namespace the destination port is looked up in. That is why this
//! module has one [`PortTable`] *per* [`Protocol`], and why the service-name
//! table in [`services`] is keyed by `(protocol, port)`: for example UDP 67
//! is `bootps` (DHCP server) while TCP 67 has no registered use.
//!
//! # Port ranges (RFC 6335 §6)
//!
//! RFC 6335 §6 divides the 16-bit space into three ranges:
//!
//! | range         | RFC 6335 name            | typical use                                   |
//! |---------------|--------------------------|-----------------------------------------------|
//! | 0–1023        | System (well-known) Ports | standard services: 22 ssh, 53 domain, 80 http |
//! | 1024–49151    | User (registered) Ports  | services registered with IANA: 3306 mysql     |
//! | 49152–65535   | Dynamic (private) Ports  | never assigned; used for ephemeral ports      |
//!
//! Older texts (and many tutorials) simply say "0–1023 well-known,
//! 1024–65535 dynamic"; the RFC 6335 split refines the upper part. On Unix
//! systems binding a port below 1024 traditionally requires root, which is why
//! [`PortConfig::allow_privileged`] exists.
//!
//! Port 0 is reserved and is never put on the wire as a real port; in the
//! sockets API, binding "port 0" means "please choose an ephemeral port for
//! me", and [`PortTable::bind`] follows that convention.
//!
//! # Choosing ephemeral ports (RFC 6056)
//!
//! If ephemeral ports were handed out sequentially, an off-path attacker
//! could guess a connection's source port and inject forged segments or
//! datagrams. RFC 6056 therefore recommends *randomizing* the choice. The
//! allocator in [`PortTable`] implements the simple randomized selection of
//! RFC 6056 §3.3.1 with a small deterministic PRNG, so that a given seed
//! always produces the same sequence (handy for tests and reproducible runs).
//!
//! # Service names
//!
//! [`services::service_name`] maps a `(protocol, port)` pair to the name
//! IANA / `/etc/services` uses for it (e.g. TCP 80 → `http`), which is how
//! tools that list open ports explain what each one is probably for.

use std::fmt;

pub mod services;
mod table;

pub use table::*;

/// Which transport's namespace a port lives in.
///
/// TCP and UDP each have their own 65536 ports; see the [module docs](self).
/// The derived ordering (`Tcp < Udp`) is used to sort the service table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Transmission Control Protocol (IP protocol number 6).
    Tcp,
    /// User Datagram Protocol (IP protocol number 17).
    Udp,
    /// Raw IP protocol sockets: no ports — a socket's "port" in the socket table
    /// is the IP protocol number it speaks, as Linux's `ss` shows it.
    Raw,
}

impl fmt::Display for Protocol {
    /// Lowercase, as in `/etc/services` (`22/tcp`, `53/udp`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Raw => "raw",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_display_is_lowercase() {
        assert_eq!(Protocol::Tcp.to_string(), "tcp");
        assert_eq!(Protocol::Udp.to_string(), "udp");
        assert_eq!(format!("{}/{}", 53, Protocol::Udp), "53/udp");
    }

    #[test]
    fn protocol_orders_tcp_before_udp() {
        assert!(Protocol::Tcp < Protocol::Udp);
    }
}
