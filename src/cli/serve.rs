//! `tunstack serve`: the stack on a TUN with the classic services.
//!
//! It prints `listening …` per socket, then `ready`, and serves until SIGINT or
//! SIGTERM, then prints its counters, the fault injector's tallies, the `tcp:`
//! gauges and the UDP sockets. SIGUSR1 prints the counters and the `tcp:` gauges
//! at once, without stopping, ending with a `snapshot done` line (like `dd`'s
//! SIGUSR1 progress report): tests and curious people can watch the stack under
//! load.
//!
//! While it runs, a control socket (`--control`, by default
//! `/run/tunstack/<tun>.<netns>.sock`, see [`tunstack::control`]) answers
//! `tunstack ss` and `tunstack stats`; its path is printed as `control PATH`
//! before `ready`.
//!
//! Its standard output is only a report: when nobody reads it any more (a closed
//! pipe), it keeps serving and stops printing.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use super::link::LinkArgs;
use super::{warn, TraceArgs};
use tunstack::control::{self, ControlServer};
use tunstack::ports::{services::service_name, Protocol};
use tunstack::services::{recv_queue_bytes, spawn_raw_echo, spawn_tcp, spawn_udp, TcpService, UdpService};
use tunstack::TcpSocketInfo;
use tunstack::{Counters, RawSocket, Runtime, Stack, TcpListener, UdpSocket};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Receive-queue bound of each UDP service socket, in datagrams.
    #[arg(long, default_value_t = 1024, allow_negative_numbers = true)]
    udp_queue: usize,
    /// Also listen on this TCP port (repeatable) and never accept: it exists to show
    /// backlog overflow. Connections fill the listen backlog (256 half-open, 128
    /// waiting for accept); later SYNs are dropped and counted in
    /// `tcp_listen_overflow`, so memory stays bounded however many clients come.
    #[arg(long, value_name = "PORT", value_parser = port, allow_negative_numbers = true)]
    no_accept: Vec<u16>,
    /// Also bind this UDP port (repeatable) and never read from it: datagrams fill
    /// its receive queue (`--udp-queue`) and the rest are dropped and counted, per
    /// socket (`tunstack ss`) and in `udp_rx_queue_full`.
    #[arg(long, value_name = "PORT", value_parser = port, allow_negative_numbers = true)]
    udp_no_read: Vec<u16>,
    /// Serve echo on this IP protocol number (repeatable; e.g. 253, RFC 3692's
    /// experimental): every datagram of it comes back to its sender. A protocol
    /// nobody serves is answered with ICMP protocol unreachable.
    #[arg(long, value_name = "PROTO", value_parser = raw_protocol)]
    raw_echo: Vec<u8>,
    /// Also open a raw socket for this IP protocol (repeatable) and never read
    /// from it: datagrams fill its receive queue (`--udp-queue` datagrams) and the
    /// rest are dropped and counted in `raw_rx_queue_full`.
    #[arg(long, value_name = "PROTO", value_parser = raw_protocol)]
    raw_no_read: Vec<u8>,
    /// Serve only these services (comma-separated: echo, discard, daytime, chargen,
    /// http), on TCP and on UDP where the service has both. Default: all of them.
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    services: Vec<String>,
    /// Where the control socket for `tunstack ss` and `tunstack stats` goes
    /// (mode 0600), in a directory that exists. Default:
    /// /run/tunstack/<tun>.<netns inode>.sock (the directory is created).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Run without a control socket.
    #[arg(long, conflicts_with = "control")]
    no_control: bool,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// A port to bind as it is: 0 would ask for an ephemeral one instead.
fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) => Err("port 0 is not a port to listen on (it would bind a random ephemeral port)".into()),
        Ok(port) => Ok(port),
        Err(e) => Err(format!("{s}: {e} (a port is 1–65535)")),
    }
}

/// An IP protocol number a raw socket may take: not ICMP (1), TCP (6) or UDP
/// (17), which the stack speaks itself, nor the reserved 0 and 255.
fn raw_protocol(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(p @ (0 | 1 | 6 | 17 | 255)) => {
            Err(format!("IP protocol {p} cannot be served raw (reserved, or the stack's own ICMP/TCP/UDP)"))
        }
        Ok(p) => Ok(p),
        Err(e) => Err(format!("{s}: {e} (an IP protocol number is 0–255)")),
    }
}

impl ServeArgs {
    /// See [`Cli::check`](super::Cli::check): the link's addresses, and an
    /// explicit `--control` path's directory (only the default one is created).
    pub fn check(&self) -> Result<(), String> {
        self.link.check()?;
        if let Some(path) = &self.control {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(format!(
                    "--control {}: the directory {} does not exist (create it, or leave --control out \
                     for the default path)",
                    path.display(),
                    dir.display()
                ));
            }
        }
        Ok(())
    }

    /// Whether `name` was asked for with `--services` (or none were named). An
    /// unknown name is an error, so a typo does not silently serve nothing.
    fn wants(&self, name: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == name)
    }

    fn check_services(&self) -> io::Result<()> {
        let known: Vec<&str> = TcpService::ALL.iter().map(|s| s.name()).collect();
        match self.services.iter().find(|s| !known.contains(&s.as_str())) {
            Some(unknown) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown service {unknown:?} (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// Start the control socket, unless `--no-control`.
    fn start_control(&self, runtime: &Runtime, tun_name: &str) -> io::Result<Option<ControlServer>> {
        if self.no_control {
            return Ok(None);
        }
        let path = match &self.control {
            Some(path) => path.clone(),
            None => control::default_path(tun_name)?,
        };
        let runtime = runtime.clone();
        let server = ControlServer::start(&path, Arc::new(move |request| control::answer(&runtime, request)))
            .map_err(|e| io::Error::new(e.kind(), format!("control socket: {e} (or run with --no-control)")))?;
        Ok(Some(server))
    }
}

pub fn run(args: ServeArgs) -> io::Result<()> {
    args.check_services()?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1])?;
    let link = args.link.start()?;
    let runtime = &link.runtime;
    let mut out = report();
    let l = &args.link;
    let offload = if l.offload { ", offloads on" } else { "" };
    writeln!(
        out,
        "tunstack {} on {}: kernel {}/{}, mtu {}{offload}",
        l.addr, link.tun_name, l.peer.0, l.peer.1, l.mtu
    )?;
    let mut services = Vec::new();
    for service in TcpService::ALL.into_iter().filter(|s| args.wants(s.name())) {
        services.push(spawn_tcp(runtime, service)?);
    }
    for service in UdpService::ALL.into_iter().filter(|s| args.wants(s.name())) {
        services.push(spawn_udp(runtime, service, args.udp_queue)?);
    }
    for &protocol in &args.raw_echo {
        services.push(spawn_raw_echo(runtime, protocol, args.udp_queue)?);
    }
    for service in &services {
        writeln!(out, "listening {}", service.label)?;
    }
    let mut raw_unread = Vec::new();
    for &protocol in &args.raw_no_read {
        let socket = RawSocket::bind(runtime, protocol, std::net::Ipv4Addr::UNSPECIFIED)?;
        socket.set_recv_queue_capacity(args.udp_queue, recv_queue_bytes(args.udp_queue))?;
        raw_unread.push(socket);
        writeln!(out, "listening raw/{protocol} no-read")?;
    }
    // With an IPv6 address, these listen dual-stack on `[::]` (IPv6-only with
    // --bindv6only), as the UDP services do.
    let any = if args.link.addr6().is_some() { "::" } else { "0.0.0.0" };
    // Held until exit and never accepted from: only the backlog bounds them.
    let mut idle_listeners = Vec::new();
    for &port in &args.no_accept {
        idle_listeners.push(TcpListener::bind(runtime, (any, port))?);
        writeln!(out, "listening tcp/{port} no-accept")?;
    }
    // Held until exit and never read: only the receive queue's bound holds them.
    let mut unread = Vec::new();
    for &port in &args.udp_no_read {
        let socket = UdpSocket::bind(runtime, (any, port))?;
        socket.set_recv_queue_capacity(args.udp_queue, recv_queue_bytes(args.udp_queue))?;
        unread.push(socket);
        writeln!(out, "listening udp/{port} no-read")?;
    }
    let control = args.start_control(runtime, &link.tun_name)?;
    if let Some(control) = &control {
        writeln!(out, "control {}", control.path().display())?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);

    for signal in signals.forever() {
        if signal != SIGUSR1 {
            break;
        }
        let (counters, tcp, ports) =
            runtime.with_stack(|stack, _| (stack.counters().clone(), stack.tcp_sockets(), ephemeral_in_use(stack)));
        let mut out = report();
        write_counters(&mut out, &counters)?;
        write_tcp_gauges(&mut out, &tcp, ports)?;
        writeln!(out, "snapshot done")?;
        out.flush()?;
    }
    drop(control);
    drop(idle_listeners);

    let (counters, udp, tcp, ports) = runtime.with_stack(|stack, _| {
        (stack.counters().clone(), stack.udp_sockets(), stack.tcp_sockets(), ephemeral_in_use(stack))
    });
    drop(unread);
    drop(raw_unread);
    if let Err(e) = link.shutdown() {
        warn(format_args!("writing the capture: {e}"));
    }
    let mut out = report();
    write_counters(&mut out, &counters)?;
    let faults = link.device.stats();
    writeln!(out, "faults:")?;
    writeln!(out, "  dropped {}", faults.dropped)?;
    writeln!(out, "  duplicated {}", faults.duplicated)?;
    writeln!(out, "  reordered {}", faults.reordered)?;
    writeln!(out, "  corrupted {}", faults.corrupted)?;
    writeln!(out, "  delayed {}", faults.delayed)?;
    write_tcp_gauges(&mut out, &tcp, ports)?;
    writeln!(out, "sockets:")?;
    for socket in udp {
        let name = service_name(Protocol::Udp, socket.local.port()).unwrap_or("-");
        writeln!(out, "  udp/{} {name} received={} dropped={}", socket.local.port(), socket.received, socket.dropped)?;
    }
    out.flush()
}

/// `serve`'s standard output: a report for whoever reads it. A reader that goes
/// away (`serve | head -3`) does not stop the stack: it serves on, and what it
/// would have printed is dropped.
struct Report(io::StdoutLock<'static>);

fn report() -> Report {
    Report(io::stdout().lock())
}

impl Write for Report {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

fn write_counters(out: &mut impl Write, counters: &Counters) -> io::Result<()> {
    writeln!(out, "counters:")?;
    for (name, value) in counters.iter() {
        writeln!(out, "  {name} {value}")?;
    }
    Ok(())
}

/// The `tcp:` block: how many sockets the stack holds right now. `connections`
/// counts every non-listening socket, whatever its state; `ephemeral_ports` the
/// TCP ports of the ephemeral range still bound (a leak shows up here).
fn write_tcp_gauges(out: &mut impl Write, tcp: &[TcpSocketInfo], ephemeral_ports: usize) -> io::Result<()> {
    let count = |state: &str| tcp.iter().filter(|s| s.state == state).count();
    let listeners = count("LISTEN");
    writeln!(out, "tcp:")?;
    writeln!(out, "  listeners {listeners}")?;
    writeln!(out, "  connections {}", tcp.len() - listeners)?;
    writeln!(out, "  syn_received {}", count("SYN-RECEIVED"))?;
    writeln!(out, "  established {}", count("ESTABLISHED"))?;
    writeln!(out, "  time_wait {}", count("TIME-WAIT"))?;
    writeln!(out, "  ephemeral_ports {ephemeral_ports}")
}

/// TCP ports of the configured ephemeral range that are bound.
fn ephemeral_in_use(stack: &Stack) -> usize {
    let range = &stack.config().ports.ephemeral;
    stack.tcp_ports().iter().filter(|p| range.contains(p)).count()
}
