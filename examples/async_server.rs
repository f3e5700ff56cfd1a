//! tunstack's async API as a user would write a server with it, and a contender
//! in `scripts/bench.sh` ("async"): the same services as `tunstack serve` and
//! `smoltcp_server` — TCP echo 7, discard 9, `GET /bytes/N` on 80, UDP echo 7 —
//! each connection a tokio task on one current-thread runtime, no thread per
//! connection. The stack runs on that same thread: `Runtime::driven` hands back
//! its driver as a future, spawned beside the services, which reads the TUN
//! through tokio's reactor and wakes the tasks — a read never crosses threads.
//! (`--driver-thread` runs the stack on a driver thread of its own instead, as
//! `Runtime::spawn` does: the A/B of DESIGN.md, "Measuring".)
//!
//! Usage: `async_server [--tun tun0] [--mtu 1500] [--driver-thread]` (root,
//! inside a network
//! namespace: it creates the TUN with 198.18.0.1/24 on the kernel's side, the
//! stack at 198.18.0.2). Prints `ready` once every port listens; runs until
//! killed. `tunstack ss --tun tun0` and `tunstack stats --tun tun0` read its
//! socket table and counters through the control socket, as `serve`'s.

use std::io;

use clap::Parser;
use std::sync::Arc;

use tunstack::aio::{TcpListener, TcpStream, UdpSocket};
use tunstack::control::{self, ControlServer};
use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::{Runtime, StackConfig};

/// Connections each listener lets wait for `accept` (Linux's default
/// `somaxconn` since 5.4).
const BACKLOG: usize = 4096;

#[derive(Parser)]
#[command(about = "tunstack's async API serving echo, discard and /bytes/N on a TUN")]
struct Cli {
    #[arg(long, default_value = "tun0")]
    tun: String,
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Run the stack on a thread of its own rather than as a task.
    #[arg(long)]
    driver_thread: bool,
}

fn main() -> io::Result<()> {
    let cli = Cli::parse();
    let tun = TunDevice::create(&TunConfig {
        name: cli.tun.clone(),
        kernel_addr: "198.18.0.1".parse().map_err(|_| io::ErrorKind::InvalidInput)?,
        prefix_len: 24,
        mtu: cli.mtu,
        offload: false,
        kernel_addr6: None,
    })?;
    // A server that expects bursts of clients sizes its queues for them, as one
    // raises Linux's somaxconn and tcp_max_syn_backlog: a thousand clients
    // connecting at once should wait in the queues, not overflow into SYN
    // cookies and drops while the accept loop catches up.
    // The stack's MTU is the TUN's: it sets the MSS the SYN offers, so the
    // kernel's segments fill the link (the default is 1500).
    let mut config = StackConfig { mtu: cli.mtu, ..StackConfig::default() };
    config.tcp.accept_backlog = BACKLOG;
    config.tcp.syn_backlog = BACKLOG;
    let tasks = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let runtime = if cli.driver_thread {
        Runtime::spawn(tun, config)?
    } else {
        let (runtime, driver) = Runtime::driven(tun, config)?;
        tasks.spawn(driver.run());
        runtime
    };
    let answering = runtime.clone();
    let _control = ControlServer::start(
        &control::default_path(&cli.tun)?,
        Arc::new(move |request| control::answer(&answering, request)),
    )?;
    tasks.block_on(serve(runtime))
}

async fn serve(runtime: Runtime) -> io::Result<()> {
    let echo = TcpListener::bind_with_backlog(&runtime, "0.0.0.0:7", BACKLOG)?;
    let discard = TcpListener::bind_with_backlog(&runtime, "0.0.0.0:9", BACKLOG)?;
    let http = TcpListener::bind_with_backlog(&runtime, "0.0.0.0:80", BACKLOG)?;
    let udp = UdpSocket::bind(&runtime, "0.0.0.0:7")?;
    tokio::spawn(accept_loop(echo, echo_conn));
    tokio::spawn(accept_loop(discard, discard_conn));
    tokio::spawn(accept_loop(http, bytes_conn));
    println!("ready");
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = udp.recv_from(&mut buf).await?;
        udp.send_to(&buf[..n], from).await?;
    }
}

/// Accept connections forever, each served by a task of its own.
async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream));
    }
}

/// Echo (RFC 862): everything read is written back. The buffer starts small
/// and doubles (to 64 KiB) while reads fill it, so an idle connection costs
/// little.
async fn echo_conn(stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
        if n == buf.len() && n < 65_536 {
            buf.resize(n * 2, 0);
        }
    }
}

/// Discard (RFC 863): throw everything away (without copying it, as
/// `recv(…, MSG_TRUNC)` does), then close at the end of the stream.
async fn discard_conn(stream: TcpStream) -> io::Result<()> {
    while stream.discard(usize::MAX).await? > 0 {}
    Ok(())
}

/// `GET /bytes/N`: read the request head, answer with N bytes of the 0..=255
/// pattern, close.
async fn bytes_conn(stream: TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let n: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.strip_prefix("/bytes/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
    stream.write_all(response.as_bytes()).await?;
    let pattern: Vec<u8> = (0..65_536).map(|i| i as u8).collect();
    let mut left = n;
    while left > 0 {
        let chunk = usize::try_from(left.min(pattern.len() as u64)).unwrap_or(pattern.len());
        stream.write_all(&pattern[..chunk]).await?;
        left -= chunk as u64;
    }
    Ok(())
}
