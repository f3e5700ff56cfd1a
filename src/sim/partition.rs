//! Partitions: the link goes down, and usually comes back.
//!
//! A partition is a time interval during which the wire carries nothing: a cable
//! pulled, a route withdrawn, a firewall rule. Packets sent while it lasts are
//! lost, and so are packets already on the way that would arrive while it lasts.
//! Packets that arrive after it heals were never affected. A partition may cut one
//! direction only (an asymmetric failure: data gets through, ACKs do not), and
//! may never heal (the peer is unreachable for good — the "one side dead" of the
//! termination properties).

use super::link::Direction;
use crate::time::Instant;

/// The link is down from `from` until `until` (never, if `None`), in
/// `direction` (both, if `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub from: Instant,
    /// When it heals: from this instant on, packets pass again.
    pub until: Option<Instant>,
    pub direction: Option<Direction>,
}

impl Partition {
    /// Both directions down during `[from, until)`.
    pub fn healing(from: Instant, until: Instant) -> Self {
        Partition { from, until: Some(until), direction: None }
    }

    /// Both directions down from `from` on, for good.
    pub fn forever(from: Instant) -> Self {
        Partition { from, until: None, direction: None }
    }

    /// Whether a packet travelling `direction` at `at` is cut off.
    pub fn cuts(&self, at: Instant, direction: Direction) -> bool {
        at >= self.from && self.until.is_none_or(|u| at < u) && self.direction.is_none_or(|d| d == direction)
    }
}
