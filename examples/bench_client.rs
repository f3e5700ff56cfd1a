//! The kernel-side client of `scripts/bench.sh`: one measurement per run, printed
//! as one line of JSON on stdout.
//!
//! It talks to whichever server the script put at the other end — `tunstack serve`,
//! `examples/smoltcp_server.rs` or `examples/kernel_server.rs` — through the same
//! services, so every contender does the same work:
//!
//! | mode | service | what is timed |
//! |------|---------|---------------|
//! | `send` | discard (TCP 9) | write N bytes, half-close, until the server's FIN: every byte reached the server program |
//! | `recv` | HTTP (TCP 80) `GET /bytes/N` | from the request to the last of N body bytes |
//! | `rr` | echo (TCP 7) | 1-byte ping-pong over one connection: each round trip |
//! | `connrate` | echo (TCP 7) | connect, 1-byte request and answer, close, on several threads |
//! | `udp` | echo (UDP 7) | datagrams echoed per second with a window of them in flight |
//! | `hold` | echo (TCP 7) | opens N idle connections and keeps them until stdin closes |
//!
//! The client is a plain `std::net` program on the kernel's stack: it is the
//! same for every contender, so differences come from the server side.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

/// Bound on connecting and on any single read, so a stuck server fails the run
/// instead of hanging the benchmark.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(about = "kernel-side client for scripts/bench.sh")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// TCP bulk, kernel → server: write BYTES to the discard service.
    Send {
        addr: SocketAddr,
        #[arg(long)]
        bytes: u64,
    },
    /// TCP bulk, server → kernel: `GET /bytes/BYTES` from the HTTP service.
    Recv {
        addr: SocketAddr,
        #[arg(long)]
        bytes: u64,
    },
    /// TCP request/response: 1-byte ping-pong with the echo service for SECS.
    Rr {
        addr: SocketAddr,
        #[arg(long)]
        secs: f64,
    },
    /// Connection rate: connect + 1-byte echo + close, on THREADS threads for SECS.
    Connrate {
        addr: SocketAddr,
        #[arg(long)]
        secs: f64,
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
    /// UDP echo: SIZE-byte datagrams, WINDOW in flight, for SECS.
    Udp {
        addr: SocketAddr,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        secs: f64,
        #[arg(long, default_value_t = 32)]
        window: usize,
    },
    /// Open COUNT idle connections, echo one byte on the last (unless --no-ping),
    /// print a line, and hold them until stdin reaches end of file.
    Hold {
        addr: SocketAddr,
        #[arg(long)]
        count: usize,
        /// The server only accepts (kernel_server's hold port): do not echo.
        #[arg(long)]
        no_ping: bool,
    },
}

fn main() -> io::Result<()> {
    let line = match Cli::parse().mode {
        Mode::Send { addr, bytes } => send(addr, bytes)?,
        Mode::Recv { addr, bytes } => recv(addr, bytes)?,
        Mode::Rr { addr, secs } => rr(addr, Duration::from_secs_f64(secs))?,
        Mode::Connrate { addr, secs, threads } => connrate(addr, Duration::from_secs_f64(secs), threads)?,
        Mode::Udp { addr, size, secs, window } => udp(addr, size, Duration::from_secs_f64(secs), window)?,
        Mode::Hold { addr, count, no_ping } => return hold(addr, count, !no_ping),
    };
    println!("{line}");
    Ok(())
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Gigabits per second for `bytes` in `elapsed`.
fn gbps(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

fn send(addr: SocketAddr, bytes: u64) -> io::Result<String> {
    let mut stream = connect(addr)?;
    let block = vec![0xa5u8; 256 * 1024];
    let start = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        stream.write_all(&block[..n])?;
        left -= n as u64;
    }
    stream.shutdown(Shutdown::Write)?;
    // The discard server closes once it has read our FIN, so its FIN means it
    // read every byte.
    let mut sink = [0u8; 64];
    while stream.read(&mut sink)? > 0 {}
    let elapsed = start.elapsed();
    Ok(format!(r#"{{"gbps":{:.4},"bytes":{bytes},"secs":{:.4}}}"#, gbps(bytes, elapsed), elapsed.as_secs_f64()))
}

fn recv(addr: SocketAddr, bytes: u64) -> io::Result<String> {
    let mut stream = connect(addr)?;
    let start = Instant::now();
    stream.write_all(format!("GET /bytes/{bytes} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())?;
    let mut reader = io::BufReader::with_capacity(256 * 1024, stream);
    // The response head ends with an empty line.
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the response head"));
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut got = 0u64;
    while got < bytes {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("body ended after {got} of {bytes} bytes"),
            ));
        }
        let n = chunk.len();
        reader.consume(n);
        got += n as u64;
    }
    let elapsed = start.elapsed();
    Ok(format!(r#"{{"gbps":{:.4},"bytes":{got},"secs":{:.4}}}"#, gbps(got, elapsed), elapsed.as_secs_f64()))
}

/// One byte there and back.
fn ping(stream: &mut TcpStream) -> io::Result<()> {
    let mut byte = [b'x'];
    stream.write_all(&byte)?;
    stream.read_exact(&mut byte)
}

/// The value below which `p` of the sorted samples fall.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn rr(addr: SocketAddr, duration: Duration) -> io::Result<String> {
    let mut stream = connect(addr)?;
    stream.set_nodelay(true)?;
    for _ in 0..100 {
        ping(&mut stream)?; // warm up: caches, the server's first buffers
    }
    let mut samples = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        ping(&mut stream)?;
        samples.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    samples.sort_unstable();
    Ok(format!(
        r#"{{"rtt_per_sec":{:.1},"p50_us":{:.2},"p99_us":{:.2},"count":{}}}"#,
        samples.len() as f64 / elapsed.as_secs_f64(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.len()
    ))
}

fn connrate(addr: SocketAddr, duration: Duration, threads: usize) -> io::Result<String> {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
            std::thread::spawn(move || {
                while start.elapsed() < duration {
                    let one = connect(addr).and_then(|mut s| {
                        s.set_nodelay(true)?;
                        ping(&mut s)
                    });
                    match one {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| io::Error::other("a connrate thread panicked"))?;
    }
    let elapsed = start.elapsed();
    let (done, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    if failed * 100 > done {
        return Err(io::Error::other(format!("{failed} of {} connections failed", done + failed)));
    }
    Ok(format!(
        r#"{{"conn_per_sec":{:.1},"connections":{done},"failed":{failed},"threads":{threads}}}"#,
        done as f64 / elapsed.as_secs_f64()
    ))
}

fn udp(addr: SocketAddr, size: usize, duration: Duration, window: usize) -> io::Result<String> {
    let socket = UdpSocket::bind(("0.0.0.0", 0))?;
    socket.connect(addr)?;
    // A lost datagram is noticed after this long and the window refilled.
    socket.set_read_timeout(Some(Duration::from_millis(20)))?;
    let payload = vec![0x5au8; size];
    let mut buf = vec![0u8; 65_536];
    let (mut echoed, mut refills) = (0u64, 0u64);
    let start = Instant::now();
    for _ in 0..window {
        socket.send(&payload)?;
    }
    while start.elapsed() < duration {
        match socket.recv(&mut buf) {
            Ok(n) if n == size => {
                echoed += 1;
                socket.send(&payload)?;
            }
            Ok(n) => return Err(io::Error::other(format!("echo of {size} bytes came back as {n}"))),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                refills += 1;
                for _ in 0..window {
                    socket.send(&payload)?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let elapsed = start.elapsed();
    Ok(format!(
        r#"{{"pps":{:.1},"echoed":{echoed},"refills":{refills},"size":{size}}}"#,
        echoed as f64 / elapsed.as_secs_f64()
    ))
}

fn hold(addr: SocketAddr, count: usize, ping_last: bool) -> io::Result<()> {
    let start = Instant::now();
    let mut streams = Vec::with_capacity(count);
    for i in 0..count {
        let stream = connect(addr).map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
        streams.push(stream);
    }
    // The server handles connections in order: an echo on the last one means it
    // has taken in all of them.
    if let Some(last) = streams.last_mut().filter(|_| ping_last) {
        last.set_nodelay(true)?;
        ping(last)?;
    }
    println!(r#"{{"held":{count},"secs":{:.3}}}"#, start.elapsed().as_secs_f64());
    io::stdout().flush()?;
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}
