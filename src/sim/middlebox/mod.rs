//! Middleboxes: a stage on the link that sees every packet and may change it.
//!
//! Real paths are not just wires. A home router translates addresses (NAT), a
//! firewall removes TCP options it does not know, a VPN gateway lowers the MSS
//! so that segments fit its tunnel. A stack that only ever met a clean wire has
//! not been tested against any of them. A [`Middlebox`] installed with
//! [`Sim::set_middlebox`](super::Sim::set_middlebox) stands at host A's end of
//! the link, like A's own router:
//!
//! ```text
//!   host A ──▶ middlebox ──▶ link (faults, delay) ──▶ host B
//!   host A ◀── middlebox ◀── link (faults, delay) ◀── host B
//! ```
//!
//! It sees each packet A sends before the link does, and each packet for A once
//! the link has delivered it (after the link's loss, corruption and delay). For
//! each one it returns what goes on — the packet itself (pass), a changed copy
//! (rewrite) or nothing (drop) — and may inject packets of its own either way:
//! towards B they go onto the link, towards A they reach A at the same instant.
//! It runs in virtual time like everything else, so a run with a middlebox
//! replays from its seed.
//!
//! Three examples, each a template:
//!
//! * [`Nat`]: source NAT — host A's address and port become a public address and
//!   a port of the NAT's choosing on the way out, and back on the way in; a
//!   packet no mapping matches is dropped.
//! * [`StripOptions`]: removes the options of every SYN (optionally keeping the
//!   MSS), as old firewalls do — the connection must work without SACK,
//!   timestamps and window scaling.
//! * [`ClampMss`]: lowers the MSS option of SYNs to a ceiling, as Linux's
//!   `iptables -j TCPMSS --set-mss` does.
//!
//! A middlebox that changes a packet fixes its checksums the way routers do, by
//! an incremental update (RFC 1624, [`crate::wire::rewrite`]): a packet the link
//! corrupted stays corrupt, rather than being given a fresh checksum over the
//! damage. The capture shows each hop (see `sim/trace.rs`): what left the host,
//! what the middlebox took in and what it made of it.

mod clamp;
mod nat;
mod strip;

pub use clamp::ClampMss;
pub use nat::{Nat, NatStats};
pub use strip::StripOptions;

use std::any::Any;

use super::link::Direction;
use crate::time::Instant;

/// A stage at host A's end of the link. See the module documentation.
///
/// (`Any` lets [`Sim::middlebox`](super::Sim::middlebox) hand the box back as
/// its own type, to read its counters.)
pub trait Middlebox: Any {
    /// A short name for the capture's comments and interface (`nat`, `mss-clamp`).
    fn name(&self) -> &str {
        "middlebox"
    }

    /// One `packet` travelling `direction` at `now`. Return what goes on in the
    /// same direction — `packet`, changed or not — or `None` to drop it. Push
    /// packets of the box's own onto `inject`, each with its direction.
    fn process(
        &mut self,
        now: Instant,
        direction: Direction,
        packet: Vec<u8>,
        inject: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>>;
}
