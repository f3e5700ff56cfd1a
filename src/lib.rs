//! # tunstack
//!
//! A TCP/UDP/IPv4 stack written from scratch, running in user space on a Linux TUN
//! device. The layers, from the bottom:
//!
//! * [`wire`] — header parsing and writing (over `etherparse`);
//! * [`ip`], [`icmp`], [`udp`], [`ports`] — the protocols, inside the sans-IO
//!   [`Stack`] (packets and time in, packets and events out);
//! * [`device`] — where packets come from: a TUN, or an in-memory link for tests;
//! * [`capture`] — every packet in and out, as a pcapng file for Wireshark;
//! * [`runtime`] — the one thread that moves packets between a device and a stack;
//! * [`socket`] — the blocking, `std::net`-shaped API programs use;
//! * [`control`] — the control socket of a running stack: its socket table and
//!   counters for `tunstack ss` and `tunstack stats`;
//! * [`services`] — the classic small servers (echo, discard, daytime, chargen);
//! * [`sim`] — two stacks over a simulated faulty link, in virtual time, with
//!   the [`invariants`] checked after every step;
//! * [`script`] — packetdrill scripts run against the core in virtual time.
//!
//! See `DESIGN.md` for one packet's path through them.

pub mod capture;
pub mod config;
pub mod control;
pub mod counters;
pub mod device;
mod events;
pub mod icmp;
pub mod invariants;
pub mod ip;
pub mod ports;
pub mod rng;
pub mod runtime;
pub mod script;
pub mod services;
pub mod sim;
pub mod socket;
pub mod stack;
pub mod tcp;
#[cfg(test)]
pub(crate) mod testutil;
pub mod time;
pub mod udp;
pub mod wire;

pub use config::{QueueLimit, StackConfig};
pub use counters::Counters;
pub use runtime::Runtime;
pub use socket::{TcpListener, TcpStream, UdpSocket};
pub use stack::{DropReason, Event, Stack};
pub use time::Instant;
