//! Every TCP state transition of RFC 9293 §3.3.2, driven through the sans-IO
//! core with exact segments.
//!
//! Each test is a script: the peer sends a segment (built with etherparse), the
//! stack must answer with exactly the segments the script expects — flags,
//! sequence and acknowledgment numbers, window, options, payload — and nothing
//! else. Timers run only when a test advances the clock. See [`harness`] for the
//! conventions (relative sequence numbers, as in packetdrill) and [`segment`] for
//! the notation (tcpdump's flag letters).
//!
//! * `handshake.rs` — passive, active and simultaneous open, option negotiation;
//! * `close.rs` — active, passive, simultaneous and half close, CLOSE while opening;
//! * `time_wait.rs` — the 2MSL wait, FIN retransmissions, reuse by a new SYN;
//! * `reset.rs` — RST in and out (RFC 5961), closed ports, abort;
//! * `window.rs` — segments outside the receive window;
//! * `acceptance.rs` — overlapping data, PAWS, an ACK of data never sent;
//! * `acks.rs` — when in-order data is acknowledged (delayed, per batch, at once);
//! * `icmp.rs` — ICMP errors quoting our segments (RFC 5461, RFC 5927);
//! * `rfc793.rs` — the RFC 793 / FreeBSD knobs, the option layout, a closing listener;
//! * `retransmit.rs` — lost SYN and SYN,ACK, and the retry limits;
//! * `rtt.rs` — RTT samples from timestamps and the timer they set;
//! * `listen.rs` — the listener's queues and its answers to stray segments;
//! * `syncookies.rs` — SYN cookies for a full half-open queue (RFC 4987);
//! * `keepalive.rs` — keepalive probes and the user timeout (RFC 1122 4.2.3.6, RFC 5482);
//! * `pmtu.rs` — path MTU discovery and black-hole detection (RFC 1191, RFC 4821);
//! * `invariants.rs` — each invariant of the stack reported when broken on purpose;
//! * `ipv6.rs` — TCP over IPv6, dual-stack listeners, `only_v6`.

mod acceptance;
mod acks;
mod close;
mod handshake;
mod harness;
mod icmp;
mod invariants;
mod ipv6;
mod keepalive;
mod listen;
mod pmtu;
mod reset;
mod retransmit;
mod rfc793;
mod rtt;
mod segment;
mod syncookies;
mod time_wait;
mod window;
