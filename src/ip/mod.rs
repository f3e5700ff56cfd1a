//! IP: the layer that gets a packet from the link to the right transport.
//!
//! * `input.rs` ([`IpInput`]) validates a packet (RFC 791 §3.1, RFC 1122 3.2.1),
//!   reassembles fragments ([`reassembly`]) and hands the whole datagram back to
//!   the stack, which routes it to ICMP, UDP or TCP.
//! * `output.rs` wraps a transport payload in an IPv4 header, fragmenting it when it
//!   is larger than the link MTU (RFC 791 §2.3), and queues it for the device.
//! * [`ipv6`] does the same for IPv6 (RFC 8200), in files of its own; the stack
//!   sends a packet to one or the other by its version nibble.
//! * `dual_stack.rs`: which families a socket serves and how it names peers
//!   (IPv4-mapped addresses), for UDP sockets and TCP listeners alike.

pub(crate) mod dual_stack;
mod input;
pub(crate) mod ipv6;
mod output;
pub mod reassembly;
#[cfg(test)]
mod tests;

pub(crate) use input::{Datagram, IpInput};
pub(crate) use output::{IpOutput, OutputConfig, OutputError};
pub(crate) use reassembly::Reassembler;

use std::io;

use crate::wire::ip_protocol;

/// Whether a program may take IP protocol `number` for a raw socket or a
/// protocol of its own: not one the stack speaks itself (ICMP, TCP, UDP:
/// `AddrInUse`), not the reserved 0 and 255 (`InvalidInput`).
pub(crate) fn check_program_protocol(number: u8) -> io::Result<()> {
    if matches!(number, ip_protocol::ICMP | ip_protocol::TCP | ip_protocol::UDP) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("IP protocol {number} is the stack's own (ICMP, TCP or UDP): use its sockets"),
        ));
    }
    if number == 0 || number == 255 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("IP protocol {number} is reserved")));
    }
    Ok(())
}

/// Whether a program may take Next Header `number` for an IPv6 raw socket: not
/// TCP or UDP, which the stack speaks itself (`AddrInUse`); not a number IPv6
/// itself consumes — Hop-by-Hop (0), Routing, Fragment, Destination Options, No
/// Next Header — nor the reserved 255 (`InvalidInput`): no datagram ever
/// reaches an upper layer under those. ICMPv6 may be taken: as on Linux, an
/// ICMPv6 raw socket gets a copy of each message the stack reads, and sends
/// messages of its own (RFC 3542 §3).
pub(crate) fn check_program_next_header(number: u8) -> io::Result<()> {
    if matches!(number, ip_protocol::TCP | ip_protocol::UDP) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("Next Header {number} is the stack's own (TCP or UDP): use its sockets"),
        ));
    }
    let consumed = [
        ip_protocol::HOP_BY_HOP,
        ip_protocol::ROUTING,
        ip_protocol::FRAGMENT,
        ip_protocol::DEST_OPTIONS,
        ip_protocol::NO_NEXT_HEADER,
        255,
    ];
    if consumed.contains(&number) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("Next Header {number} is an IPv6 extension header or reserved: no upper layer arrives on it"),
        ));
    }
    Ok(())
}
