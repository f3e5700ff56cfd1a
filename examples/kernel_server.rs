//! The Linux kernel as a contender in `scripts/bench.sh`: the same services as
//! `tunstack serve` (TCP echo 7, discard 9, HTTP `GET /bytes/N` on 80, UDP echo 7),
//! written with `std::net` so every byte goes through the kernel's own TCP/IP.
//! The script runs it in one network namespace and `bench_client` in another,
//! joined by a veth pair: the upper bound a user would compare a stack against.
//!
//! Port 5001 only accepts and keeps the connections (no thread, no buffer): the
//! memory measurement opens its idle connections there and reads the kernel's
//! slab growth, which is then the kernel's cost alone.
//!
//! Prints `ready` once every socket listens; runs until killed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::thread;

/// Listen backlog: std's 128 overflows when the accepting thread is descheduled
/// for a moment on a busy machine, and each overflow costs the client a 1 s SYN
/// retransmission.
const BACKLOG: libc::c_int = 4096;

/// A listener on `addr` with [`BACKLOG`]: `listen(2)` again on a listening
/// socket only changes its backlog.
fn listen(addr: &str) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    // SAFETY: listen on a descriptor the listener owns; no memory is passed.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

/// The HTTP body pattern: 0, 1, …, 255 repeated, as `tunstack serve` sends it.
fn pattern_block() -> Vec<u8> {
    (0..64 * 1024).map(|i| i as u8).collect()
}

fn main() -> io::Result<()> {
    let echo = listen("0.0.0.0:7")?;
    let discard = listen("0.0.0.0:9")?;
    let http = listen("0.0.0.0:80")?;
    let hold = listen("0.0.0.0:5001")?;
    let udp = UdpSocket::bind("0.0.0.0:7")?;
    spawn_tcp(echo, echo_conn);
    spawn_tcp(discard, discard_conn);
    spawn_tcp(http, http_conn);
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hold.incoming().flatten() {
            held.push(stream);
        }
    });
    thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&buf[..n], from);
        }
    });
    println!("ready");
    io::stdout().flush()?;
    loop {
        thread::park();
    }
}

/// A thread per connection, as a simple `std::net` server does.
fn spawn_tcp(listener: TcpListener, serve: fn(TcpStream) -> io::Result<()>) {
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let _ = serve(stream);
            });
        }
    });
}

fn echo_conn(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

fn discard_conn(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    while stream.read(&mut buf)? > 0 {}
    Ok(())
}

/// `GET /bytes/N`: a minimal response head, then N pattern bytes.
fn http_conn(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let n: u64 = request
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.strip_prefix("/bytes/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut stream = reader.into_inner();
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n")?;
    let block = pattern_block();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        stream.write_all(&block[..take])?;
        left -= take as u64;
    }
    Ok(())
}
