//! # tunstack
//!
//! A TCP/UDP/IPv4 stack written from scratch, running in user space on a Linux TUN
//! device. The layers, from the bottom:
//!
//! * [`wire`] — header parsing and writing (over `etherparse`);
//! * the sans-IO [`Stack`] (packets and time in, packets and events out): IPv4,
//!   ICMP, UDP and TCP inside, with the [`ports`] namespaces; its settings are a
//!   [`StackConfig`], its socket names [`TcpHandle`] and [`UdpHandle`];
//! * [`device`] — where packets come from: a TUN, or an in-memory link for tests;
//! * [`capture`] — every packet in and out, as a pcapng file for Wireshark;
//! * [`runtime`] — the driver that moves packets between a device and a stack: a
//!   thread of its own, or a tokio task (`Runtime::driven`, the `tokio` feature);
//! * [`socket`] — the blocking, `std::net`-shaped API programs use;
//! * [`control`] — the control socket of a running stack: its socket table and
//!   counters for `tunstack ss` and `tunstack stats`;
//! * [`services`] — the classic small servers (echo, discard, daytime, chargen);
//! * [`sim`] — two stacks over a simulated faulty link, in virtual time, with
//!   the [`invariants`] checked after every step;
//! * [`script`] — packetdrill scripts run against the core in virtual time.
//!
//! * [`congestion`] — the congestion-control trait, for a controller of your own.
//! * [`proto`] — the protocol trait, for a transport of your own inside the
//!   stack on an IP protocol number (`docs/prototyping.md`).
//!
//! See `DESIGN.md` for one packet's path through them. The protocol modules
//! themselves (`ip`, `icmp`, `udp`, `tcp`) are the crate's own: read them in the
//! source, where each module's documentation says what it does and which RFC it
//! follows.

pub mod aio;
pub mod capture;
pub mod config;
pub mod control;
mod counters;
pub mod device;
pub mod explain;
pub(crate) mod icmp;
pub mod invariants;
pub(crate) mod ip;
pub mod plot;
pub mod ports;
pub mod proto;
pub(crate) mod raw;
mod rng;
pub mod runtime;
pub mod script;
pub mod services;
pub(crate) mod shared;
pub mod sim;
pub mod socket;
mod stack;
pub(crate) mod tcp;
#[cfg(test)]
pub(crate) mod testutil;
mod time;
pub(crate) mod udp;
pub mod wire;

pub use config::StackConfig;
pub use counters::Counters;
pub use raw::RawSocketInfo;
pub use runtime::Runtime;
pub use shared::{DropReason, Event, QueueLimit, RawHandle, RxChecksum, TcpHandle, UdpHandle};
pub use socket::{RawSocket, TcpListener, TcpStream, UdpSocket};
pub use stack::{SocketRow, Stack};
pub use tcp::congestion;
pub use tcp::{
    Keepalive, OptionLayout, SocketBuffers, State, SynCookies, TcpConfig, TcpInfo, TcpReadiness, TcpSocketInfo,
    INFINITE_SSTHRESH,
};
pub use time::Instant;
pub use udp::{ReceivedDatagram, UdpSocketInfo};

/// The README's Rust examples, compiled and run as doctests so they cannot go
/// stale (`cargo test --doc --features tokio`, as `scripts/test.sh` runs them:
/// the async example drives the stack from a tokio task).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;

/// DESIGN.md's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../DESIGN.md")]
pub struct DesignExamples;

/// docs/prototyping.md's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/prototyping.md")]
pub struct PrototypingExamples;

/// Building blocks of the core that the benchmarks (`benches/hot_paths.rs`) and
/// the fuzz targets measure or drive one by one. Not an API: they change with
/// the core.
#[doc(hidden)]
pub mod internals {
    pub use crate::ip::reassembly;
    pub use crate::tcp::{assembler, send_buffer, seq};
}
