//! Finding the connection for a segment (RFC 9293 §3.10.7): by its 4-tuple, else
//! the listener of its port (a passive open), else nobody — answered with RST.
//! Also the two cases where a segment for an existing connection goes elsewhere:
//! a SYN that reuses a TIME-WAIT connection's 4-tuple, and the ACK that would
//! complete a handshake while the accept queue is full. Segments of both
//! families meet here: over IPv4 from `input`, over IPv6 from `input_v6`; a
//! listener takes the SYNs of the families it serves (`ip/dual_stack.rs`).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::buffers::SocketBuffers;
use super::seq::SeqNumber;
use super::state::State;
use super::syncookie::{self, decode_ts, encode_ts, TsOptions};
use super::tcb::{our_mss, reset_for, send_segment, wscale_for, Ctx, Tcb, DEFAULT_MSS};
use super::{SynCookies, TcpTable};
use crate::ip::dual_stack::Family;
use crate::ip::{Datagram, IpOutput};
use crate::shared::{Context, DropReason, RxChecksum, TcpHandle};
use crate::time::Instant;
use crate::wire::tcp::{self as wire, Flags, Options, Segment, TcpError};

impl TcpTable {
    /// A TCP segment over IPv4 for us.
    pub fn input(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, ip: &Datagram<'_>) {
        let seg = match ctx.rx_checksum {
            RxChecksum::Verify => wire::parse(ip.src, ip.dst, ip.payload),
            RxChecksum::Vouched => wire::parse_vouched(ip.payload),
        };
        self.segment_in(ctx, out, IpAddr::V4(ip.src), seg);
    }

    /// A TCP segment over IPv6 for us (`dst` is our IPv6 address).
    pub fn input_v6(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        payload: &[u8],
    ) {
        let seg = match ctx.rx_checksum {
            RxChecksum::Verify => wire::parse_v6(src, dst, payload),
            RxChecksum::Vouched => wire::parse_vouched(payload),
        };
        self.segment_in(ctx, out, IpAddr::V6(src), seg);
    }

    /// A segment from `src` (parsed, or refused by parsing), to its connection,
    /// its listener, or a RST.
    fn segment_in(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        src: IpAddr,
        seg: Result<Segment<'_>, TcpError>,
    ) {
        let seg = match seg {
            Ok(s) => s,
            Err(e) => {
                let reason = match e {
                    TcpError::BadHeader => DropReason::TcpBadHeader,
                    TcpError::BadChecksum => DropReason::TcpBadChecksum,
                };
                ctx.drop(reason, format_args!("src={src}"));
                return;
            }
        };
        ctx.counters.tcp_rx_segments += 1;
        if seg.flags.syn && seg.flags.fin && self.config.tcp.drop_syn_fin {
            ctx.drop(DropReason::TcpSynFin, format_args!("src={src}"));
            return;
        }
        let remote = SocketAddr::new(src, seg.src_port);
        // Our address in the segment's family (IPv6 input delivers only ours).
        let local_ip = match src {
            IpAddr::V4(_) => IpAddr::V4(self.config.addr),
            IpAddr::V6(_) => match self.config.addr6 {
                Some(addr6) => IpAddr::V6(addr6),
                None => return,
            },
        };
        if let Some(handle) = self.by_tuple.get(&(seg.dst_port, remote)) {
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
        if let Some(listener) = self.listener_for(seg.dst_port, Family::of(&remote)) {
            let local = SocketAddr::new(local_ip, seg.dst_port);
            self.listen_input(ctx, out, listener, local, remote, &seg);
            return;
        }
        // RFC 9293 §3.10.7.1: nobody is here — answer with RST.
        ctx.drop(DropReason::TcpNoSocket, format_args!("port={}", seg.dst_port));
        self.reset_for(ctx, out, &seg, local_ip, src);
    }

    /// The listener on `port` that takes SYNs of `family`.
    fn listener_for(&self, port: u16, family: Family) -> Option<TcpHandle> {
        self.listener_by_port.get(&port)?.get(family)
    }

    /// RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191: a new SYN with a sequence
    /// number beyond the old connection's may reuse the 4-tuple at once. The old
    /// TCB is freed and the SYN goes to the listener.
    fn time_wait_reuse(&mut self, ctx: &mut Context<'_>, handle: TcpHandle, seg: &Segment<'_>) -> bool {
        let family = self.conns.get(&handle).map(|tcb| Family::of(&tcb.remote));
        let listening = family.is_some_and(|f| self.listener_for(seg.dst_port, f).is_some());
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
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
    ) {
        if seg.flags.rst {
            return;
        }
        if seg.flags.ack && seg.flags.syn && !self.config.tcp.rst_syn_ack_to_listener {
            ctx.drop(DropReason::TcpSynAckToListener, format_args!("port={}", seg.dst_port));
            return;
        }
        if seg.flags.ack {
            // The ACK of a SYN,ACK we sent with a cookie, if we sent any lately.
            if !seg.flags.syn && self.cookie_expected(listener, ctx.now) {
                if self.accept_cookie(ctx, out, listener, local, remote, seg) {
                    return;
                }
                ctx.counters.tcp_syncookies_recv_failed += 1;
            }
            self.reset_for(ctx, out, seg, local.ip(), remote.ip());
            return;
        }
        if !seg.flags.syn {
            return;
        }
        let (syn_backlog, cookies) = (self.config.tcp.syn_backlog, self.config.tcp.syn_cookies);
        let Some(l) = self.listeners.get_mut(&listener) else {
            return;
        };
        let (buffers, names_v6) = (l.buffers, l.binding.is_v6_socket());
        // Like Linux, a full accept queue refuses even a cookie: the program is
        // not keeping up, and a cookie connection would only wait there too.
        if l.accept_queue.len() >= l.backlog {
            l.overflows += 1;
            let (len, limit) = (l.accept_queue.len(), l.backlog);
            ctx.overflow(DropReason::TcpAcceptQueueFull, len, limit, format_args!("port={} (SYN)", seg.dst_port));
            return;
        }
        let full = l.half_open >= syn_backlog;
        if cookies == SynCookies::Always || (full && cookies == SynCookies::WhenFull) {
            l.cookie_sent_at = Some(ctx.now);
            self.send_cookie(ctx, out, local, remote, seg, buffers);
            return;
        }
        if full {
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
        let mut tcb = Tcb::new(handle, local, remote, iss, irs, &self.config);
        tcb.set_buffers(buffers);
        tcb.names_v6 = names_v6;
        tcb.listener = Some(listener);
        tcb.peer_syn_options = seg.options;
        ctx.counters.tcp_passive_opens += 1;
        self.by_tuple.insert((local.port(), remote), handle);
        self.conns.insert(handle, Box::new(tcb));
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.negotiate(ctx.config, &seg.options, ctx.now);
            tcb.update_window(irs, iss, seg.window, true);
            tcb.open(ctx, State::SynReceived, "rcvd SYN");
        });
    }

    /// Whether an ACK to `listener` may be returning a cookie: it sent one within
    /// the last two cookie periods (a cookie's life), or sends them always.
    fn cookie_expected(&self, listener: TcpHandle, now: Instant) -> bool {
        let sent = self.listeners.get(&listener).and_then(|l| l.cookie_sent_at);
        self.config.tcp.syn_cookies == SynCookies::Always
            || sent.is_some_and(|at| now.saturating_duration_since(at) < syncookie::PERIOD * 2)
    }

    /// RFC 4987 §3.6: answer a SYN with a SYN,ACK whose ISN is a cookie, keeping
    /// nothing. Window scale and SACK-permitted ride in the TSval's low bits, so
    /// they are offered only when the peer offered timestamps.
    fn send_cookie(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
        buffers: SocketBuffers,
    ) {
        let tcp = &self.config.tcp;
        // The receive buffer the connection will have: the listener's, if the
        // program set one (`buffers.rs`), else the configured one, tuned.
        let (window, scale_for) = match buffers.recv {
            Some(bytes) => (bytes, bytes),
            None => (tcp.recv_buffer, tcp.recv_buffer_max.max(tcp.recv_buffer)),
        };
        let peer_isn = SeqNumber(seg.seq);
        let iss = self.cookies.make(ctx.now, local, remote, peer_isn, seg.options.mss.unwrap_or(DEFAULT_MSS as u16));
        let carried = TsOptions {
            window_scale: (tcp.window_scaling && seg.options.window_scale.is_some()).then(|| wscale_for(scale_for)),
            sack_permitted: tcp.sack && seg.options.sack_permitted,
        };
        let timestamp = seg.options.timestamp.filter(|_| tcp.timestamps).map(|(tsval, _)| {
            // Our clock, offset by the ISS as every connection's is (tcb.rs).
            let clock = ((ctx.now.micros() / 1000) as u32).wrapping_add(iss.0);
            (encode_ts(clock, carried), tsval)
        });
        let carried =
            if timestamp.is_some() { carried } else { TsOptions { window_scale: None, sack_permitted: false } };
        let reply = Segment {
            src_port: local.port(),
            dst_port: remote.port(),
            seq: iss.0,
            ack: (peer_isn + 1).0,
            flags: Flags { syn: true, ack: true, ..Flags::default() },
            // What a new connection's SYN,ACK offers: its whole buffer, unscaled.
            window: u16::try_from(window).unwrap_or(u16::MAX),
            options: Options {
                mss: Some(our_mss(&self.config, &remote)),
                window_scale: carried.window_scale,
                sack_permitted: carried.sack_permitted,
                timestamp,
                sack_blocks: [None; 4],
            },
            payload: &[],
        };
        ctx.counters.tcp_syncookies_sent += 1;
        let mut tcb_ctx = Ctx::new(ctx.reborrow(), out, &self.config, &mut self.challenge);
        send_segment(&mut tcb_ctx, local.ip(), remote.ip(), &reply);
    }

    /// An ACK that may return a cookie: if it checks, build the connection the
    /// SYN would have made — in SYN-RECEIVED with the options the cookie kept —
    /// and let the ACK complete it the usual way. Returns whether the cookie was
    /// valid (the ACK then went no further here).
    fn accept_cookie(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        listener: TcpHandle,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Segment<'_>,
    ) -> bool {
        let peer_isn = SeqNumber(seg.seq) - 1;
        let iss = SeqNumber(seg.ack) - 1;
        let Some(cookie) = self.cookies.check(ctx.now, local, remote, peer_isn, iss) else {
            return false;
        };
        let (conn_limit, syn_backlog) = (self.config.tcp.max_connections, self.config.tcp.syn_backlog);
        let conns = self.conns.len();
        let Some(l) = self.listeners.get_mut(&listener) else {
            return false;
        };
        // A full accept queue: the peer has proven its address (it returned our
        // cookie), so it may wait in SYN-RECEIVED like any half-open connection —
        // our SYN,ACK retransmissions make it repeat the ACK once `accept` made
        // room. Dropping the ACK alone would leave a peer that waits for us to
        // speak (daytime, SMTP) hanging forever, since no state of ours would
        // retry. Those waiting peers are bounded by the accept backlog.
        let queue_full = l.accept_queue.len() >= l.backlog;
        let (buffers, names_v6) = (l.buffers, l.binding.is_v6_socket());
        if conns >= conn_limit || (queue_full && l.half_open >= syn_backlog + l.backlog) {
            l.overflows += 1;
            let (len, limit) = (l.accept_queue.len(), l.backlog);
            ctx.overflow(DropReason::TcpAcceptQueueFull, len, limit, format_args!("port={} (cookie)", seg.dst_port));
            return true;
        }
        let carried = seg.options.timestamp.map(|(_, tsecr)| decode_ts(tsecr));
        let options = Options {
            mss: Some(cookie.mss),
            window_scale: carried.and_then(|c| c.window_scale),
            sack_permitted: carried.is_some_and(|c| c.sack_permitted),
            timestamp: seg.options.timestamp.map(|(tsval, _)| (tsval, 0)),
            sack_blocks: [None; 4],
        };
        l.half_open += 1;
        ctx.counters.tcp_syncookies_recv_ok += 1;
        ctx.counters.tcp_passive_opens += 1;
        let handle = self.new_handle();
        let mut tcb = Tcb::new(handle, local, remote, iss, peer_isn, &self.config);
        tcb.set_buffers(buffers);
        tcb.names_v6 = names_v6;
        tcb.listener = Some(listener);
        tcb.peer_syn_options = options;
        self.by_tuple.insert((local.port(), remote), handle);
        self.conns.insert(handle, Box::new(tcb));
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.negotiate(ctx.config, &options, ctx.now);
            tcb.resume_from_cookie(ctx, queue_full);
        });
        if queue_full {
            if let Some(l) = self.listeners.get_mut(&listener) {
                l.overflows += 1;
                let (len, limit) = (l.accept_queue.len(), l.backlog);
                ctx.overflow(
                    DropReason::TcpAcceptQueueFull,
                    len,
                    limit,
                    format_args!("port={} (cookie)", seg.dst_port),
                );
            }
            return true;
        }
        // A second event, so that the bookkeeping after it sees SYN-RECEIVED left
        // for ESTABLISHED and hands the connection to the accept queue.
        self.with(ctx, out, handle, |tcb, ctx| {
            tcb.on_segment(ctx, seg);
            tcb.output(ctx);
        });
        true
    }

    /// Answer a segment that has no connection with a RST.
    pub(super) fn reset_for(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        seg: &Segment<'_>,
        local: IpAddr,
        remote: IpAddr,
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
        let b = s.tcp_table().by_tuple.get(&(7, std::net::SocketAddr::from((PEER, 40002)))).expect("indexed");
        assert_eq!(s.tcp_state(b), Some(State::SynReceived));

        s.tcp_accept(listener).expect("the first connection");
        s.input(ms(3), &from_port(40002, 201, iss_b.wrapping_add(1), ACK));
        assert_eq!(s.tcp_state(b), Some(State::Established));
        assert_eq!(s.tcp_accept(listener).expect("the second connection").0, b);
    }
}
