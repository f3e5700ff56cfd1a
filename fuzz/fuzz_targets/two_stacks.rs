//! Fuzz two stacks talking to each other through the simulator ([`Sim`]): the
//! fuzzer writes the programs on both hosts and plays the network at once.
//!
//! An input is a host setup (timestamps, SACK, window scaling, buffer sizes and MTU
//! for each side, the seed) followed by up to [`MAX_OPS`] actions:
//!
//! * time steps ([`Op::Run`]: the simulator runs, packets cross the link, timers fire);
//! * socket calls on either host: TCP listen, connect, accept, write, read, shutdown,
//!   close, abort, buffer sizes; UDP bind, send, receive, close;
//! * raw bytes injected into either stack as an IP packet, or a packet the other
//!   host sent earlier replayed (old duplicate), optionally with one byte changed;
//!   both with their checksums optionally repaired so they get past the first checks;
//! * link fault changes: loss (up to a partition), duplication, reordering,
//!   corruption, latency, jitter, a smaller link MTU, a short queue.
//!
//! Checked throughout:
//!
//! * **no panic**, and every packet either stack sends parses as valid IPv4 from its
//!   address, within its MTU, with a valid TCP or UDP checksum, and no TCP segment
//!   is sent in fragments;
//! * **no spinning**: time always moves on — a stack whose timer stays due however
//!   often it runs makes [`Sim::run_until`] give up before its deadline;
//! * **stream integrity**: each connection writes bytes that are a function of a
//!   number unique to it and of the offset ([`stream_byte`]), so whatever a reader
//!   gets must be the next bytes of one writer on the other end of its 4-tuple: in
//!   order, never invented, never duplicated, never more than was written; and end
//!   of stream comes only after all of it, once that writer shut down;
//! * **UDP datagrams whole**: each datagram received is exactly one that was sent
//!   from that address to that socket — never split, merged or altered.
//!
//! Integrity is not checked where the fuzzer itself forged data: a TCP segment or
//! UDP datagram it injected with a valid checksum that is not an exact copy of a real
//! packet. Such a TCP segment turns the check off for its 4-tuple on the receiving
//! host (a forged segment at the right sequence number is data the stack must
//! accept); a forged UDP datagram simply counts as sent; a forged IP fragment turns
//! the checks off for the whole receiving host. Nor is UDP checked once the link
//! has corrupted packets while fragments crossed it (see [`World::udp_recv`]).
//!
//! Reproduce a crash with `cargo fuzz run two_stacks <file>`; `cargo fuzz fmt
//! two_stacks <file>` prints its setup and actions.
//!
//! And at the end, **termination**: the link heals, both programs close everything,
//! and within bounded virtual time every timer stops, the link empties, and both
//! connection tables and port tables are empty.
#![no_main]

#[path = "common/checksum.rs"]
mod checksum;

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tunstack::sim::{Direction, LinkConfig, Sim, TraceKind, ADDR_A, ADDR_B};
use tunstack::TcpHandle;
use tunstack::UdpHandle;
use tunstack::wire::{ipv4, tcp, udp};
use tunstack::{Stack, StackConfig};

use checksum::{fix_ip_checksum, fix_transport_checksum, header_len};

/// Actions taken from one input; the rest is ignored (keeps each run short).
const MAX_OPS: usize = 64;
/// TCP ports a host may listen on, and those it may connect to (the last is never
/// listened on: a connection there is refused with RST).
const LISTEN_PORTS: [u16; 2] = [80, 81];
const CONNECT_PORTS: [u16; 3] = [80, 81, 82];
/// UDP ports a host may bind (0: an ephemeral one) and send to (9 is never bound:
/// an ICMP port unreachable comes back).
const BIND_PORTS: [u16; 3] = [7, 8, 0];
const SEND_PORTS: [u16; 3] = [7, 8, 9];
/// Largest write or datagram, in bytes.
const MAX_WRITE: u16 = 16 * 1024 - 1;
/// Virtual time after the final close within which everything must have ended:
/// ample for 15 retransmissions with back-off (about 18 minutes), FIN-WAIT-2's
/// minute and TIME-WAIT.
const WIND_DOWN: Duration = Duration::from_secs(3 * 3600);

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn addr(self) -> Ipv4Addr {
        match self {
            Side::A => ADDR_A,
            Side::B => ADDR_B,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn stack(self, sim: &mut Sim) -> &mut Stack {
        match self {
            Side::A => &mut sim.a,
            Side::B => &mut sim.b,
        }
    }
}

/// One host's settings, chosen by the fuzzer.
#[derive(Arbitrary, Debug)]
struct HostSetup {
    timestamps: bool,
    sack: bool,
    window_scaling: bool,
    /// 4 KiB buffers instead of 256 KiB: zero windows, persist probes, window updates.
    small_buffers: bool,
    /// Index into 1500, 1280, 576, 296.
    mtu: u8,
}

impl HostSetup {
    fn config(&self, addr: Ipv4Addr, seed: u64) -> StackConfig {
        let mut config = StackConfig { addr, seed, ..StackConfig::default() };
        config.mtu = [1500, 1280, 576, 296][usize::from(self.mtu % 4)];
        let tcp = &mut config.tcp;
        tcp.timestamps = self.timestamps;
        tcp.sack = self.sack;
        tcp.window_scaling = self.window_scaling;
        if self.small_buffers {
            tcp.recv_buffer = 4096;
            tcp.send_buffer = 4096;
        }
        // Small backlogs, so that the fuzzer reaches the overflow paths; a short
        // MSL, so that TIME-WAIT ends within a few time steps.
        tcp.syn_backlog = 4;
        tcp.accept_backlog = 4;
        tcp.msl = Duration::from_secs(1);
        config
    }
}

/// The link's faults from now on. Probabilities are the byte / 255.
#[derive(Arbitrary, Debug)]
struct Faults {
    loss: u8,
    duplicate: u8,
    reorder: u8,
    corrupt: u8,
    latency_ms: u8,
    jitter_ms: u8,
    /// A link MTU below the hosts' (no ICMP is sent about it: a black hole).
    mtu: Option<u16>,
    queue_limit: Option<u8>,
}

impl Faults {
    fn config(&self) -> LinkConfig {
        let p = |byte: u8| f64::from(byte) / 255.0;
        LinkConfig {
            loss: p(self.loss),
            duplicate: p(self.duplicate),
            reorder: p(self.reorder),
            corrupt: p(self.corrupt),
            latency: Duration::from_millis(u64::from(self.latency_ms)),
            jitter: Duration::from_millis(u64::from(self.jitter_ms)),
            mtu: self.mtu.map_or(1500, |m| usize::from(m).max(68)),
            queue_limit: self.queue_limit.map_or(1000, |q| usize::from(q).max(1)),
            seed: 0,
            ..LinkConfig::default()
        }
    }
}

/// One action. `conn`, `listener` and `sock` pick among the side's sockets so far
/// (closed ones included: calls on them must fail cleanly), modulo their number.
#[derive(Arbitrary, Debug)]
enum Op {
    /// Run the simulator for this many milliseconds of virtual time.
    Run(u16),
    /// Listen; with `auto_accept` every connection is accepted as soon as it is
    /// established (after each action), otherwise only by [`Op::Accept`].
    Listen {
        side: Side,
        port: u8,
        auto_accept: bool,
    },
    Connect {
        side: Side,
        port: u8,
    },
    Accept {
        side: Side,
        listener: u8,
    },
    Write {
        side: Side,
        conn: u8,
        len: u16,
    },
    Read {
        side: Side,
        conn: u8,
        len: u16,
    },
    Shutdown {
        side: Side,
        conn: u8,
        how: u8,
    },
    Close {
        side: Side,
        conn: u8,
    },
    Abort {
        side: Side,
        conn: u8,
    },
    CloseListener {
        side: Side,
        listener: u8,
    },
    Buffers {
        side: Side,
        conn: u8,
        send: u16,
        recv: u16,
        nodelay: bool,
    },
    UdpBind {
        side: Side,
        port: u8,
    },
    UdpSend {
        side: Side,
        sock: u8,
        port: u8,
        len: u16,
        connect: bool,
    },
    UdpRecv {
        side: Side,
        sock: u8,
    },
    UdpClose {
        side: Side,
        sock: u8,
    },
    /// Raw bytes into `side`'s stack. `fix` bit 0 sets the destination to `side`'s
    /// address, bit 1 the source to the other host's, bit 2 repairs the transport
    /// checksum and bit 3 the IPv4 header checksum.
    Inject {
        side: Side,
        fix: u8,
        packet: Packet,
    },
    /// A packet sent towards `side` earlier (the `back`-th latest), again, with the
    /// byte at `at` XORed with `xor` and the checksums repaired if `fix`.
    Replay {
        side: Side,
        back: u8,
        at: u16,
        xor: u8,
        fix: bool,
    },
    Faults(Faults),
}

/// The bytes of an injected packet: a 16-bit little-endian length, then that many
/// bytes (fewer if the input ends first). `Vec<u8>` would do, but `arbitrary` takes
/// its length from the end of the input; read from the front, an input is simple to
/// write from outside, as `scripts/lib/pcap_to_seeds.py` does for the seeds.
struct Packet(Vec<u8>);

impl<'a> Arbitrary<'a> for Packet {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = usize::from(u16::arbitrary(u)?).min(u.len());
        Ok(Packet(u.bytes(len)?.to_vec()))
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packet(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A whole input: the setup, then the actions. Every field but the last is read in
/// order, with `arbitrary`'s fixed encodings (integers little-endian, `bool` and an
/// `Option`'s tag one byte, an enum's variant a `u32` scaled to the variant count);
/// then each action is preceded by a byte whose low bit says another follows.
#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    a: HostSetup,
    b: HostSetup,
    faults: Faults,
    ops: Vec<Op>,
}

/// A connection the program holds, as writer and as reader.
struct Conn {
    handle: TcpHandle,
    /// Unique in the run: selects the bytes this connection writes.
    id: u64,
    local: SocketAddr,
    peer: SocketAddr,
    /// Bytes `tcp_send` took.
    written: u64,
    /// Shut down for writing (a FIN follows the written bytes).
    shut_write: bool,
    /// Bytes `tcp_recv` returned.
    read: u64,
    /// Writers on the other host (their index in its `conns`) whose stream matches
    /// everything read so far; fixed at the first byte read, then only narrowed.
    sources: Option<Vec<usize>>,
    /// Reading no longer says anything about the stream: reading was shut down (the
    /// buffered bytes were thrown away) or an error was reported (after which reads
    /// return end of stream without any FIN).
    unchecked: bool,
}

/// What the fuzz program knows about one host.
#[derive(Default)]
struct Host {
    conns: Vec<Conn>,
    listeners: Vec<TcpHandle>,
    /// The listeners whose connections are accepted at once.
    auto_accept: Vec<TcpHandle>,
    udp: Vec<(UdpHandle, SocketAddr)>,
    /// (local port, remote port) of connections into which a forged segment went.
    forged_tuples: HashSet<(u16, u16)>,
    /// A forged IP fragment went in: any reassembled datagram may be forged.
    forged_fragment: bool,
}

impl Host {
    fn pick_conn(&self, n: u8) -> Option<usize> {
        (!self.conns.is_empty()).then(|| usize::from(n) % self.conns.len())
    }

    fn checks(&self, conn: &Conn) -> bool {
        !conn.unchecked && !self.forged_fragment && !self.forged_tuples.contains(&(conn.local.port(), conn.peer.port()))
    }
}

/// Everything one run tracks.
struct World {
    sim: Sim,
    hosts: [Host; 2],
    next_id: u64,
    /// (from, to, payload) of every UDP datagram sent, real or forged.
    datagrams: HashSet<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Trace entries already validated.
    checked: usize,
    /// Some host sent an IP fragment, towards B and towards A.
    fragments: [bool; 2],
}

/// Byte `offset` of the stream written by connection `id` (or of datagram `id`):
/// a hash, so that bytes from another writer or another offset do not match.
fn stream_byte(id: u64, offset: u64) -> u8 {
    let mut z = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (offset / 8).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> ((offset % 8) * 8)) as u8
}

fn stream(id: u64, from: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| stream_byte(id, from + i)).collect()
}

fn sa(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}

fn is_fatal(e: &io::Error) -> bool {
    e.kind() != io::ErrorKind::WouldBlock
}

fuzz_target!(|input: Input| {
    let a = input.a.config(ADDR_A, input.seed ^ 0xA);
    let b = input.b.config(ADDR_B, input.seed ^ 0xB);
    let mut sim = Sim::with_hosts(a, b, LinkConfig { seed: input.seed, ..input.faults.config() });
    sim.record();
    let mut world = World {
        sim,
        hosts: Default::default(),
        next_id: 1,
        datagrams: HashSet::new(),
        checked: 0,
        fragments: [false; 2],
    };
    for op in input.ops.into_iter().take(MAX_OPS) {
        world.apply(op);
        world.validate_sent();
    }
    world.wind_down();
});

impl World {
    fn apply(&mut self, op: Op) {
        let now = self.sim.now();
        match op {
            Op::Run(ms) => self.run(Duration::from_millis(u64::from(ms))),
            Op::Listen { side, port, auto_accept } => {
                let port = LISTEN_PORTS[usize::from(port) % LISTEN_PORTS.len()];
                if let Ok(h) = side.stack(&mut self.sim).tcp_listen(sa(side.addr(), port), 4) {
                    let host = &mut self.hosts[side.index()];
                    host.listeners.push(h);
                    if auto_accept {
                        host.auto_accept.push(h);
                    }
                }
            }
            Op::Connect { side, port } => {
                let port = CONNECT_PORTS[usize::from(port) % CONNECT_PORTS.len()];
                let remote = sa(side.other().addr(), port);
                if let Ok(h) = side.stack(&mut self.sim).tcp_connect(now, remote) {
                    self.add_conn(side, h);
                }
            }
            Op::Accept { side, listener } => {
                let host = &self.hosts[side.index()];
                if host.listeners.is_empty() {
                    return;
                }
                let l = host.listeners[usize::from(listener) % host.listeners.len()];
                if let Ok((h, _)) = side.stack(&mut self.sim).tcp_accept(l) {
                    self.add_conn(side, h);
                }
            }
            Op::Write { side, conn, len } => self.write(side, conn, usize::from(len & MAX_WRITE)),
            Op::Read { side, conn, len } => self.read(side, conn, usize::from(len & MAX_WRITE).max(1)),
            Op::Shutdown { side, conn, how } => {
                let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
                let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][usize::from(how % 3)];
                let h = self.hosts[side.index()].conns[i].handle;
                let result = side.stack(&mut self.sim).tcp_shutdown(now, h, how);
                let c = &mut self.hosts[side.index()].conns[i];
                c.shut_write |= how != Shutdown::Read;
                c.unchecked |= how != Shutdown::Write || result.is_err();
            }
            Op::Close { side, conn } => {
                let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
                let c = &mut self.hosts[side.index()].conns[i];
                c.shut_write = true;
                c.unchecked = true;
                let h = c.handle;
                side.stack(&mut self.sim).tcp_close(now, h);
            }
            Op::Abort { side, conn } => {
                let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
                let c = &mut self.hosts[side.index()].conns[i];
                c.unchecked = true;
                let h = c.handle;
                side.stack(&mut self.sim).tcp_abort(now, h);
            }
            Op::CloseListener { side, listener } => {
                let host = &self.hosts[side.index()];
                if host.listeners.is_empty() {
                    return;
                }
                let l = host.listeners[usize::from(listener) % host.listeners.len()];
                side.stack(&mut self.sim).tcp_close_listener(now, l);
            }
            Op::Buffers { side, conn, send, recv, nodelay } => {
                let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
                let h = self.hosts[side.index()].conns[i].handle;
                let stack = side.stack(&mut self.sim);
                let _ = stack.tcp_set_send_buffer(h, usize::from(send));
                let _ = stack.tcp_set_recv_buffer(h, usize::from(recv));
                let _ = stack.tcp_set_nodelay(h, nodelay);
            }
            Op::UdpBind { side, port } => {
                let port = BIND_PORTS[usize::from(port) % BIND_PORTS.len()];
                let stack = side.stack(&mut self.sim);
                if let Ok(h) = stack.udp_bind(sa(side.addr(), port)) {
                    let local = stack.udp_local_addr(h).expect("a socket just bound has an address");
                    self.hosts[side.index()].udp.push((h, local));
                }
            }
            Op::UdpSend { side, sock, port, len, connect } => self.udp_send(side, sock, port, len, connect),
            Op::UdpRecv { side, sock } => self.udp_recv(side, sock),
            Op::UdpClose { side, sock } => {
                let host = &self.hosts[side.index()];
                if host.udp.is_empty() {
                    return;
                }
                let (h, _) = host.udp[usize::from(sock) % host.udp.len()];
                side.stack(&mut self.sim).udp_close(h);
            }
            Op::Inject { side, fix, packet: Packet(mut bytes) } => {
                if header_len(&bytes).is_some() {
                    if fix & 1 != 0 {
                        bytes[16..20].copy_from_slice(&side.addr().octets());
                    }
                    if fix & 2 != 0 {
                        bytes[12..16].copy_from_slice(&side.other().addr().octets());
                    }
                }
                if fix & 4 != 0 {
                    fix_transport_checksum(&mut bytes);
                }
                if fix & 8 != 0 {
                    fix_ip_checksum(&mut bytes);
                }
                let genuine = self.was_sent(side, &bytes);
                self.inject(side, &bytes, genuine);
            }
            Op::Replay { side, back, at, xor, fix } => {
                let toward = if side == Side::B { Direction::AToB } else { Direction::BToA };
                let sent: Vec<&[u8]> = self
                    .sim
                    .trace()
                    .iter()
                    .rev()
                    .filter(|e| e.kind == TraceKind::Sent && e.direction == toward)
                    .take(256)
                    .map(|e| &e.packet[..])
                    .collect();
                if sent.is_empty() {
                    return;
                }
                let original = sent[usize::from(back) % sent.len()];
                let mut packet = original.to_vec();
                let at = usize::from(at) % packet.len();
                packet[at] ^= xor;
                if fix {
                    fix_transport_checksum(&mut packet);
                    fix_ip_checksum(&mut packet);
                }
                let genuine = packet == original;
                self.inject(side, &packet, genuine);
            }
            Op::Faults(faults) => self.sim.link_mut().reconfigure(faults.config()),
        }
        self.drain_events();
        self.accept_all();
    }

    /// Accept every established connection waiting on an `auto_accept` listener.
    fn accept_all(&mut self) {
        for side in [Side::A, Side::B] {
            for l in self.hosts[side.index()].auto_accept.clone() {
                while let Ok((h, _)) = side.stack(&mut self.sim).tcp_accept(l) {
                    self.add_conn(side, h);
                }
            }
        }
    }

    /// Run the simulator for `duration`; it must not spin at one instant.
    fn run(&mut self, duration: Duration) {
        let limit = self.sim.now() + duration;
        let finished = self.sim.run_until(duration, |sim| {
            while sim.a.poll_event().is_some() {}
            while sim.b.poll_event().is_some() {}
            false
        });
        assert!(!finished);
        assert_eq!(self.sim.now(), limit, "the stacks spun at one instant without time moving on");
    }

    fn drain_events(&mut self) {
        while self.sim.a.poll_event().is_some() {}
        while self.sim.b.poll_event().is_some() {}
    }

    fn add_conn(&mut self, side: Side, handle: TcpHandle) {
        let stack = side.stack(&mut self.sim);
        let local = stack.tcp_local_addr(handle).expect("a new connection has a local address");
        let peer = stack.tcp_peer_addr(handle).expect("a new connection has a peer");
        let id = self.next_id;
        self.next_id += 1;
        self.hosts[side.index()].conns.push(Conn {
            handle,
            id,
            local,
            peer,
            written: 0,
            shut_write: false,
            read: 0,
            sources: None,
            unchecked: false,
        });
    }

    fn write(&mut self, side: Side, conn: u8, len: usize) {
        let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
        let c = &self.hosts[side.index()].conns[i];
        let (h, id, from) = (c.handle, c.id, c.written);
        let now = self.sim.now();
        let data = stream(id, from, len);
        let result = side.stack(&mut self.sim).tcp_send(now, h, &data);
        let c = &mut self.hosts[side.index()].conns[i];
        match result {
            Ok(n) => {
                assert!(n <= len, "send took {n} of {len} bytes");
                c.written += n as u64;
            }
            // The error was the connection's: reads will not report it again.
            Err(e) => c.unchecked |= is_fatal(&e),
        }
    }

    fn read(&mut self, side: Side, conn: u8, len: usize) {
        let Some(i) = self.hosts[side.index()].pick_conn(conn) else { return };
        let h = self.hosts[side.index()].conns[i].handle;
        let now = self.sim.now();
        let mut buf = vec![0; len];
        let result = side.stack(&mut self.sim).tcp_recv(now, h, &mut buf);
        let [here, there] = self.hosts_mut(side);
        let checks = here.checks(&here.conns[i]);
        let c = &mut here.conns[i];
        match result {
            Ok(0) if checks => {
                // End of stream: the peer shut down after writing what we read.
                let Some(sources) = &c.sources else { return };
                assert!(
                    sources.iter().any(|&w| there.conns[w].shut_write && there.conns[w].written == c.read),
                    "end of stream on {} <- {} after {} bytes, but no writer shut down there: {:?}",
                    c.local,
                    c.peer,
                    c.read,
                    sources.iter().map(|&w| (there.conns[w].written, there.conns[w].shut_write)).collect::<Vec<_>>()
                );
            }
            Ok(n) if checks => {
                assert!(n <= len);
                let got = &buf[..n];
                let sources = c.sources.get_or_insert_with(|| {
                    (0..there.conns.len())
                        .filter(|&w| there.conns[w].local == c.peer && there.conns[w].peer == c.local)
                        .collect()
                });
                let from = c.read;
                sources.retain(|&w| {
                    let writer = &there.conns[w];
                    from + n as u64 <= writer.written && got == stream(writer.id, from, n)
                });
                assert!(
                    !sources.is_empty(),
                    "{} <- {} read {n} bytes at offset {from} that no writer there wrote at that offset",
                    c.local,
                    c.peer
                );
                c.read += n as u64;
            }
            Ok(n) => c.read += n as u64,
            Err(e) => c.unchecked |= is_fatal(&e),
        }
    }

    fn udp_send(&mut self, side: Side, sock: u8, port: u8, len: u16, connect: bool) {
        let host = &self.hosts[side.index()];
        if host.udp.is_empty() {
            return;
        }
        let (h, local) = host.udp[usize::from(sock) % host.udp.len()];
        let dst = sa(side.other().addr(), SEND_PORTS[usize::from(port) % SEND_PORTS.len()]);
        let payload = stream(self.next_id, 0, usize::from(len & MAX_WRITE));
        self.next_id += 1;
        let stack = side.stack(&mut self.sim);
        let sent = if connect {
            stack.udp_connect(h, dst).and_then(|()| stack.udp_send(h, &payload))
        } else {
            stack.udp_send_to(h, &payload, dst)
        };
        if sent.is_ok() {
            self.datagrams.insert((local, dst, payload));
        }
    }

    fn udp_recv(&mut self, side: Side, sock: u8) {
        let host = &self.hosts[side.index()];
        if host.udp.is_empty() {
            return;
        }
        let (h, local) = host.udp[usize::from(sock) % host.udp.len()];
        // The link flips at most one bit per packet, which the checksum always
        // catches; but a datagram in two fragments can take a flip in each, and two
        // flips of the same bit of a 16-bit word in opposite directions leave the
        // one's-complement sum unchanged (RFC 1071's known blind spot, not a bug).
        let toward = if side == Side::B { Direction::AToB } else { Direction::BToA };
        let corrupted_fragments = self.fragments[toward as usize] && self.sim.link().stats(toward).corrupted > 0;
        let unchecked = host.forged_fragment || corrupted_fragments;
        let Ok(d) = side.stack(&mut self.sim).udp_recv(h) else { return };
        let whole = self.datagrams.contains(&(d.from, local, d.data.to_vec()));
        assert!(
            whole || unchecked,
            "{local} received {} bytes from {} that were never sent as one datagram",
            d.data.len(),
            d.from
        );
    }

    /// Whether `packet` is byte for byte one the simulator carried towards `side`.
    fn was_sent(&self, side: Side, packet: &[u8]) -> bool {
        let toward = if side == Side::B { Direction::AToB } else { Direction::BToA };
        self.sim.trace().iter().any(|e| e.kind == TraceKind::Sent && e.direction == toward && e.packet == packet)
    }

    /// Hand `packet` to `side`'s stack, first noting what it forges unless it is
    /// `genuine` (a copy of a packet really sent).
    fn inject(&mut self, side: Side, packet: &[u8], genuine: bool) {
        if !genuine {
            if let Ok(ip) = ipv4::parse(packet) {
                let host = &mut self.hosts[side.index()];
                if ip.is_fragment() {
                    host.forged_fragment = true;
                } else if ip.protocol == 6 {
                    if let Ok(seg) = tcp::parse(ip.src, ip.dst, ip.payload) {
                        host.forged_tuples.insert((seg.dst_port, seg.src_port));
                    }
                } else if ip.protocol == 17 {
                    if let Ok(d) = udp::parse(ip.src, ip.dst, ip.payload) {
                        let (from, to) = (sa(ip.src, d.src_port), sa(ip.dst, d.dst_port));
                        self.datagrams.insert((from, to, d.payload.to_vec()));
                    }
                }
            }
        }
        let now = self.sim.now();
        side.stack(&mut self.sim).input(now, packet);
    }

    /// Every packet the stacks sent since the last call is one they may send.
    fn validate_sent(&mut self) {
        let trace = &self.sim.trace()[self.checked..];
        for e in trace.iter().filter(|e| e.kind == TraceKind::Sent) {
            let (from, mtu) = match e.direction {
                Direction::AToB => (ADDR_A, self.sim.a.config().mtu),
                Direction::BToA => (ADDR_B, self.sim.b.config().mtu),
            };
            let p = &e.packet;
            assert!(p.len() <= mtu, "{} bytes sent on a {mtu}-byte MTU", p.len());
            let ip = ipv4::parse(p).expect("we only send valid IPv4");
            assert_eq!(ip.src, from);
            if ip.is_fragment() {
                assert_ne!(ip.protocol, 6, "a TCP segment was sent in fragments: its size ignores the MTU");
                self.fragments[e.direction as usize] = true;
                continue;
            }
            match ip.protocol {
                6 => {
                    tcp::parse(ip.src, ip.dst, ip.payload).expect("we only send valid TCP");
                }
                17 => {
                    udp::parse(ip.src, ip.dst, ip.payload).expect("we only send valid UDP");
                }
                _ => {}
            }
        }
        self.checked = self.sim.trace().len();
    }

    /// Heal the link, close everything, and wait: every timer must stop and every
    /// connection and port be freed within [`WIND_DOWN`].
    fn wind_down(&mut self) {
        self.sim.link_mut().reconfigure(LinkConfig::default());
        let now = self.sim.now();
        for side in [Side::A, Side::B] {
            let host = &self.hosts[side.index()];
            let conns: Vec<TcpHandle> = host.conns.iter().map(|c| c.handle).collect();
            let listeners = host.listeners.clone();
            let udp: Vec<UdpHandle> = host.udp.iter().map(|&(h, _)| h).collect();
            let stack = side.stack(&mut self.sim);
            for h in conns {
                stack.tcp_close(now, h);
            }
            for l in listeners {
                stack.tcp_close_listener(now, l);
            }
            for h in udp {
                stack.udp_close(h);
            }
        }
        // One step at `now` puts what the closes queued on the link.
        self.sim.step(now);
        let limit = now + WIND_DOWN;
        let quiet = self.sim.run_until(WIND_DOWN, |sim| {
            while sim.a.poll_event().is_some() {}
            while sim.b.poll_event().is_some() {}
            sim.a.poll_deadline().is_none() && sim.b.poll_deadline().is_none() && sim.link().next_delivery().is_none()
        });
        self.validate_sent();
        assert!(
            quiet,
            "{} after closing everything: A {:?}, B {:?}",
            if self.sim.now() < limit { "the stacks spun at one instant" } else { "timers still running hours" },
            self.sim.a.tcp_sockets(),
            self.sim.b.tcp_sockets()
        );
        for (name, stack) in [("A", &self.sim.a), ("B", &self.sim.b)] {
            assert_eq!(stack.tcp_connection_count(), 0, "{name} keeps connections: {:?}", stack.tcp_sockets());
            assert_eq!(stack.tcp_ports().len(), 0, "{name} keeps a TCP port bound");
            assert_eq!(stack.udp_ports().len(), 0, "{name} keeps a UDP port bound");
        }
    }

    /// This host's record and the other's, both mutable.
    fn hosts_mut(&mut self, side: Side) -> [&mut Host; 2] {
        let [a, b] = &mut self.hosts;
        match side {
            Side::A => [a, b],
            Side::B => [b, a],
        }
    }
}
