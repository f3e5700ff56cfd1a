//! `tunstack connect HOST PORT [--udp]`: a netcat whose connection runs through the
//! user-space stack. Standard input goes to the peer, the peer's bytes to standard
//! output; it exits 0 once both directions are closed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;

use clap::Args;

use super::link::LinkArgs;
use super::{output_closed, TraceArgs};
use tunstack::{Runtime, TcpStream, UdpSocket};

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The peer's address (usually the kernel side, e.g. 198.18.0.1; an IPv6
    /// address such as 2001:2::1 with --addr6).
    host: IpAddr,
    /// The peer's port (TCP, or UDP with `--udp`), 1–65535.
    #[arg(value_parser = clap::value_parser!(u16).range(1..), allow_negative_numbers = true)]
    port: u16,
    /// UDP instead of TCP: each read of stdin becomes one datagram.
    #[arg(long)]
    udp: bool,
    /// Give up connecting after this many seconds (TCP).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    timeout: u64,
    /// UDP: after stdin ends, wait this long for replies before exiting.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    linger_ms: u64,
    /// Print the stack's counters to stderr on exit.
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    link: LinkArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
}

impl ConnectArgs {
    /// See [`Cli::check`](super::Cli::check).
    pub fn check(&self) -> Result<(), String> {
        if self.host.is_ipv6() && self.link.addr6().is_none() {
            return Err(format!("{} is an IPv6 address, but the stack has none: add --addr6", self.host));
        }
        self.link.check()
    }
}

pub fn run(args: ConnectArgs) -> io::Result<()> {
    let link = args.link.start()?;
    let peer = SocketAddr::from((args.host, args.port));
    let result = if args.udp { udp(&link.runtime, peer, &args) } else { tcp(&link.runtime, peer, &args) };
    if args.stats {
        let mut stderr = io::stderr().lock();
        for (name, value) in link.runtime.counters().iter().filter(|(_, v)| *v > 0) {
            // Standard error may be closed: the counters are a courtesy, not the job.
            let _ = writeln!(stderr, "{name} {value}");
        }
    }
    let flushed = link.shutdown();
    result.and(flushed)
}

fn tcp(runtime: &Runtime, peer: SocketAddr, args: &ConnectArgs) -> io::Result<()> {
    let stream = TcpStream::connect_timeout(runtime, &peer, Duration::from_secs(args.timeout.max(1)))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {peer}: {e}")))?;
    let writer = std::thread::spawn({
        let mut to_peer = stream.try_clone()?;
        move || -> io::Result<()> {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdin.read(&mut buf)?;
                if n == 0 {
                    return to_peer.shutdown(Shutdown::Write);
                }
                to_peer.write_all(&buf[..n])?;
            }
        }
    });
    let mut from_peer = stream;
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_peer.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stdout.write_all(&buf[..n]).map_err(output_closed)?;
    }
    stdout.flush().map_err(output_closed)?;
    writer.join().map_err(|_| io::Error::other("stdin thread panicked"))?
}

fn udp(runtime: &Runtime, peer: SocketAddr, args: &ConnectArgs) -> io::Result<()> {
    let socket = UdpSocket::bind(runtime, if peer.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" })?;
    socket.connect(peer)?;
    socket.set_read_timeout(Some(Duration::from_millis(args.linger_ms.max(1))))?;
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 65_507];
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            break;
        }
        socket.send(&buf[..n])?;
    }
    let mut reply = vec![0u8; 65_536];
    loop {
        match socket.recv(&mut reply) {
            Ok(n) => stdout.write_all(&reply[..n]).map_err(output_closed)?,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{peer}: {e}"))),
        }
    }
    stdout.flush().map_err(output_closed)
}
