//! IPv6 (RFC 8200): the same job as IPv4 beside it, with IPv6's rules.
//!
//! * `input.rs` ([`Ipv6Input`]) validates the fixed header, walks the extension
//!   headers, reassembles fragments (with the reassembler IPv4 uses), and hands
//!   back the datagram — or the ICMPv6 error the packet earned, as an
//!   [`ErrorRequest`] the stack passes to ICMPv6 (`ip` never imports `icmp`).
//! * `output.rs` ([`Ipv6Output`]) writes the fixed header and fragments our own
//!   datagrams at the source, into the transmit queue IPv4 uses; `IpOutput`
//!   holds it, so a layer lent `&mut IpOutput` sends IPv6 with
//!   `IpOutput::send_v6`.
//! * `path_mtu.rs` ([`PathMtuCache`](path_mtu::PathMtuCache)) remembers the
//!   path MTU of each destination a validated Packet Too Big told us about
//!   (RFC 8201): bounded, aging, never below 1,280; output fragments to it.

mod input;
mod output;
pub(crate) mod path_mtu;
#[cfg(test)]
mod tests;

pub(crate) use input::{Datagram6, ErrorRequest, Input6, Ipv6Input, MAX_QUOTE};
pub(crate) use output::Ipv6Output;
pub use path_mtu::PathMtuConfig;
