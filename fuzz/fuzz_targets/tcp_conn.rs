//! Fuzz a live TCP connection: after a real handshake with a listener on port 80,
//! the fuzzer plays the peer and the program at once — segments with arbitrary
//! flags, options, payloads and sequence numbers (aimed near the connection's
//! current numbers, so they reach the state machine rather than bounce off the
//! window check), raw bytes as IP packets, time steps, and the program's calls
//! (send, receive, shutdown, close, accept).
//!
//! Checked after every step:
//! * everything the stack sends is a valid IPv4/TCP packet from its address, with
//!   a correct checksum, no bigger than the MTU;
//! * the connection table stays within the listener's bounds;
//! * what the program reads is exactly what the peer sent in order, never more
//!   (no byte invented, duplicated or reordered).
//!
//! And at the end, termination: once the program closes everything, running the
//! timers empties the connection table within bounded virtual time (retry limits,
//! FIN-WAIT-2 linger and TIME-WAIT all end) and frees every port.
#![no_main]

use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tunstack::TcpHandle;
use tunstack::wire::ipv4::{self, Ipv4Repr};
use tunstack::wire::tcp::{self, Flags, Options, Segment};
use tunstack::{Instant, Stack, StackConfig};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_PORT: u16 = 40000;
const MTU: usize = 1500;
const PEER_ISS: u32 = 1_000_000;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A segment from the peer: seq/ack relative to what the peer has sent and
    /// what the stack has sent, so small deltas land in or near the window.
    Segment {
        other_port: bool,
        seq_delta: i16,
        ack_delta: i16,
        flags: u8,
        window: u16,
        mss: Option<u16>,
        window_scale: Option<u8>,
        timestamp: Option<(u32, u32)>,
        sack_permitted: bool,
        sacks: [Option<(i16, u16)>; 3],
        payload_len: u16,
    },
    /// Arbitrary bytes as an IP packet.
    Raw(Vec<u8>),
    /// Let virtual time pass and run the timers.
    Advance(u16),
    Send(u16),
    Recv(u16),
    Shutdown(bool),
    Close,
    Accept,
}

/// The fuzzer's peer: what it sent, what it saw of the stack.
struct Peer {
    /// Next sequence number the peer sends (its SND.NXT).
    snd_nxt: u32,
    /// Highest sequence number the stack has sent + its length (the stack's SND.NXT).
    stack_nxt: u32,
    /// Every data byte the peer sent, by offset from its ISS + 1 (for the
    /// integrity check): `None` where it sent nothing yet.
    sent: Vec<Option<u8>>,
}

fuzz_target!(|ops: Vec<Op>| {
    let config = StackConfig { addr: US, mtu: MTU, ..StackConfig::default() };
    let max_conns = 4;
    let mut config = config;
    config.tcp.syn_backlog = max_conns;
    config.tcp.accept_backlog = max_conns;
    config.tcp.msl = Duration::from_secs(1);
    let mut stack = Stack::new(config);
    let mut now = Instant::from_millis(1);
    let listener = stack.tcp_listen(sa(US, 80), max_conns).expect("port 80 is free");

    // A real handshake first.
    let mut peer = Peer { snd_nxt: PEER_ISS, stack_nxt: 0, sent: Vec::new() };
    let syn = Segment { flags: Flags { syn: true, ..Flags::default() }, ..segment(PEER_PORT, PEER_ISS, 0, 65535) };
    stack.input(now, &packet(&syn));
    peer.snd_nxt = PEER_ISS.wrapping_add(1);
    drain(&mut stack, &mut peer);
    let ack = Segment { flags: ack_flags(), ..segment(PEER_PORT, peer.snd_nxt, peer.stack_nxt, 65535) };
    stack.input(now, &packet(&ack));
    drain(&mut stack, &mut peer);
    let (mut conn, _) = stack.tcp_accept(listener).expect("the handshake completed");
    let mut conns: Vec<TcpHandle> = vec![conn];
    let mut received: Vec<u8> = Vec::new();

    for op in ops.into_iter().take(64) {
        match op {
            Op::Segment {
                other_port,
                seq_delta,
                ack_delta,
                flags,
                window,
                mss,
                window_scale,
                timestamp,
                sack_permitted,
                sacks,
                payload_len,
            } => {
                let seq = peer.snd_nxt.wrapping_add_signed(i32::from(seq_delta));
                let ack = peer.stack_nxt.wrapping_add_signed(i32::from(ack_delta));
                let mut sack_blocks = [None; 4];
                for (slot, block) in sack_blocks.iter_mut().zip(sacks) {
                    *slot = block.map(|(start, len)| {
                        let l = peer.stack_nxt.wrapping_add_signed(i32::from(start));
                        (l, l.wrapping_add(u32::from(len)))
                    });
                }
                let options = Options { mss, window_scale, timestamp, sack_permitted, sack_blocks };
                let len = usize::from(payload_len).min(MTU - 100);
                let payload: Vec<u8> = (0..len).map(|i| seq.wrapping_add(i as u32) as u8).collect();
                let port = if other_port { PEER_PORT + 1 } else { PEER_PORT };
                let seg = Segment {
                    flags: Flags {
                        fin: flags & 1 != 0,
                        syn: flags & 2 != 0,
                        rst: flags & 4 != 0,
                        psh: flags & 8 != 0,
                        ack: flags & 16 != 0,
                        urg: flags & 32 != 0,
                    },
                    options,
                    payload: &payload,
                    ..segment(port, seq, ack, window)
                };
                let Some(bytes) = try_packet(&seg) else { continue };
                if port == PEER_PORT {
                    // The payload is a function of the sequence number, so any
                    // byte the stack delivers can be checked against it.
                    // Offset of the first payload byte from the first data byte;
                    // bytes before that (at the SYN's number or below) are not data.
                    let offset = seq.wrapping_sub(PEER_ISS.wrapping_add(1)) as i32;
                    if offset > -(1 << 20) && offset < 1 << 20 && !seg.flags.syn {
                        for (i, b) in payload.iter().enumerate() {
                            let Ok(at) = usize::try_from(offset + i as i32) else { continue };
                            if peer.sent.len() <= at {
                                peer.sent.resize(at + 1, None);
                            }
                            peer.sent[at] = Some(*b);
                        }
                        let end = seq.wrapping_add(len as u32).wrapping_add(u32::from(seg.flags.fin));
                        if (end.wrapping_sub(peer.snd_nxt) as i32) > 0 {
                            peer.snd_nxt = end;
                        }
                    }
                }
                stack.input(now, &bytes);
            }
            Op::Raw(bytes) => {
                stack.input(now, &bytes);
            }
            Op::Advance(ms) => {
                now = now + Duration::from_millis(u64::from(ms));
                stack.handle_timeout(now);
            }
            Op::Send(len) => {
                let data = vec![0x5a; usize::from(len)];
                let _ = stack.tcp_send(now, conn, &data);
            }
            Op::Recv(len) => {
                let mut buf = vec![0; usize::from(len)];
                if let Ok(n) = stack.tcp_recv(now, conn, &mut buf) {
                    received.extend_from_slice(&buf[..n]);
                }
            }
            Op::Shutdown(write_only) => {
                let how = if write_only { Shutdown::Write } else { Shutdown::Both };
                let _ = stack.tcp_shutdown(now, conn, how);
            }
            Op::Close => stack.tcp_close(now, conn),
            Op::Accept => {
                if let Ok((h, _)) = stack.tcp_accept(listener) {
                    conns.push(h);
                    conn = h;
                }
            }
        }
        drain(&mut stack, &mut peer);
        assert!(stack.tcp_connection_count() <= 1 + 2 * max_conns, "{} connections", stack.tcp_connection_count());
        // Integrity: what the program read of the first connection is what the
        // peer sent, from the start, in order (bytes of later connections on
        // other ports are not tracked, and `conn` may have moved on to them).
        if conn == conns[0] {
            for (i, &b) in received.iter().enumerate() {
                assert_eq!(peer.sent.get(i).copied().flatten(), Some(b), "byte {i} read but never sent so");
            }
        }
    }

    // Termination: close everything, then run the timers.
    for &h in &conns {
        stack.tcp_close(now, h);
    }
    stack.tcp_close_listener(now, listener);
    drain(&mut stack, &mut peer);
    let limit = now + Duration::from_secs(3 * 3600);
    let mut rounds = 0;
    while let Some(deadline) = stack.poll_deadline() {
        assert!(deadline <= limit, "a timer still pending hours after close");
        rounds += 1;
        assert!(rounds < 100_000, "timers keep firing without an end");
        now = now.max(deadline);
        stack.handle_timeout(now);
        drain(&mut stack, &mut peer);
    }
    assert_eq!(stack.tcp_connection_count(), 0, "connections left after every timer ran");
    assert_eq!(stack.tcp_ports().iter().count(), 0, "a TCP port is still bound");
});

/// Take everything the stack sent: check it, and learn the stack's SND.NXT.
fn drain(stack: &mut Stack, peer: &mut Peer) {
    while stack.poll_event().is_some() {}
    while let Some(p) = stack.poll_transmit() {
        assert!(p.len() <= MTU, "{} bytes for a {MTU}-byte MTU", p.len());
        let ip = ipv4::parse(&p).expect("we only send valid IPv4");
        assert_eq!(ip.src, US);
        let seg = tcp::parse(ip.src, ip.dst, ip.payload).expect("we only send valid TCP");
        if seg.dst_port == PEER_PORT && !seg.flags.rst {
            let end = seg.seq.wrapping_add(seg.seg_len() as u32);
            if peer.stack_nxt == 0 || (end.wrapping_sub(peer.stack_nxt) as i32) > 0 {
                peer.stack_nxt = end;
            }
        }
    }
}

fn ack_flags() -> Flags {
    Flags { ack: true, ..Flags::default() }
}

fn segment(src_port: u16, seq: u32, ack: u32, window: u16) -> Segment<'static> {
    Segment {
        src_port,
        dst_port: 80,
        seq,
        ack,
        flags: ack_flags(),
        window,
        options: Options::default(),
        payload: &[],
    }
}

fn try_packet(seg: &Segment<'_>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    tcp::emit(&mut body, PEER, US, seg)?;
    let repr = Ipv4Repr { src: PEER, dst: US, protocol: 6, ttl: 64, id: 1, dont_fragment: true };
    let mut out = Vec::new();
    ipv4::emit(&mut out, &repr, 0, false, &body)?;
    Some(out)
}

fn packet(seg: &Segment<'_>) -> Vec<u8> {
    try_packet(seg).expect("a plain segment fits")
}

fn sa(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}
