//! Finding the connection for a segment, and the bookkeeping after a connection
//! handled an event: passive opens from a listener, the accept queue, freeing
//! closed connections, re-arming timers.

use std::net::SocketAddrV4;

use tracing::debug;

use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{reset_for, Ctx, Tcb};
use super::TcpHandle;
use crate::ip::Datagram;
use crate::stack::{Event, Stack};
use crate::time::Instant;
use crate::wire::tcp::{self as wire, Flags, Segment, TcpError};

impl Stack {
    /// A TCP segment for us.
    pub(crate) fn tcp_input(&mut self, now: Instant, ip: &Datagram<'_>) {
        let seg = match wire::parse(ip.src, ip.dst, ip.payload) {
            Ok(s) => s,
            Err(e) => {
                let (counter, reason) = match e {
                    TcpError::BadHeader => (&mut self.counters.tcp_rx_bad_header, "tcp bad header"),
                    TcpError::BadChecksum => (&mut self.counters.tcp_rx_bad_checksum, "tcp bad checksum"),
                };
                *counter += 1;
                debug!(target: "tunstack::drop", reason, src = %ip.src, "tcp drop");
                self.drop_input(reason);
                return;
            }
        };
        self.counters.tcp_rx_segments += 1;
        let remote = SocketAddrV4::new(ip.src, seg.src_port);
        if let Some(&handle) = self.tcp.by_tuple.get(&(seg.dst_port, remote)) {
            if self.accept_queue_full_for(handle, &seg) {
                return;
            }
            if !self.time_wait_reuse(handle, &seg) {
                self.tcp_with(now, handle, |tcb, ctx| {
                    tcb.on_segment(ctx, &seg);
                    tcb.output(ctx);
                });
                return;
            }
        }
        if let Some(&listener) = self.tcp.listener_by_port.get(&seg.dst_port) {
            self.listen_input(now, listener, remote, &seg);
            return;
        }
        // RFC 9293 §3.10.7.1: nobody is here — answer with RST.
        self.counters.tcp_rx_no_socket += 1;
        debug!(target: "tunstack::drop", reason = "tcp no socket", port = seg.dst_port, "tcp drop");
        self.drop_input("tcp no socket");
        self.tcp_reset_for(now, &seg, ip.dst, ip.src);
    }

    /// RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191: a new SYN with a sequence
    /// number beyond the old connection's may reuse the 4-tuple at once. The old
    /// TCB is freed and the SYN goes to the listener.
    fn time_wait_reuse(&mut self, handle: TcpHandle, seg: &Segment<'_>) -> bool {
        let Some(tcb) = self.tcp.conns.get(&handle) else {
            return false;
        };
        let reusable = matches!(tcb.state, State::TimeWait { .. })
            && seg.flags.syn
            && !seg.flags.ack
            && SeqNumber(seg.seq) > tcb.rcv.rcv_nxt
            && self.tcp.listener_by_port.contains_key(&seg.dst_port);
        if reusable {
            debug!(target: "tunstack::tcp::state", local = %tcb.local, remote = %tcb.remote, from = "TIME-WAIT", to = "CLOSED", cause = "new SYN reuses the 4-tuple", "tcp state");
            self.tcp_free(handle);
        }
        reusable
    }

    /// A segment that would complete a passive open whose listener's accept queue
    /// is full is dropped, and the connection stays in SYN-RECEIVED: its SYN,ACK
    /// retransmission makes the peer repeat the ACK later, when `accept` may have
    /// made room. This is Linux's default (`tcp_abort_on_overflow` = 0): a burst of
    /// clients larger than the backlog is slowed down, not reset. RST and SYN
    /// still go through (RFC 9293 §3.10.7.4), so a half-open connection can be
    /// reset or its SYN,ACK repeated.
    fn accept_queue_full_for(&mut self, handle: TcpHandle, seg: &Segment<'_>) -> bool {
        let Some(tcb) = self.tcp.conns.get(&handle) else {
            return false;
        };
        if tcb.state != State::SynReceived || !seg.flags.ack || seg.flags.rst || seg.flags.syn {
            return false;
        }
        let Some(listener) = tcb.listener.and_then(|l| self.tcp.listeners.get_mut(&l)) else {
            return false;
        };
        if listener.accept_queue.len() < listener.backlog {
            return false;
        }
        listener.overflows += 1;
        let (len, limit) = (listener.accept_queue.len(), listener.backlog);
        self.counters.tcp_listen_overflow += 1;
        debug!(target: "tunstack::queue", queue = "accept", reason = "accept queue full", port = seg.dst_port, len, limit, "queue overflow");
        self.drop_input("accept queue full");
        true
    }

    /// RFC 9293 §3.10.7.2: a segment for a listener.
    fn listen_input(&mut self, now: Instant, listener: TcpHandle, remote: SocketAddrV4, seg: &Segment<'_>) {
        if seg.flags.rst {
            return;
        }
        let local = SocketAddrV4::new(self.config.addr, seg.dst_port);
        if seg.flags.ack {
            self.tcp_reset_for(now, seg, *local.ip(), *remote.ip());
            return;
        }
        if !seg.flags.syn {
            return;
        }
        let syn_backlog = self.config.tcp.syn_backlog;
        let Some(l) = self.tcp.listeners.get_mut(&listener) else {
            return;
        };
        if !l.has_room(syn_backlog) {
            l.overflows += 1;
            let len = l.half_open;
            self.counters.tcp_listen_overflow += 1;
            debug!(target: "tunstack::queue", queue = "syn backlog", reason = "listen backlog full", port = seg.dst_port, len, limit = syn_backlog, "queue overflow");
            self.drop_input("listen backlog full");
            return;
        }
        if self.tcp.conns.len() >= self.config.tcp.max_connections {
            self.counters.tcp_conn_limit += 1;
            let limit = self.config.tcp.max_connections;
            debug!(target: "tunstack::queue", queue = "connections", reason = "connection limit", port = seg.dst_port, limit, "queue overflow");
            self.drop_input("connection limit");
            return;
        }
        l.half_open += 1;
        let handle = self.tcp.new_handle();
        let iss = self.tcp.isn.isn(now, local, remote);
        let irs = SeqNumber(seg.seq);
        let mut tcb = Tcb::new(handle, local, remote, State::SynReceived, iss, irs, &self.config.tcp);
        tcb.listener = Some(listener);
        tcb.peer_syn_options = seg.options;
        self.counters.tcp_passive_opens += 1;
        self.tcp.by_tuple.insert((local.port(), remote), handle);
        self.tcp.conns.insert(handle, tcb);
        self.tcp_with(now, handle, |tcb, ctx| {
            tcb.negotiate(ctx.config, &seg.options, ctx.now);
            tcb.update_window(irs, iss, seg.window, true);
            tracing::debug!(target: "tunstack::tcp::state", local = %tcb.local, remote = %tcb.remote, from = "LISTEN", to = "SYN-RECEIVED", cause = "rcvd SYN", "tcp state");
            let options = tcb.syn_options(ctx.config, ctx.now, Some(&seg.options));
            tcb.emit(ctx, iss, Flags { syn: true, ack: true, ..Flags::default() }, &[], Some(options));
            tcb.snd.snd_nxt = iss + 1;
            tcb.snd.sampler.on_send(iss + 1, ctx.now, false);
            tcb.timers.retransmit = Some(ctx.now + tcb.snd.rtt.rto());
        });
    }

    /// Run `f` on one connection with a context borrowed from the stack, then do
    /// the bookkeeping its state change calls for.
    pub(crate) fn tcp_with<R>(
        &mut self,
        now: Instant,
        handle: TcpHandle,
        f: impl FnOnce(&mut Tcb, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let Stack { config, counters, out, events, tcp, rx_drop, .. } = self;
        let tcb = tcp.conns.get_mut(&handle)?;
        let before = tcb.state;
        let mut ctx = Ctx { now, config, counters, out, events, challenge: &mut tcp.challenge, rx_drop };
        let result = f(tcb, &mut ctx);
        self.tcp_after(now, handle, before);
        Some(result)
    }

    /// Answer a segment that has no connection with a RST.
    pub(crate) fn tcp_reset_for(
        &mut self,
        now: Instant,
        seg: &Segment<'_>,
        local: std::net::Ipv4Addr,
        remote: std::net::Ipv4Addr,
    ) {
        let Stack { config, counters, out, events, tcp, rx_drop, .. } = self;
        let mut ctx = Ctx { now, config, counters, out, events, challenge: &mut tcp.challenge, rx_drop };
        reset_for(&mut ctx, local, remote, seg);
    }

    /// After a connection handled an event: hand a newly established passive open
    /// to its listener's accept queue, free what is closed and unheld, re-arm
    /// timers.
    pub(crate) fn tcp_after(&mut self, now: Instant, handle: TcpHandle, before: State) {
        let Some(tcb) = self.tcp.conns.get_mut(&handle) else {
            return;
        };
        let state = tcb.state;
        let mut overflowed = false;
        if before == State::SynReceived && state != State::SynReceived {
            if let Some(listener) = tcb.listener.and_then(|l| self.tcp.listeners.get_mut(&l)) {
                listener.half_open = listener.half_open.saturating_sub(1);
                if state.is_synchronized() {
                    if listener.accept_queue.len() < listener.backlog {
                        listener.accept_queue.push_back(handle);
                        self.events.push(Event::Tcp(listener.handle));
                    } else {
                        // Not reached from segments (`accept_queue_full_for`
                        // holds them back); kept as the bound of last resort.
                        listener.overflows += 1;
                        self.counters.tcp_listen_overflow += 1;
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
                self.tcp_free(handle);
                return;
            }
            // Still held by a program, which will see the error or end-of-file;
            // the 4-tuple is free for new connections already.
            let key = (tcb.local.port(), tcb.remote);
            if self.tcp.by_tuple.get(&key) == Some(&handle) {
                self.tcp.by_tuple.remove(&key);
            }
        }
        if overflowed {
            // No room to wait for `accept`: reset rather than leave the peer hanging.
            self.tcp_with(now, handle, |tcb, ctx| tcb.abort(ctx, "accept queue full"));
            return;
        }
        self.tcp.reschedule(handle);
    }

    /// Forget a connection: its tuple, its timers, its ephemeral port.
    pub(crate) fn tcp_free(&mut self, handle: TcpHandle) {
        let Some(tcb) = self.tcp.conns.remove(&handle) else {
            return;
        };
        self.events.forget_tcp(handle);
        let key = (tcb.local.port(), tcb.remote);
        if self.tcp.by_tuple.get(&key) == Some(&handle) {
            self.tcp.by_tuple.remove(&key);
        }
        if let Some(t) = tcb.scheduled {
            self.tcp.timers.remove(&(t, handle));
        }
        if tcb.owns_port {
            self.tcp.ports.release(tcb.local.port());
        }
        if let Some(listener) = tcb.listener.and_then(|l| self.tcp.listeners.get_mut(&l)) {
            if tcb.state == State::SynReceived {
                listener.half_open = listener.half_open.saturating_sub(1);
            }
            listener.accept_queue.retain(|&h| h != handle);
        }
        self.counters.tcp_closed += 1;
    }

    /// Run every TCP timer due at `now`.
    pub(crate) fn tcp_on_timeout(&mut self, now: Instant) {
        // Take the due connections first and run each once: a connection that is
        // somehow still due afterwards waits for the next call instead of
        // spinning this one forever.
        let mut due = Vec::new();
        while let Some(&(deadline, handle)) = self.tcp.timers.first() {
            if deadline > now {
                break;
            }
            self.tcp.timers.pop_first();
            if let Some(tcb) = self.tcp.conns.get_mut(&handle) {
                tcb.scheduled = None;
            }
            due.push(handle);
        }
        for handle in due {
            self.tcp_with(now, handle, |tcb, ctx| {
                tcb.on_timer(ctx);
                tcb.output(ctx);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tcp::state::State;
    use crate::testutil::{drain, drain_parsed, ip_packet, ms, sa, stack, PEER, US};
    use crate::wire::tcp::{self as wire, Flags, Options, Segment};

    const PROTO_TCP: u8 = 6;
    const SYN: Flags = Flags { syn: true, ack: false, fin: false, rst: false, psh: false, urg: false };
    const ACK: Flags = Flags { syn: false, ack: true, fin: false, rst: false, psh: false, urg: false };

    /// One TCP segment from the peer's port 40000 to our port 7, in an IPv4 packet.
    fn from_peer(seq: u32, ack: u32, flags: Flags) -> Vec<u8> {
        from_port(40000, seq, ack, flags)
    }

    /// One TCP segment from the peer's `port` to our port 7, in an IPv4 packet.
    fn from_port(port: u16, seq: u32, ack: u32, flags: Flags) -> Vec<u8> {
        let seg = Segment {
            src_port: port,
            dst_port: 7,
            seq,
            ack,
            flags,
            window: 65535,
            options: Options::default(),
            payload: &[],
        };
        let mut tcp = Vec::new();
        wire::emit(&mut tcp, PEER, US, &seg).expect("segment fits");
        ip_packet(PEER, US, PROTO_TCP, 1, &tcp)
    }

    /// A listener's half-open connection that is reset (nmap's SYN scan does this
    /// to every open port) or whose SYN,ACK is never answered must be freed: nobody
    /// accepted it, so nobody else ever will.
    #[test]
    fn a_half_open_connection_that_is_reset_or_times_out_is_freed() {
        let mut s = stack();
        let listener = s.tcp_listen(sa(US, 7), 16).expect("listen");

        s.input(ms(1), &from_peer(1000, 0, Flags { syn: true, ..Flags::default() }));
        assert_eq!(drain(&mut s).len(), 1, "SYN,ACK");
        assert_eq!(s.tcp_connection_count(), 1);
        s.input(ms(2), &from_peer(1001, 0, Flags { rst: true, ..Flags::default() }));
        assert_eq!(s.tcp_connection_count(), 0, "reset in SYN-RECEIVED frees the connection");
        assert_eq!(s.tcp.listeners[&listener].half_open, 0);

        // Same again, but the peer never answers: SYN,ACK retransmissions run out.
        s.input(ms(3), &from_peer(5000, 0, Flags { syn: true, ..Flags::default() }));
        assert_eq!(s.tcp_connection_count(), 1);
        let mut now = 3;
        while s.tcp_connection_count() > 0 && now < 1_000_000 {
            now += 1000;
            s.handle_timeout(ms(now));
            drain(&mut s);
        }
        assert_eq!(s.tcp_connection_count(), 0, "a timed-out passive open is freed");
        assert_eq!(s.tcp.listeners[&listener].half_open, 0);
        assert!(s.tcp_ports().is_bound(7), "the listener carries on");
    }

    /// The sequence number of the only SYN,ACK the stack sent.
    fn syn_ack_seq(s: &mut crate::Stack) -> u32 {
        let sent = drain_parsed(s);
        assert_eq!(sent.len(), 1, "one SYN,ACK: {sent:?}");
        let seg = wire::parse(US, PEER, &sent[0].payload).expect("valid TCP");
        assert!(seg.flags.syn && seg.flags.ack, "{seg:?}");
        seg.seq
    }

    /// A burst larger than the accept queue is slowed down, not reset: the ACK
    /// that would complete a handshake while the queue is full is dropped, the
    /// connection stays SYN-RECEIVED, and a later ACK completes it once `accept`
    /// made room.
    #[test]
    fn an_ack_that_finds_the_accept_queue_full_is_dropped_not_reset() {
        let mut s = stack();
        let listener = s.tcp_listen(sa(US, 7), 1).expect("listen");
        s.input(ms(1), &from_port(40001, 100, 0, SYN));
        let iss_a = syn_ack_seq(&mut s);
        s.input(ms(1), &from_port(40002, 200, 0, SYN));
        let iss_b = syn_ack_seq(&mut s);

        s.input(ms(2), &from_port(40001, 101, iss_a.wrapping_add(1), ACK));
        assert_eq!(s.tcp.listeners[&listener].accept_queue.len(), 1);
        drain(&mut s); // what A's completion sends is not B's business
        s.input(ms(2), &from_port(40002, 201, iss_b.wrapping_add(1), ACK));
        let sent = drain_parsed(&mut s);
        assert!(sent.is_empty(), "no RST, nothing at all: {sent:?}");
        assert_eq!(s.counters().tcp_listen_overflow, 1);
        assert_eq!(s.counters().tcp_resets, 0);
        let b = s.tcp.by_tuple[&(7, std::net::SocketAddrV4::new(PEER, 40002))];
        assert_eq!(s.tcp_state(b), Some(State::SynReceived));

        s.tcp_accept(listener).expect("the first connection");
        s.input(ms(3), &from_port(40002, 201, iss_b.wrapping_add(1), ACK));
        assert_eq!(s.tcp_state(b), Some(State::Established));
        assert_eq!(s.tcp_accept(listener).expect("the second connection").0, b);
    }
}
