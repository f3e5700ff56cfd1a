//! Finding the connection for a segment (RFC 9293 §3.10.7): by its 4-tuple, else
//! the listener of its port (a passive open), else nobody — answered with RST.
//! Also the two cases where a segment for an existing connection goes elsewhere:
//! a SYN that reuses a TIME-WAIT connection's 4-tuple, and the ACK that would
//! complete a handshake while the accept queue is full.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::seq::SeqNumber;
use super::state::State;
use super::tcb::{reset_for, Ctx, Tcb};
use super::TcpTable;
use crate::ip::{Datagram, IpOutput};
use crate::shared::{Context, DropReason, TcpHandle};
use crate::wire::tcp::{self as wire, Segment, TcpError};

impl TcpTable {
    /// A TCP segment for us.
    pub fn input(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, ip: &Datagram<'_>) {
        let seg = match wire::parse(ip.src, ip.dst, ip.payload) {
            Ok(s) => s,
            Err(e) => {
                let reason = match e {
                    TcpError::BadHeader => DropReason::TcpBadHeader,
                    TcpError::BadChecksum => DropReason::TcpBadChecksum,
                };
                ctx.drop(reason, format_args!("src={}", ip.src));
                return;
            }
        };
        ctx.counters.tcp_rx_segments += 1;
        let remote = SocketAddrV4::new(ip.src, seg.src_port);
        if let Some(&handle) = self.by_tuple.get(&(seg.dst_port, remote)) {
            if self.accept_queue_full_for(ctx, handle, &seg) {
                return;
            }
            if !self.time_wait_reuse(ctx, handle, &seg) {
                self.with(ctx, out, handle, |tcb, ctx| {
                    tcb.on_segment(ctx, &seg);
                    tcb.output(ctx);
                });
                return;
            }
        }
        if let Some(&listener) = self.listener_by_port.get(&seg.dst_port) {
            self.listen_input(ctx, out, listener, remote, &seg);
            return;
        }
        // RFC 9293 §3.10.7.1: nobody is here — answer with RST.
        ctx.drop(DropReason::TcpNoSocket, format_args!("port={}", seg.dst_port));
        self.reset_for(ctx, out, &seg, ip.dst, ip.src);
    }

    /// RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191: a new SYN with a sequence
    /// number beyond the old connection's may reuse the 4-tuple at once. The old
    /// TCB is freed and the SYN goes to the listener.
    fn time_wait_reuse(&mut self, ctx: &mut Context<'_>, handle: TcpHandle, seg: &Segment<'_>) -> bool {
        let listening = self.listener_by_port.contains_key(&seg.dst_port);
        let Some(tcb) = self.conns.get_mut(&handle) else {
            return false;
        };
        let reusable = matches!(tcb.state, State::TimeWait)
            && seg.flags.syn
            && !seg.flags.ack
            && SeqNumber(seg.seq) > tcb.rcv.rcv_nxt
            && listening;
        if reusable {
            tcb.set_state(State::Closed, "new SYN reuses the 4-tuple");
            self.free(ctx, handle);
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
    fn accept_queue_full_for(&mut self, ctx: &mut Context<'_>, handle: TcpHandle, seg: &Segment<'_>) -> bool {
        let Some(tcb) = self.conns.get(&handle) else {
            return false;
        };
        if tcb.state != State::SynReceived || !seg.flags.ack || seg.flags.rst || seg.flags.syn {
            return false;
        }
        let Some(listener) = tcb.listener.and_then(|l| self.listeners.get_mut(&l)) else {
            return false;
        };
        if listener.accept_queue.len() < listener.backlog {
            return false;
        }
        listener.overflows += 1;
        let (len, limit) = (listener.accept_queue.len(), listener.backlog);
        ctx.overflow(DropReason::TcpAcceptQueueFull, len, limit, format_args!("port={}", seg.dst_port));
        true
    }

    /// RFC 9293 §3.10.7.2: a segment for a listener.
    fn listen_input(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        listener: TcpHandle,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) {
        if seg.flags.rst {
            return;
        }
        let local = SocketAddrV4::new(self.config.addr, seg.dst_port);
        if seg.flags.ack {
            self.reset_for(ctx, out, seg, *local.ip(), *remote.ip());
            return;
        }
        if !seg.flags.syn {
            return;
        }
        let syn_backlog = self.config.tcp.syn_backlog;
        let Some(l) = self.listeners.get_mut(&listener) else {
            return;
        };
        if !l.has_room(syn_backlog) {
            l.overflows += 1;
            let len = l.half_open;
            ctx.overflow(DropReason::TcpSynBacklogFull, len, syn_backlog, format_args!("port={}", seg.dst_port));
            return;
        }
        if self.conns.len() >= self.config.tcp.max_connections {
            let (len, limit) = (self.conns.len(), self.config.tcp.max_connections);
            ctx.overflow(DropReason::TcpConnectionLimit, len, limit, format_args!("port={}", seg.dst_port));
            return;
        }
        l.half_open += 1;
        let handle = self.new_handle();
        let iss = self.isn.isn(ctx.now, local, remote);
        let irs = SeqNumber(seg.seq);
        let mut tcb = Tcb::new(handle, local, remote, iss, irs, &self.config.tcp);
        tcb.listener = Some(listener);
        tcb.peer_syn_options = seg.options;
        ctx.counters.tcp_passive_opens += 1;
        self.by_tuple.insert((local.port(), remote), handle);
        self.conns.insert(handle, tcb);
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.negotiate(ctx.config, &seg.options, ctx.now);
            tcb.update_window(irs, iss, seg.window, true);
            tcb.open(ctx, State::SynReceived, "rcvd SYN");
        });
    }

    /// Answer a segment that has no connection with a RST.
    pub(super) fn reset_for(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        seg: &Segment<'_>,
        local: Ipv4Addr,
        remote: Ipv4Addr,
    ) {
        let mut tcb_ctx = Ctx::new(ctx.reborrow(), out, &self.config, &mut self.challenge);
        reset_for(&mut tcb_ctx, local, remote, seg);
    }
}

#[cfg(test)]
mod tests {
    use crate::tcp::State;
    use crate::testutil::{drain, drain_parsed, ip_packet, ms, sa, stack, PEER, US};
    use crate::wire::tcp::{self as wire, Flags, Options, Segment};

    use crate::wire::ip_protocol::TCP as PROTO_TCP;
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
        assert_eq!(s.tcp_table().listeners[&listener].half_open, 0);

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
        assert_eq!(s.tcp_table().listeners[&listener].half_open, 0);
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
        assert_eq!(s.tcp_table().listeners[&listener].accept_queue.len(), 1);
        drain(&mut s); // what A's completion sends is not B's business
        s.input(ms(2), &from_port(40002, 201, iss_b.wrapping_add(1), ACK));
        let sent = drain_parsed(&mut s);
        assert!(sent.is_empty(), "no RST, nothing at all: {sent:?}");
        assert_eq!(s.counters().tcp_listen_overflow, 1);
        assert_eq!(s.counters().tcp_resets, 0);
        let b = s.tcp_table().by_tuple[&(7, std::net::SocketAddrV4::new(PEER, 40002))];
        assert_eq!(s.tcp_state(b), Some(State::SynReceived));

        s.tcp_accept(listener).expect("the first connection");
        s.input(ms(3), &from_port(40002, 201, iss_b.wrapping_add(1), ACK));
        assert_eq!(s.tcp_state(b), Some(State::Established));
        assert_eq!(s.tcp_accept(listener).expect("the second connection").0, b);
    }
}
