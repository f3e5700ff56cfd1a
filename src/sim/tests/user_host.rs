//! A host that is not tunstack: a minimal TCP responder written against
//! [`Host`], the way a user tests their own implementation against ours.
//!
//! [`Responder`] knows one connection at a time and no timers: it answers a SYN
//! with a SYN,ACK, acknowledges data that arrives in order and echoes it, and
//! answers a FIN with its own FIN. About what a first prototype of a stack can
//! do — and enough for tunstack's client to connect, exchange bytes and close.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::*;
use crate::shared::DropReason;
use crate::wire::tcp::{self, Flags, Options, Segment};
use crate::wire::{ip_protocol, ipv4};

/// The one connection the responder has: where the peer is and the sequence
/// numbers of both directions.
struct Connection {
    peer: Ipv4Addr,
    peer_port: u16,
    snd_nxt: u32,
    rcv_nxt: u32,
}

struct Responder {
    addr: Ipv4Addr,
    port: u16,
    connection: Option<Connection>,
    out: VecDeque<Vec<u8>>,
    /// Every byte echoed.
    echoed: Vec<u8>,
    fin_received: bool,
}

impl Responder {
    fn new(addr: Ipv4Addr, port: u16) -> Self {
        Responder { addr, port, connection: None, out: VecDeque::new(), echoed: Vec::new(), fin_received: false }
    }

    /// Queue one segment to the connection's peer.
    fn send(&mut self, flags: Flags, options: Options, payload: &[u8]) {
        let Some(c) = &self.connection else { return };
        let segment = Segment {
            src_port: self.port,
            dst_port: c.peer_port,
            seq: c.snd_nxt,
            ack: c.rcv_nxt,
            flags,
            window: 8192,
            options,
            payload,
        };
        let mut bytes = Vec::new();
        tcp::emit(&mut bytes, self.addr, c.peer, &segment).expect("a small segment fits");
        let repr = ipv4::Ipv4Repr {
            src: self.addr,
            dst: c.peer,
            protocol: ip_protocol::TCP,
            ttl: 64,
            id: 0,
            dont_fragment: true,
        };
        let mut packet = Vec::new();
        ipv4::emit(&mut packet, &repr, 0, false, &bytes).expect("a small packet fits");
        self.out.push_back(packet);
    }

    fn segment(&mut self, src: Ipv4Addr, s: &Segment<'_>) -> Option<DropReason> {
        let ack = Flags { ack: true, ..Flags::default() };
        if s.flags.syn && !s.flags.ack {
            let iss = 1_000_000;
            self.connection =
                Some(Connection { peer: src, peer_port: s.src_port, snd_nxt: iss, rcv_nxt: s.seq.wrapping_add(1) });
            self.send(Flags { syn: true, ..ack }, Options { mss: Some(1460), ..Options::default() }, &[]);
            if let Some(c) = &mut self.connection {
                c.snd_nxt = iss.wrapping_add(1);
            }
            return None;
        }
        let c = self.connection.as_mut().filter(|c| c.peer == src && c.peer_port == s.src_port)?;
        if s.seq != c.rcv_nxt {
            self.send(ack, Options::default(), &[]); // out of order: say what we expect
            return Some(DropReason::TcpOutOfWindow);
        }
        c.rcv_nxt = c.rcv_nxt.wrapping_add(s.payload.len() as u32 + u32::from(s.flags.fin));
        if !s.payload.is_empty() {
            self.send(Flags { psh: true, ..ack }, Options::default(), s.payload);
            self.echoed.extend_from_slice(s.payload);
        }
        if s.flags.fin {
            self.fin_received = true;
            self.send(Flags { fin: true, ..ack }, Options::default(), &[]);
        }
        if let Some(c) = &mut self.connection {
            c.snd_nxt = c.snd_nxt.wrapping_add(s.payload.len() as u32 + u32::from(s.flags.fin));
        }
        None
    }
}

impl Host for Responder {
    fn input(&mut self, _now: Instant, packet: &[u8]) -> Option<DropReason> {
        let Ok(ip) = ipv4::parse(packet) else { return Some(DropReason::IpTruncated) };
        if ip.protocol != ip_protocol::TCP {
            return Some(DropReason::IpUnknownProtocol);
        }
        match tcp::parse(ip.src, ip.dst, ip.payload) {
            Ok(s) if s.dst_port == self.port => self.segment(ip.src, &s),
            Ok(_) => Some(DropReason::TcpNoSocket),
            Err(_) => Some(DropReason::TcpBadChecksum),
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}

#[test]
fn tunstacks_client_talks_to_a_hand_written_responder() {
    let config = StackConfig { addr: ADDR_A, seed: 5, ..StackConfig::default() };
    let mut sim = Sim::from_hosts(Stack::new(config), Responder::new(ADDR_B, 7), LinkConfig::default());
    sim.check_invariants(true);
    sim.record();
    let conn = sim.a.tcp_connect(sim.now(), SocketAddr::from((ADDR_B, 7))).expect("a SYN goes out");
    let (mut sent, mut echo, mut closed) = (0, Vec::new(), false);
    let message = b"hello, responder";
    let done = sim.run_until(Duration::from_secs(10), |sim| {
        let now = sim.now();
        if sim.a.tcp_state(conn) == Some(State::Established) && sent < message.len() {
            sent += sim.a.tcp_send(now, conn, &message[sent..]).unwrap_or(0);
        }
        let mut buf = [0; 64];
        while let Ok(n @ 1..) = sim.a.tcp_recv(now, conn, &mut buf) {
            echo.extend_from_slice(&buf[..n]);
        }
        if echo.len() == message.len() && !closed {
            sim.a.tcp_close(now, conn);
            closed = true;
        }
        closed && matches!(sim.a.tcp_state(conn), None | Some(State::TimeWait))
    });
    assert!(done, "the exchange completes: {:?}", sim.a.tcp_state(conn));
    assert_eq!(echo, message, "A read its bytes back");
    assert_eq!(sim.b.echoed, message);
    assert!(sim.b.fin_received, "the responder saw A's FIN");
    let dropped: Vec<_> = sim.trace().iter().filter(|e| e.dropped.is_some()).collect();
    assert!(dropped.is_empty(), "no packet was refused by either host: {dropped:?}");
}
