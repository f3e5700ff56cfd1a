//! The transmission control block (RFC 9293 §3.3.1): everything the stack knows
//! about one connection, and the helpers that write its segments.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use super::assembler::Assembler;
use super::buffers::SocketBuffers;
use super::congestion::CongestionAlgorithm;
use super::delivery_rate::DeliveryRate;
use super::rack::Rack;
use super::receiver::{AckState, Receiver};
use super::rtt::{RttEstimator, RttSampler};
use super::scoreboard::Scoreboard;
use super::send_buffer::SendBuffer;
use super::sender::Sender;
use super::sent_queue::SentQueue;
use super::seq::SeqNumber;
use super::state::State;
use super::timer_table::{Timer, TimerTable};
use super::{Keepalive, TcpConfig, TcpParams};
use crate::ip::IpOutput;
use crate::shared::{Context, DropReason, Event, TcpHandle, TokenBucket};
use crate::time::Instant;
use crate::wire::ip_protocol::TCP as PROTO_TCP;
use crate::wire::tcp::{self as wire, Flags, Options, Segment, TxChecksum};

/// The MSS assumed when the peer sends none (RFC 9293 §3.7.1).
pub(crate) const DEFAULT_MSS: usize = 536;
/// Option bytes a timestamp adds to every segment (10, padded to 12).
const TS_OPTION_LEN: usize = 12;

/// What a TCB needs from the rest of the stack while it processes one event:
/// the stack's [`Context`] (time, counters, events, the drop verdict — reached
/// through `Deref`, so `ctx.now` and `ctx.counters` read as before), plus IP
/// output, the TCP settings and the stack-wide challenge-ACK budget.
pub(crate) struct Ctx<'a> {
    base: Context<'a>,
    pub out: &'a mut IpOutput,
    pub config: &'a TcpParams,
    /// Stack-wide challenge-ACK budget (RFC 5961 §7).
    pub challenge: &'a mut TokenBucket,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        base: Context<'a>,
        out: &'a mut IpOutput,
        config: &'a TcpParams,
        challenge: &'a mut TokenBucket,
    ) -> Self {
        Ctx { base, out, config, challenge }
    }

    pub fn tcp(&self) -> &TcpConfig {
        &self.config.tcp
    }
}

impl<'a> std::ops::Deref for Ctx<'a> {
    type Target = Context<'a>;
    fn deref(&self) -> &Context<'a> {
        &self.base
    }
}

impl std::ops::DerefMut for Ctx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

/// Options agreed in the handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// Timestamps on every segment (RFC 7323 §3.2), with our clock's offset.
    pub timestamps: Option<u32>,
    /// SACK may be used (RFC 2018 §2).
    pub sack: bool,
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Tcb {
    pub(super) handle: TcpHandle,
    /// Our address and port, and the peer's, canonical (an IPv4 peer as IPv4,
    /// `ip/dual_stack.rs`): the family they share is the one the segments take.
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    /// Whether the program's socket is an IPv6 one (connected to, or accepted
    /// from a listener on, an IPv6 address): it names an IPv4 peer as
    /// `::ffff:a.b.c.d`.
    pub(super) names_v6: bool,
    pub(super) state: State,
    pub(super) snd: Sender,
    pub(super) rcv: Receiver,
    pub(super) negotiated: Negotiated,
    /// The options of the peer's SYN, to repeat our SYN,ACK's answer exactly.
    pub(super) peer_syn_options: Options,
    /// Every timer of this connection (retransmission, loss probe, reordering,
    /// persist, delayed ACK, TIME-WAIT, FIN-WAIT-2 linger).
    pub(super) timers: TimerTable,
    /// Zero-window probes sent since the window closed: each doubles the interval
    /// to the next (reset when the window opens).
    pub(super) persist_backoff: u32,
    /// Probes sent since the peer last acknowledged anything: past the retry limit
    /// the peer is taken for gone (reset by any ACK).
    pub(super) probes_unanswered: u32,
    /// Nagle's algorithm off (`set_nodelay(true)`).
    pub(super) nodelay: bool,
    /// A program holds this connection (accepted, or connecting). When it lets go
    /// the connection closes on its own and is freed when done.
    pub(super) attached: bool,
    /// The listener this connection came from, until it is accepted.
    pub(super) listener: Option<TcpHandle>,
    /// The error the program will see next (reset, refused, timed out).
    pub(super) error: Option<io::ErrorKind>,
    /// The path MTU as this connection knows it (RFC 1191): the link MTU at
    /// first, lowered by ICMP "fragmentation needed" or black-hole detection.
    pub(super) pmtu: usize,
    /// Keepalive of this connection (from `TcpConfig::keepalive`, then the program's).
    pub(super) keepalive: Keepalive,
    /// User timeout of this connection (RFC 5482).
    pub(super) user_timeout: Option<Duration>,
    /// Data that came with the peer's SYN in a simultaneous open, delivered
    /// once the connection is established (`queue_data_on_syn`).
    pub(super) syn_data: Option<bytes::Bytes>,
    /// The congestion control this connection builds its controller from (from
    /// `TcpConfig::congestion`, or the program's choice before data flows).
    pub(super) congestion: CongestionAlgorithm,
    /// The last ICMP soft error (RFC 1122 4.2.3.9), told to the program instead of
    /// `TimedOut` if the connection times out.
    pub(super) soft_error: Option<io::ErrorKind>,
    /// The program shut down reading: new data is answered with RST.
    pub(super) read_closed: bool,
    /// The local port was taken from the ephemeral range for this connection and is
    /// released with it.
    pub(super) owns_port: bool,
    /// Time of the last segment sent, for the idle restart of RFC 5681 §4.1.
    pub(super) last_send: Instant,
    /// The deadline under which the connection sits in the stack's timer set.
    pub(super) scheduled: Option<Instant>,
    /// Segments of this connection discarded on arrival: PAWS, out of window,
    /// data after close, out-of-order queue full (the `Drops` column of
    /// `tunstack ss`; each is also in its stack-wide counter).
    pub(super) dropped: u64,
    /// Every retransmission of this connection, SYN and FIN included
    /// (`tcpi_total_retrans`).
    pub(super) total_retrans: u32,
    /// Buffer sizes the program asked for (`buffers.rs`).
    pub(super) asked: SocketBuffers,
}

/// The IP and TCP headers' bytes in a segment to or from `peer`: 20 + 20 over
/// IPv4, 40 + 20 over IPv6 (RFC 8200 §3).
pub(crate) fn header_overhead(peer: &SocketAddr) -> usize {
    if peer.is_ipv6() {
        60
    } else {
        40
    }
}

/// Our MSS towards `peer`: what fits in the MTU after the IP and TCP headers
/// (RFC 9293 §3.7.1, 20-byte IPv4 or 40-byte IPv6 header; RFC 6691: options are
/// not counted, the sender leaves room for them).
/// On a link below 576 bytes this is less than the 536 a peer without an MSS
/// option is assumed to take: we never send segments our own link cannot carry
/// whole. (It once was raised to 536, and an MTU of 296 fragmented every full
/// segment; found by the `two_stacks` fuzz target.)
pub(crate) fn our_mss(config: &TcpParams, peer: &SocketAddr) -> u16 {
    u16::try_from(config.mtu.saturating_sub(header_overhead(peer)).max(1)).unwrap_or(u16::MAX)
}

/// The payload of a segment that carries no data ([`Tcb::emit`]).
pub(crate) const NO_DATA: Range<usize> = 0..0;

/// The smallest window-scale shift that lets `buffer` be advertised (RFC 7323 §2.3,
/// at most 14).
pub(crate) fn wscale_for(buffer: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

impl Tcb {
    /// A fresh TCB, CLOSED, with our ISN chosen and nothing agreed yet; the
    /// handshake begins with [`open`](Tcb::open).
    pub(crate) fn new(
        handle: TcpHandle,
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNumber,
        irs: SeqNumber,
        params: &TcpParams,
    ) -> Self {
        let config = &params.tcp;
        let cc = config.congestion.build(DEFAULT_MSS);
        Tcb {
            handle,
            local,
            remote,
            names_v6: remote.is_ipv6(),
            state: State::Closed,
            snd: Sender {
                iss,
                syn_sent_at: Instant::ZERO,
                snd_una: iss,
                snd_nxt: iss,
                snd_wnd: 0,
                snd_wl1: irs,
                snd_wl2: iss,
                max_snd_wnd: 0,
                snd_wscale: 0,
                mss: DEFAULT_MSS,
                buffer: SendBuffer::new(config.send_buffer).with_max(config.send_buffer_max),
                buf_seq: iss + 1,
                rtt: RttEstimator::new(config.rto.clone()),
                sampler: RttSampler::new(),
                cc,
                delivery: DeliveryRate::default(),
                dup_acks: 0,
                recovery: None,
                rto_recovery: None,
                tlp_end: None,
                scoreboard: Scoreboard::new(),
                sent: SentQueue::new(),
                rack: Rack::new(iss + 1),
                retries: 0,
            },
            rcv: Receiver::new(
                irs,
                config.recv_buffer,
                config.recv_buffer_max,
                Assembler::new(config.recv_buffer, config.max_ooo_ranges),
            ),
            negotiated: Negotiated::default(),
            peer_syn_options: Options::default(),
            timers: TimerTable::default(),
            persist_backoff: 0,
            probes_unanswered: 0,
            nodelay: false,
            attached: true,
            listener: None,
            error: None,
            keepalive: config.keepalive,
            user_timeout: config.user_timeout,
            pmtu: params.mtu,
            congestion: config.congestion.clone(),
            soft_error: None,
            syn_data: None,
            read_closed: false,
            owns_port: false,
            last_send: Instant::ZERO,
            scheduled: None,
            dropped: 0,
            total_retrans: 0,
            asked: SocketBuffers::default(),
        }
    }

    /// Use `algorithm` for congestion control: a fresh controller for the current
    /// MSS. Only before data is sent (nothing beyond our SYN): a controller
    /// replaced mid-flight would forget the path it learnt.
    pub(crate) fn set_congestion(&mut self, algorithm: CongestionAlgorithm) -> io::Result<()> {
        if self.snd.snd_nxt.since(self.snd.iss) > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "congestion control is chosen before data is sent",
            ));
        }
        self.snd.cc = algorithm.build(self.snd.mss);
        self.congestion = algorithm;
        Ok(())
    }

    /// Discard the segment being processed for `reason`: counted on this
    /// connection, and reported through `ctx` like every drop.
    pub(crate) fn discard(&mut self, ctx: &mut Ctx<'_>, reason: DropReason) {
        self.dropped += 1;
        ctx.drop(reason, format_args!("local={} remote={}", self.local, self.remote));
    }

    /// Adopt the peer's SYN options (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2/§3.2,
    /// RFC 2018 §2): each extension is used only if both sides offered it.
    pub(crate) fn negotiate(&mut self, config: &TcpParams, theirs: &Options, now: Instant) {
        let tcp = &config.tcp;
        if let (true, Some(shift)) = (tcp.window_scaling, theirs.window_scale) {
            // RFC 7323 §2.3: a shift above 14 is treated as 14.
            self.snd.snd_wscale = shift.min(14);
            self.rcv.rcv_wscale = wscale_for(self.rcv.tune.max.max(self.rcv.capacity));
        }
        if let (true, Some((tsval, _))) = (tcp.timestamps, theirs.timestamp) {
            self.negotiated.timestamps = Some(self.snd.iss.0);
            self.rcv.ts_recent = tsval;
        }
        self.negotiated.sack = tcp.sack && theirs.sack_permitted;
        let peer_mss = theirs.mss.map_or(DEFAULT_MSS, usize::from).max(64);
        self.rcv.peer_mss = peer_mss;
        let mss = self.send_mss();
        self.snd.mss = mss;
        self.snd.cc = self.congestion.build(mss);
        if tcp.round_recv_buffer_to_mss {
            // FreeBSD (tcp_mss): the buffer holds whole segments of the agreed
            // size; with timestamps FreeBSD counts 20 bytes of options per segment.
            let unit = self.rcv.peer_mss.min(self.pmtu.saturating_sub(header_overhead(&self.remote)));
            let unit = if self.negotiated.timestamps.is_some() { unit.saturating_sub(20) } else { unit }.max(1);
            self.rcv.capacity = self.rcv.capacity.div_ceil(unit) * unit;
        }
        let _ = now;
    }

    /// The most data one segment may carry: what the peer accepts (its MSS
    /// option) and the path carries (the path MTU less the IP and TCP headers,
    /// RFC 9293 §3.7.1), less the timestamp option every segment then carries
    /// (RFC 6691).
    pub(crate) fn send_mss(&self) -> usize {
        let overhead = if self.negotiated.timestamps.is_some() { TS_OPTION_LEN } else { 0 };
        let path = self.pmtu.saturating_sub(header_overhead(&self.remote));
        self.rcv.peer_mss.min(path).saturating_sub(overhead).max(1)
    }

    /// Our timestamp clock: milliseconds, offset per connection (RFC 7323 §5.4).
    fn ts_val(&self, now: Instant) -> Option<u32> {
        self.negotiated.timestamps.map(|offset| ((now.micros() / 1000) as u32).wrapping_add(offset))
    }

    /// The RTT a timestamp echo measures, if it echoes one of ours.
    pub(crate) fn ts_rtt(&self, now: Instant, tsecr: u32) -> Option<Duration> {
        let val = self.ts_val(now)?;
        let ms = val.wrapping_sub(tsecr);
        (tsecr != 0 && ms < 1 << 30).then(|| Duration::from_millis(u64::from(ms)))
    }

    /// Whether `tsecr` echoes a TSval we sent before `at` (at the timestamp clock's
    /// millisecond resolution).
    pub(crate) fn echo_predates(&self, tsecr: u32, at: Instant) -> bool {
        self.ts_val(at).is_some_and(|then| (tsecr.wrapping_sub(then) as i32) < 0)
    }

    /// Options for our SYN or SYN,ACK. On a SYN,ACK only what the peer offered.
    pub(crate) fn syn_options(&self, config: &TcpParams, now: Instant, peer: Option<&Options>) -> Options {
        let tcp = &config.tcp;
        let offered = |ours: bool, theirs: bool| ours && peer.is_none_or(|_| theirs);
        let ts = offered(tcp.timestamps, peer.is_some_and(|p| p.timestamp.is_some()));
        Options {
            mss: Some(our_mss(config, &self.remote)),
            window_scale: offered(tcp.window_scaling, peer.is_some_and(|p| p.window_scale.is_some()))
                .then(|| wscale_for(self.rcv.tune.max.max(self.rcv.capacity))),
            sack_permitted: offered(tcp.sack, peer.is_some_and(|p| p.sack_permitted)),
            timestamp: ts.then(|| {
                let val = ((now.micros() / 1000) as u32).wrapping_add(self.snd.iss.0);
                (val, peer.and_then(|p| p.timestamp).map_or(0, |(v, _)| v))
            }),
            sack_blocks: [None; 4],
        }
    }

    /// Write one segment of this connection: ACK number, window, timestamps and SACK
    /// blocks are filled in here, so every segment carries the latest. Its data
    /// is `payload`, a range of the send buffer (offsets from SND.UNA; `NO_DATA`
    /// for none), copied once, straight into the packet.
    pub(crate) fn emit(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: SeqNumber,
        mut flags: Flags,
        payload: Range<usize>,
        syn_options: Option<Options>,
    ) {
        let mut options = syn_options.unwrap_or_default();
        if syn_options.is_none() {
            if let Some(val) = self.ts_val(ctx.now) {
                options.timestamp = Some((val, self.rcv.ts_recent));
            }
            if self.negotiated.sack && flags.ack && !flags.rst {
                // RFC 2883 §4: a D-SACK block comes first; then RFC 2018 §4: the
                // most recent out-of-order blocks.
                let dsack = self.rcv.dsack.take();
                if dsack.is_some() {
                    ctx.counters.tcp_tx_dsack += 1;
                }
                let ooo = self.rcv.assembler.sack_blocks(4);
                // RFC 6691: options and data together fit the MSS; on a full data
                // segment some blocks may have to wait for the next ACK.
                let fit = self.sack_blocks_fitting(payload.len());
                let blocks = dsack.into_iter().chain(ooo.iter().copied()).take(fit);
                for (slot, (l, r)) in options.sack_blocks.iter_mut().zip(blocks) {
                    *slot = Some((l.0, r.0));
                }
            }
        }
        // The window field of a SYN is never scaled (RFC 7323 §2.2).
        let window = if flags.syn {
            u16::try_from(self.rcv.free()).unwrap_or(u16::MAX)
        } else if flags.rst {
            0
        } else {
            self.rcv.advertise(ctx.tcp().advertise_full_window)
        };
        if flags.syn {
            self.rcv.rcv_adv = self.rcv.rcv_nxt + usize::from(window);
            self.snd.syn_sent_at = ctx.now;
        }
        if flags.ack {
            self.rcv.ack = AckState::Idle;
            self.timers.stop(Timer::DelayedAck);
            self.rcv.unacked_segments = 0;
            self.rcv.last_ack_sent = self.rcv.rcv_nxt;
        }
        flags.psh = flags.psh && !payload.is_empty();
        let (data, tail) = self.snd.buffer.slices_at(payload.start, payload.len());
        let segment = Segment {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags.ack { self.rcv.rcv_nxt.0 } else { 0 },
            flags,
            window,
            options,
            payload: data,
        };
        send_segment_parts(ctx, self.local.ip(), self.remote.ip(), &segment, tail);
        self.last_send = ctx.now;
    }

    /// How many SACK blocks fit beside `payload` bytes: data and options together
    /// stay within the peer's MSS (RFC 6691), and `snd.mss` already leaves room
    /// for the timestamps. A SACK option costs 2 NOPs, kind and length (4 bytes)
    /// plus 8 bytes per block (RFC 2018 §3).
    pub(crate) fn sack_blocks_fitting(&self, payload: usize) -> usize {
        let room = self.snd.mss.saturating_sub(payload);
        (room.saturating_sub(4) / 8).min(4)
    }

    /// Option bytes the SACK blocks waiting to be reported will take in the next
    /// segment (D-SACK first, then out-of-order ranges; at most 3 beside
    /// timestamps, 4 without, RFC 2018 §3).
    pub(crate) fn pending_sack_len(&self) -> usize {
        if !self.negotiated.sack {
            return 0;
        }
        let most = if self.negotiated.timestamps.is_some() { 3 } else { 4 };
        let blocks = (usize::from(self.rcv.dsack.is_some()) + self.rcv.assembler.ranges()).min(most);
        if blocks == 0 {
            0
        } else {
            4 + 8 * blocks
        }
    }

    /// The earliest of this connection's timers.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.state == State::Closed {
            // Nothing left to time: a closed connection waits only for its program
            // to let go (found by the tcp_conn fuzz target: an ACK still marked due
            // when a RST closed the connection kept the timer loop spinning).
            return None;
        }
        // An ACK due now (not merely delayed) makes the connection due at once.
        let ack_now = matches!(self.rcv.ack, AckState::Now | AckState::EndOfBatch).then_some(Instant::ZERO);
        [self.timers.next(), ack_now].into_iter().flatten().min()
    }

    /// Stop every timer (the connection failed or was aborted).
    pub(crate) fn stop_timers(&mut self) {
        self.timers.stop_all();
        self.persist_backoff = 0;
        self.probes_unanswered = 0;
    }

    /// Sequence number of our FIN, once the program has shut down writing: it
    /// follows the last byte written. Known from the state alone (RFC 9293
    /// §3.3.2: the states after CLOSE have sent or will send a FIN).
    /// `seq` of ours counted from our initial sequence number, as tshark shows
    /// it (the SYN is 0, the first data byte 1): what trace events print.
    pub(crate) fn rel_snd(&self, seq: SeqNumber) -> u32 {
        seq.0.wrapping_sub(self.snd.iss.0)
    }

    /// `seq` of the peer's counted from its initial sequence number.
    pub(crate) fn rel_rcv(&self, seq: SeqNumber) -> u32 {
        seq.0.wrapping_sub(self.rcv.irs.0)
    }

    pub(crate) fn fin_seq(&self) -> Option<SeqNumber> {
        self.state.fin_sent().then(|| self.snd.buf_seq + self.snd.buffer.len())
    }

    /// Whether our FIN has been acknowledged.
    pub(crate) fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|fin| self.snd.snd_una > fin)
    }

    /// Tell a program waiting on this connection that something changed.
    pub(crate) fn notify(&self, ctx: &mut Ctx<'_>) {
        ctx.notify(Event::Tcp(self.handle));
    }
}

/// Write a segment to the IP layer and count it.
pub(crate) fn send_segment(ctx: &mut Ctx<'_>, src: IpAddr, dst: IpAddr, segment: &Segment<'_>) {
    send_segment_parts(ctx, src, dst, segment, &[]);
}

/// [`send_segment`] for a payload in two parts, `segment.payload` then `tail`
/// (the send buffer's ring may wrap): the segment is built straight into the
/// packet, so each payload byte is copied once on its way out.
pub(crate) fn send_segment_parts(ctx: &mut Ctx<'_>, src: IpAddr, dst: IpAddr, segment: &Segment<'_>, tail: &[u8]) {
    let Ctx { base, out, config, .. } = ctx;
    let layout = config.tcp.option_layout;
    let checksum = if config.tx_checksum_offload { TxChecksum::Offload } else { TxChecksum::Compute };
    let sent = match dst {
        // RFC 1191 §3: with path MTU discovery every segment carries Don't Fragment.
        IpAddr::V4(to) => out
            .send_built(base.counters, to, PROTO_TCP, config.tcp.path_mtu_discovery, |packet| {
                wire::emit_parts(packet, src, dst, segment, tail, layout, checksum)
            })
            .is_ok(),
        // IPv6 routers never fragment (RFC 8200 §5); segments fit our MTU by
        // their MSS, so only the source could, and it need not.
        IpAddr::V6(to) => {
            let mut built = out.buffer();
            let sent = wire::emit_parts(&mut built, src, dst, segment, tail, layout, checksum).is_some()
                && out.send_v6(base.counters, to, PROTO_TCP, &built).is_ok();
            out.recycle(built);
            sent
        }
    };
    if sent {
        base.counters.tcp_tx_segments += 1;
        if segment.flags.rst {
            base.counters.tcp_tx_rst += 1;
        }
    }
}

/// RFC 9293 §3.10.7.1: the answer to a segment for no connection: a RST that the
/// sender will accept, built only from the offending segment.
pub(crate) fn reset_for(ctx: &mut Ctx<'_>, local: IpAddr, remote: IpAddr, seg: &Segment<'_>) {
    if seg.flags.rst {
        return;
    }
    let (seq, ack, flags) = if seg.flags.ack {
        (seg.ack, 0, Flags { rst: true, ..Flags::default() })
    } else {
        let ack = SeqNumber(seg.seq) + seg.seg_len();
        (0, ack.0, Flags { rst: true, ack: true, ..Flags::default() })
    };
    let reply = Segment {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq,
        ack,
        flags,
        window: 0,
        options: Options::default(),
        payload: &[],
    };
    send_segment(ctx, local, remote, &reply);
}
