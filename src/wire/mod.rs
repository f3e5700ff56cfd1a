//! The wire: turning bytes into headers and headers into bytes.
//!
//! This layer is a thin adapter over [`etherparse`], which parses and writes the IPv4,
//! UDP and ICMP headers and computes their checksums. Everything above it works with
//! the small, validated views defined here, so the protocol code never touches raw
//! offsets. Nothing here allocates except the `emit` functions, and nothing panics on
//! any input.

pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

mod pseudo_sum;
pub use pseudo_sum::verifies_with_pseudo_header;
