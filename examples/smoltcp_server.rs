//! smoltcp as a contender in `scripts/bench.sh`: the smoltcp crate (crates.io,
//! a dev-dependency) serving the same services as `tunstack serve` on the same TUN
//! setup — TCP echo 7, discard 9, HTTP-style `GET /bytes/N` on 80, UDP echo 7.
//!
//! Made to match tunstack where smoltcp lets us choose:
//! * the TUN is opened and configured by tunstack's own `TunDevice` (one reusable
//!   receive and transmit buffer, no allocation per packet), so the two stacks sit
//!   on identical device code;
//! * TCP buffers of 256 KiB each way (tunstack's `tcp.recv_buffer`/`send_buffer`),
//!   Reno congestion control (the `socket-tcp-reno` feature; tunstack runs NewReno);
//! * UDP receive queue of 1024 datagrams / 1 MiB (tunstack's `udp_recv_queue`).
//!
//! smoltcp has no listen backlog: a listening socket *becomes* the connection. So
//! each port keeps a few spare sockets in LISTEN, topped up after every poll, and a
//! connection's socket is removed from the set once it is closed.
//!
//! One thread: take in a batch of packets, serve every socket, send what they
//! queued, and sleep in `poll(2)` on the TUN until smoltcp's next deadline. Prints `ready`; exits on SIGTERM or SIGINT.
//!
//! Usage: `smoltcp_server [--tun tun0] [--mtu 1500]` (root, inside a namespace).

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::device::Device as _;

/// tunstack's default TCP buffer sizes.
const TCP_BUFFER: usize = 256 * 1024;
/// tunstack's default UDP receive queue.
const UDP_DATAGRAMS: usize = 1024;
const UDP_BYTES: usize = 1 << 20;
/// Sockets kept in LISTEN per port: how many SYNs may arrive between two top-ups.
const SPARE_LISTENERS: usize = 16;
/// Packets taken in before the programs run (tunstack's runtime reads up to 256).
const RX_BATCH: usize = 64;
/// Longest sleep without a deadline, so a signal is noticed.
const MAX_SLEEP_MS: i32 = 1000;

#[derive(Parser)]
#[command(about = "smoltcp serving echo, discard and /bytes/N on a TUN")]
struct Cli {
    #[arg(long, default_value = "tun0")]
    tun: String,
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
}

/// smoltcp's device interface over tunstack's TUN.
struct TunPhy {
    tun: TunDevice,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

struct Rx<'a>(&'a [u8]);

struct Tx<'a> {
    tun: &'a TunDevice,
    buf: &'a mut Vec<u8>,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.buf.resize(len, 0);
        let result = f(&mut self.buf[..len]);
        if let Err(e) = self.tun.send(&self.buf[..len]) {
            eprintln!("smoltcp_server: TUN write failed: {e}");
        }
        result
    }
}

impl phy::Device for TunPhy {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = self.tun.recv(&mut self.rx).ok()??;
        Some((Rx(&self.rx[..n]), Tx { tun: &self.tun, buf: &mut self.tx }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { tun: &self.tun, buf: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.tun.mtu();
        caps
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Service {
    Echo,
    Discard,
    Bytes,
}

impl Service {
    const ALL: [Service; 3] = [Service::Echo, Service::Discard, Service::Bytes];

    fn port(self) -> u16 {
        match self {
            Service::Echo => 7,
            Service::Discard => 9,
            Service::Bytes => 80,
        }
    }
}

/// A TCP socket of ours and what it is doing.
struct Conn {
    handle: SocketHandle,
    service: Service,
    /// Left LISTEN at least once (a spare listener has not).
    connected: bool,
    /// `/bytes/N`: the request head read so far, then the bytes still to send.
    head: Vec<u8>,
    left: Option<u64>,
    /// Offset of the next body byte in the 0..=255 pattern.
    sent: u64,
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut socket =
        tcp::Socket::new(tcp::SocketBuffer::new(vec![0; TCP_BUFFER]), tcp::SocketBuffer::new(vec![0; TCP_BUFFER]));
    socket.set_congestion_control(tcp::CongestionControl::Reno);
    socket
}

fn main() -> io::Result<()> {
    let cli = Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;

    let tun = TunDevice::create(&TunConfig {
        name: cli.tun,
        kernel_addr: Ipv4Addr::new(198, 18, 0, 1),
        prefix_len: 24,
        kernel_addr6: None,
        mtu: cli.mtu,
        offload: false,
    })?;
    let fd = tun.readable_fd();
    let mut phy = TunPhy { tun, rx: vec![0; 65_536], tx: Vec::with_capacity(65_536) };
    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = 0x5eed;
    let mut iface = Interface::new(config, &mut phy, Instant::now());
    iface.update_ip_addrs(|addrs| {
        // Room for one address: this push cannot fail.
        let _ = addrs.push(IpCidr::new(IpAddress::v4(198, 18, 0, 2), 24));
    });

    let mut sockets = SocketSet::new(Vec::new());
    let udp_handle = {
        let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_DATAGRAMS], vec![0; UDP_BYTES]);
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket.bind(7).map_err(|e| io::Error::other(format!("udp bind: {e}")))?;
        sockets.add(socket)
    };
    let mut conns: Vec<Conn> = Vec::new();
    let block: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();
    let mut scratch = vec![0u8; 64 * 1024];
    top_up_listeners(&mut sockets, &mut conns)?;
    println!("ready");

    while !stop.load(Ordering::Relaxed) {
        // At most RX_BATCH packets in, then the programs run, then everything out.
        // (`Interface::poll` would take in every packet waiting before any program
        // runs: under a fast sender the receive buffer fills and the window closes.)
        let now = Instant::now();
        iface.poll_maintenance(now);
        let mut taken = 0;
        while taken < RX_BATCH
            && iface.poll_ingress_single(now, &mut phy, &mut sockets) != PollIngressSingleResult::None
        {
            taken += 1;
        }
        serve_udp(sockets.get_mut::<udp::Socket>(udp_handle), &mut scratch);
        serve_tcp(&mut sockets, &mut conns, &block, &mut scratch);
        top_up_listeners(&mut sockets, &mut conns)?;
        while iface.poll_egress(Instant::now(), &mut phy, &mut sockets) != PollResult::None {}
        if taken == RX_BATCH {
            continue; // more may be waiting: no sleep
        }
        let delay = iface.poll_delay(Instant::now(), &sockets);
        let ms =
            delay.map_or(MAX_SLEEP_MS, |d| i32::try_from(d.total_millis()).unwrap_or(MAX_SLEEP_MS).min(MAX_SLEEP_MS));
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut pfd, 1, ms) };
    }
    Ok(())
}

fn serve_udp(socket: &mut udp::Socket<'_>, scratch: &mut [u8]) {
    while socket.can_send() {
        let Ok((n, meta)) = socket.recv_slice(scratch) else { break };
        let _ = socket.send_slice(&scratch[..n], meta.endpoint);
    }
}

/// Keep `SPARE_LISTENERS` sockets in LISTEN on each port.
fn top_up_listeners(sockets: &mut SocketSet<'static>, conns: &mut Vec<Conn>) -> io::Result<()> {
    for service in Service::ALL {
        let listening = conns.iter().filter(|c| c.service == service && !c.connected).count();
        for _ in listening..SPARE_LISTENERS {
            let mut socket = tcp_socket();
            socket.listen(service.port()).map_err(|e| io::Error::other(format!("listen: {e}")))?;
            let handle = sockets.add(socket);
            conns.push(Conn { handle, service, connected: false, head: Vec::new(), left: None, sent: 0 });
        }
    }
    Ok(())
}

fn serve_tcp(sockets: &mut SocketSet<'static>, conns: &mut Vec<Conn>, block: &[u8], scratch: &mut [u8]) {
    conns.retain_mut(|conn| {
        let socket = sockets.get_mut::<tcp::Socket>(conn.handle);
        if socket.state() == tcp::State::Listen {
            return true;
        }
        conn.connected = true;
        if socket.state() == tcp::State::Closed {
            sockets.remove(conn.handle);
            return false;
        }
        match conn.service {
            Service::Echo => echo(socket, scratch),
            Service::Discard => {
                while socket.can_recv() && socket.recv(|data| (data.len(), ())).is_ok() {}
                if peer_closed(socket) {
                    socket.close();
                }
            }
            Service::Bytes => bytes(socket, conn, block),
        }
        true
    });
}

fn echo(socket: &mut tcp::Socket<'_>, scratch: &mut [u8]) {
    while socket.can_recv() && socket.can_send() {
        let room = (socket.send_capacity() - socket.send_queue()).min(scratch.len());
        let Ok(n) = socket.recv_slice(&mut scratch[..room]) else { break };
        let _ = socket.send_slice(&scratch[..n]);
    }
    // smoltcp sends the FIN after whatever is still queued.
    if peer_closed(socket) && !socket.can_recv() {
        socket.close();
    }
}

/// The client has sent its FIN and we have not: time for us to close.
/// (`may_recv` alone is false in SYN-RECEIVED too, before any data came.)
fn peer_closed(socket: &tcp::Socket<'_>) -> bool {
    socket.state() == tcp::State::CloseWait
}

/// `GET /bytes/N`: read the head, answer with N bytes of the 0..=255 pattern, close.
fn bytes(socket: &mut tcp::Socket<'_>, conn: &mut Conn, block: &[u8]) {
    if conn.left.is_none() {
        while let Ok(n) = socket.recv(|data| (data.len(), data.to_vec())) {
            if n.is_empty() {
                break;
            }
            conn.head.extend_from_slice(&n);
        }
        let Some(end) = conn.head.windows(4).position(|w| w == b"\r\n\r\n") else {
            if peer_closed(socket) {
                socket.close();
            }
            return;
        };
        let head = String::from_utf8_lossy(&conn.head[..end]).into_owned();
        let n: u64 = head
            .split_whitespace()
            .nth(1)
            .and_then(|t| t.strip_prefix("/bytes/"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
        // The send buffer is empty and far larger than the head.
        let _ = socket.send_slice(response.as_bytes());
        conn.left = Some(n);
    }
    let Some(left) = conn.left else { return };
    let mut left = left;
    while left > 0 && socket.can_send() {
        let start = (conn.sent % block.len() as u64) as usize;
        let sent = socket.send(|buf| {
            let n = buf.len().min(block.len() - start).min(usize::try_from(left).unwrap_or(usize::MAX));
            buf[..n].copy_from_slice(&block[start..start + n]);
            (n, n)
        });
        match sent {
            Ok(n) if n > 0 => {
                left -= n as u64;
                conn.sent += n as u64;
            }
            _ => break,
        }
    }
    conn.left = Some(left);
    if left == 0 {
        socket.close();
    }
}
