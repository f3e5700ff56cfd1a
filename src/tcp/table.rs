//! The TCP table: every connection and listener, the TCP port namespace, and the
//! one way to run an event on a connection ([`TcpTable::with`]) followed by the
//! bookkeeping its state change calls for ([`TcpTable::after`]): handing a new
//! connection to its listener's accept queue, freeing what is closed and unheld,
//! re-arming the connection's timer.
//!
//! Lookups are hash maps (handle → TCB, 4-tuple → handle with a one-entry cache
//! in front, `tuple_map.rs`; port → listener), so a segment finds its connection
//! in O(1). The table's own bounds are in
//! [`TcpConfig`]: `max_connections`, `syn_backlog`, `accept_backlog`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::isn::IsnGenerator;
use super::listener::Listener;
use super::state::State;
use super::syncookie::CookieJar;
use super::tcb::{Ctx, Tcb};
use super::tuple_map::TupleMap;
use super::TcpParams;
use crate::ip::dual_stack::PortHolders;
use crate::ip::IpOutput;
use crate::ports::{PortConfig, PortTable, Protocol};
use crate::shared::{Context, Event, HandleMap, TcpHandle, TokenBucket};
use crate::time::Instant;

/// Every TCP connection and listener, and the TCP port namespace.
#[derive(Debug)]
pub(crate) struct TcpTable {
    pub(super) config: TcpParams,
    pub(super) ports: PortTable,
    /// Every connection, boxed: a table of 1.6 KiB TCBs held inline would
    /// carry its empty slots (up to half the table, hashbrown grows by
    /// doubling) at full size — about 1 KiB per connection at 10,000.
    pub(super) conns: HandleMap<TcpHandle, Box<Tcb>>,
    /// (local port, remote address) → connection: O(1) demultiplexing.
    pub(super) by_tuple: TupleMap,
    pub(super) listeners: HandleMap<TcpHandle, Listener>,
    /// Port → its listeners, one per family at most (`ip/dual_stack.rs`: an
    /// IPv4 listener and an IPv6-only one may share a port).
    pub(super) listener_by_port: HashMap<u16, PortHolders<TcpHandle>>,
    /// Every connection's next deadline, earliest first (see `schedule.rs`).
    pub(super) timers: BTreeSet<(Instant, TcpHandle)>,
    pub(super) isn: IsnGenerator,
    /// The secret SYN cookies are made with (RFC 4987 §3.6).
    pub(super) cookies: CookieJar,
    /// Stack-wide challenge-ACK budget (RFC 5961 §7).
    pub(super) challenge: TokenBucket,
    next_handle: u64,
}

impl TcpTable {
    pub fn new(config: TcpParams, ports: PortConfig, seed: u64) -> Self {
        let per_sec = config.tcp.challenge_acks_per_sec.max(1);
        TcpTable {
            ports: PortTable::new(Protocol::Tcp, ports, seed.rotate_left(17)),
            conns: HandleMap::default(),
            by_tuple: TupleMap::default(),
            listeners: HandleMap::default(),
            listener_by_port: HashMap::new(),
            timers: BTreeSet::new(),
            isn: IsnGenerator::new(seed.rotate_left(29) ^ 0x6528),
            cookies: CookieJar::new(seed.rotate_left(41) ^ 0x4987),
            challenge: TokenBucket::new(per_sec, Duration::from_micros(1_000_000 / u64::from(per_sec))),
            next_handle: 1,
            config,
        }
    }

    pub(super) fn new_handle(&mut self) -> TcpHandle {
        let h = TcpHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// The TCP port namespace.
    pub fn ports(&self) -> &PortTable {
        &self.ports
    }

    /// Consecutive retransmission timeouts of a connection, for tests of the
    /// retry limits.
    #[cfg(test)]
    pub(crate) fn retries(&self, handle: TcpHandle) -> Option<u32> {
        self.conns.get(&handle).map(|tcb| tcb.snd.retries)
    }

    /// Run `f` on one connection with the context it needs, then do the
    /// bookkeeping its state change calls for ([`after`](TcpTable::after)).
    /// `None` if the connection is gone.
    pub(super) fn with<R>(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        handle: TcpHandle,
        f: impl FnOnce(&mut Tcb, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let tcb = self.conns.get_mut(&handle)?;
        let before = tcb.state;
        let mut tcb_ctx = Ctx::new(ctx.reborrow(), out, &self.config, &mut self.challenge);
        let result = f(tcb, &mut tcb_ctx);
        self.after(ctx, out, handle, before);
        Some(result)
    }

    /// After a connection handled an event: hand a newly established passive open
    /// to its listener's accept queue, free what is closed and unheld, re-arm
    /// timers.
    fn after(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, handle: TcpHandle, before: State) {
        let Some(tcb) = self.conns.get_mut(&handle) else {
            return;
        };
        let state = tcb.state;
        let mut overflowed = false;
        // A passive open leaving SYN-RECEIVED (an active open there — a
        // simultaneous open — has no listener and is its program's already).
        if let (State::SynReceived, true, Some(l)) = (before, state != State::SynReceived, tcb.listener) {
            if let Some(listener) = self.listeners.get_mut(&l) {
                listener.half_open = listener.half_open.saturating_sub(1);
                if state.is_synchronized() {
                    if listener.accept_queue.len() < listener.backlog {
                        listener.accept_queue.push_back(handle);
                        ctx.notify(Event::Tcp(listener.handle));
                    } else {
                        // Not reached from segments (`accept_queue_full_for`
                        // holds them back); kept as the bound of last resort.
                        listener.overflows += 1;
                        ctx.counters.tcp_listen_overflow += 1;
                        tcb.listener = None;
                        tcb.attached = false;
                        overflowed = true;
                    }
                } else {
                    // Reset or timed out before it was established: RFC 9293
                    // §3.10.7.4 returns a passive open to LISTEN. No program ever
                    // held it, so it is freed below.
                    tcb.listener = None;
                    tcb.attached = false;
                }
            } else {
                // Its listener closed in the meantime: nobody will accept it.
                tcb.listener = None;
                tcb.attached = false;
            }
        }
        if state == State::Closed {
            let unheld = !tcb.attached;
            if unheld {
                self.free(ctx, handle);
                return;
            }
            // Still held by a program, which will see the error or end-of-file;
            // the 4-tuple is free for new connections already.
            let key = (tcb.local.port(), tcb.remote);
            if self.by_tuple.get(&key) == Some(handle) {
                self.by_tuple.remove(&key);
            }
        }
        if overflowed {
            // No room to wait for `accept`: reset rather than leave the peer hanging.
            self.with(ctx, out, handle, |tcb, ctx| tcb.abort(ctx, "accept queue full"));
            return;
        }
        self.reschedule(handle);
    }

    /// Forget a connection: its tuple, its timers, its ephemeral port, its events.
    pub(super) fn free(&mut self, ctx: &mut Context<'_>, handle: TcpHandle) {
        let Some(tcb) = self.conns.remove(&handle) else {
            return;
        };
        ctx.forget(Event::Tcp(handle));
        let key = (tcb.local.port(), tcb.remote);
        if self.by_tuple.get(&key) == Some(handle) {
            self.by_tuple.remove(&key);
        }
        if let Some(t) = tcb.scheduled {
            self.timers.remove(&(t, handle));
        }
        if tcb.owns_port {
            self.ports.release(tcb.local.port());
        }
        if let Some(listener) = tcb.listener.and_then(|l| self.listeners.get_mut(&l)) {
            if tcb.state == State::SynReceived {
                listener.half_open = listener.half_open.saturating_sub(1);
            }
            listener.accept_queue.retain(|&h| h != handle);
        }
        ctx.counters.tcp_closed += 1;
    }
}
