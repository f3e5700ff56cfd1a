//! The raw TUN ceiling for `scripts/bench.sh`: how fast packets cross the TUN when
//! nothing but a loop sits on our side. No stack can move more bytes through a TUN
//! than this without offloads, so it bounds every contender's bulk figures.
//!
//! * `read`: a kernel UDP socket sends MTU-sized datagrams to 198.18.0.2 as fast as
//!   it can — 64 KiB per `send` with UDP segmentation offload (`UDP_SEGMENT`), which
//!   the kernel cuts into MTU-sized packets as it does a TCP flow's — and the loop
//!   only reads packets off the TUN and counts their bytes (the ceiling for
//!   kernel → stack). The sender keeps at most 256 packets ahead of the reader,
//!   as a TCP window would, so none are dropped at the TUN's queue.
//! * `write`: the loop only writes one prebuilt MTU-sized IPv4/UDP packet to the TUN,
//!   again and again; a kernel UDP socket on 198.18.0.1 counts what the kernel
//!   delivers (the ceiling for stack → kernel; the kernel drops what it cannot
//!   take, so written is not delivered).
//!
//! Both count IP bytes (headers included), as the TCP figures count payload: at
//! MTU 1500 the difference is under 3 %. It opens the TUN with tunstack's own
//! `TunDevice`, the same code `tunstack serve` uses. Run it as root inside a
//! network namespace; it prints one line of JSON.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::device::Device;

const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const STACK: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The kernel-side UDP port of the write test.
const SINK_PORT: u16 = 9999;
/// Packets the read test's sender may be ahead of the reader: below the TUN's
/// default queue of 500 packets.
const WINDOW: u64 = 256;
/// IPv4 + UDP headers.
const HEADERS: usize = 28;

#[derive(Clone, Copy, ValueEnum)]
enum Direction {
    Read,
    Write,
}

#[derive(Parser)]
#[command(about = "raw TUN read or write ceiling")]
struct Cli {
    direction: Direction,
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    #[arg(long, default_value_t = 1.5)]
    secs: f64,
    #[arg(long, default_value = "tun0")]
    tun: String,
}

fn main() -> io::Result<()> {
    let cli = Cli::parse();
    let tun = TunDevice::create(&TunConfig {
        name: cli.tun.clone(),
        kernel_addr: KERNEL,
        prefix_len: 24,
        kernel_addr6: None,
        mtu: cli.mtu,
        offload: false,
    })?;
    let duration = Duration::from_secs_f64(cli.secs);
    let (bytes, packets, elapsed) = match cli.direction {
        Direction::Read => read_ceiling(&tun, cli.mtu, duration)?,
        Direction::Write => write_ceiling(&tun, cli.mtu, duration)?,
    };
    println!(
        r#"{{"gbps":{:.4},"bytes":{bytes},"packets":{packets},"secs":{:.4}}}"#,
        bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9,
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Wait up to `ms` for the TUN to have a packet.
fn wait_readable(tun: &TunDevice, ms: i32) {
    let mut pfd = libc::pollfd { fd: tun.readable_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

fn read_ceiling(tun: &TunDevice, mtu: usize, duration: Duration) -> io::Result<(u64, u64, Duration)> {
    let stop = Arc::new(AtomicBool::new(false));
    let read = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, read) = (Arc::clone(&stop), Arc::clone(&read));
        let socket = UdpSocket::bind((KERNEL, 0))?;
        socket.connect((STACK, 9))?;
        let segment = mtu - HEADERS;
        // As many MTU-sized segments as fit in one UDP datagram (at most 64).
        let segments = (65_507 / segment).clamp(1, 64);
        if segments > 1 {
            set_int_option(&socket, libc::SOL_UDP, libc::UDP_SEGMENT, segment as libc::c_int);
        }
        let payload = vec![0u8; segment * segments];
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A window, as TCP has: never more than WINDOW packets ahead of the
                // reader, so the TUN's queue never overflows and no CPU is spent on
                // packets the kernel would drop.
                if sent.saturating_sub(read.load(Ordering::Relaxed)) + segments as u64 > WINDOW {
                    std::thread::park_timeout(Duration::from_millis(1));
                    continue;
                }
                if socket.send(&payload).is_ok() {
                    sent += segments as u64;
                }
            }
        })
    };
    let mut buf = vec![0u8; 65_536];
    let (mut bytes, mut packets) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < duration {
        match tun.recv(&mut buf)? {
            Some(n) => {
                bytes += n as u64;
                packets += 1;
                if packets % 32 == 0 {
                    read.store(packets, Ordering::Relaxed);
                    sender.thread().unpark();
                }
            }
            None => wait_readable(tun, 10),
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    sender.join().map_err(|_| io::Error::other("the sender thread panicked"))?;
    Ok((bytes, packets, elapsed))
}

fn write_ceiling(tun: &TunDevice, mtu: usize, duration: Duration) -> io::Result<(u64, u64, Duration)> {
    let sink = UdpSocket::bind((KERNEL, SINK_PORT))?;
    set_int_option(&sink, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 64 << 20);
    sink.set_read_timeout(Some(Duration::from_millis(100)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = {
        let (stop, delivered) = (Arc::clone(&stop), Arc::clone(&delivered));
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = sink.recv(&mut buf) {
                    delivered.fetch_add((n + HEADERS) as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let packet = udp_packet(mtu);
    let start = Instant::now();
    let mut written = 0u64;
    while start.elapsed() < duration {
        tun.send(&packet)?;
        written += 1;
    }
    let elapsed = start.elapsed();
    // Let the counter take what the kernel had already queued for it.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    counter.join().map_err(|_| io::Error::other("the counter thread panicked"))?;
    let bytes = delivered.load(Ordering::Relaxed);
    Ok((bytes, written, elapsed))
}

/// An integer socket option; a failure only makes the ceiling lower, so it is ignored.
fn set_int_option(socket: &UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    // SAFETY: setsockopt reads one c_int from a live local for its duration.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// One MTU-sized IPv4/UDP packet from the stack's address to the sink, checksums
/// filled in (the kernel verifies them, as it does for a stack's packets).
fn udp_packet(mtu: usize) -> Vec<u8> {
    let payload = vec![0u8; mtu - HEADERS];
    let builder = etherparse::PacketBuilder::ipv4(STACK.octets(), KERNEL.octets(), 64).udp(40_000, SINK_PORT);
    let mut packet = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut packet, &payload).expect("writing to a Vec cannot fail");
    packet
}
