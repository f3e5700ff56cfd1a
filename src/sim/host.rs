//! What the simulator needs of a host: the sans-IO calls.
//!
//! [`Sim`](super::Sim) moves packets and time; it never looks inside a host. Any
//! type with the five calls below can be host A or host B — tunstack's own
//! [`Stack`], a second implementation under test, or a hand-written peer that
//! answers a handful of packets (the test `user_host.rs` has a minimal TCP
//! responder in about a hundred lines). The simulator calls them in this order in
//! each step, all at one virtual instant: [`input`](Host::input) for every packet
//! due, [`handle_timeout`](Host::handle_timeout) if
//! [`poll_deadline`](Host::poll_deadline) says a timer is due, then
//! [`poll_transmit`](Host::poll_transmit) until it returns `None`.
//!
//! A host must be deterministic for runs to replay: take time only from `now`,
//! and randomness only from a seed of its own.

use crate::shared::DropReason;
use crate::stack::Stack;
use crate::time::Instant;

/// A simulated host: IP packets and virtual time in, IP packets out.
pub trait Host {
    /// One IPv4 packet arrived at `now`. Returns why the host discarded it, or
    /// `None` if it took it in — the verdict the capture notes as a comment.
    fn input(&mut self, now: Instant, packet: &[u8]) -> Option<DropReason>;

    /// The next packet the host sends, if any.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;

    /// When [`handle_timeout`](Host::handle_timeout) next has work to do (`None`:
    /// no timer armed).
    fn poll_deadline(&self) -> Option<Instant>;

    /// Run the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// Check the host's internal rules, for
    /// [`Sim::check_invariants`](super::Sim::check_invariants): `Err` names the
    /// first one broken. A host with no rules to check keeps the default, which
    /// always passes.
    fn check_invariants(&self) -> Result<(), String> {
        Ok(())
    }
}

/// tunstack itself: each call is the stack's own method of the same name.
impl Host for Stack {
    fn input(&mut self, now: Instant, packet: &[u8]) -> Option<DropReason> {
        Stack::input(self, now, packet)
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        Stack::poll_transmit(self)
    }

    fn poll_deadline(&self) -> Option<Instant> {
        Stack::poll_deadline(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Stack::handle_timeout(self, now);
    }

    fn check_invariants(&self) -> Result<(), String> {
        Stack::check_invariants(self)
    }
}
