//! Invariants: what must be true of a [`Stack`](crate::Stack) between any two calls.
//!
//! A property test checks what a program can see: the bytes that arrive, the
//! errors returned. Many bugs stay invisible there for a long time — a port that
//! is never given back, a counter that drifts, a connection with data in flight
//! but no timer to resend it — and surface much later as a hang. An invariant
//! names such a rule about the *inside* of the stack, and
//! [`Stack::check_invariants`](crate::Stack::check_invariants) checks every one of them. The simulator runs it on
//! both hosts after every step ([`Sim::check_invariants`](crate::sim::Sim::check_invariants)),
//! so a broken rule is reported at the event that broke it, with the seed that
//! replays the run.
//!
//! The rules, by layer:
//!
//! * **IP** — the reassembly buffer and the transmit queue are within their
//!   bounds ([`StackConfig::reassembly`](crate::StackConfig), `max_tx_queue`).
//! * **UDP** — each socket's receive queue is within its bound; the sockets and
//!   the bound UDP ports correspond one to one (no port leaked, none shared);
//!   at most `max_udp_sockets` sockets.
//! * **TCP tables** — every bound TCP port belongs to exactly one listener or
//!   to one connection that took it from the ephemeral range, and every such
//!   owner's port is bound; the 4-tuple index, the listener index and the timer
//!   set agree with the connections; each listener's half-open count is the
//!   number of its connections in SYN-RECEIVED, its queues are within their
//!   bounds; at most `max_connections` connections.
//! * **each TCP connection** — see `check_connection` in `src/tcp/invariants.rs`.
//!
//! What "bytes in flight never exceed what the sender was allowed" means here.
//! RFC 5681 §3 lets a sender have at most min(cwnd, rwnd) bytes outstanding
//! *when it sends*; afterwards both may shrink legitimately: cwnd collapses on
//! a loss, and a receiver may shrink its window (RFC 9293 §3.8.6.2.2 discourages
//! it but a sender must cope). Neither is a bound on what is in flight later.
//! The rule that does hold at every moment is the peer window's: new data is only
//! ever sent within SND.UNA + SND.WND, SND.UNA never moves back and SND.WND never
//! exceeds MAX.SND.WND (the largest window the peer offered), so
//!
//! ```text
//!     SND.NXT − SND.UNA ≤ MAX.SND.WND + (SYN unacknowledged) + (FIN sent, unacknowledged)
//! ```
//!
//! (a SYN and a FIN take sequence space but no window). The congestion window is
//! not part of it: with SACK the flight legitimately exceeds cwnd by the SACKed
//! and lost bytes (RFC 6675 `pipe` is what cwnd bounds), a tail loss probe may
//! go one segment beyond it (RFC 8985 §7.3), and a custom congestion controller
//! may report any cwnd at all.

//! The rules live beside the tables they are about (`src/udp/invariants.rs`,
//! `src/tcp/invariants.rs`, IP's bounds in `src/stack/mod.rs`); this module is
//! their overview. Their tests, each breaking one rule on purpose, are in
//! `src/tcp/tests/invariants.rs`.
