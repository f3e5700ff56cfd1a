//! `tunstack serve`: the stack on a TUN with the classic services.
//!
//! It prints `listening …` per socket, then `ready`, and serves until SIGINT or
//! SIGTERM, then prints its counters, the fault injector's tallies, the `tcp:`
//! gauges and the UDP sockets. SIGUSR1 prints the counters and the `tcp:` gauges
//! at once, without stopping, ending with a `snapshot done` line (like `dd`'s
//! SIGUSR1 progress report): tests and curious people can watch the stack under
//! load.

use std::io::{self, Write};

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use super::link::LinkArgs;
use tunstack::ports::{services::service_name, Protocol};
use tunstack::services::{spawn_tcp, spawn_udp, TcpService, UdpService};
use tunstack::tcp::TcpSocketInfo;
use tunstack::{Counters, Stack, TcpListener};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Receive-queue bound of each UDP service socket, in datagrams.
    #[arg(long, default_value_t = 1024)]
    udp_queue: usize,
    /// Also listen on this TCP port (repeatable) and never accept: it exists to show
    /// backlog overflow. Connections fill the listen backlog (256 half-open, 128
    /// waiting for accept); later SYNs are dropped and counted in
    /// `tcp_listen_overflow`, so memory stays bounded however many clients come.
    #[arg(long, value_name = "PORT")]
    no_accept: Vec<u16>,
}

pub fn run(args: ServeArgs) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1])?;
    let link = args.link.start()?;
    let runtime = &link.runtime;
    let mut out = io::stdout().lock();
    let l = &args.link;
    let offload = if l.offload { ", offloads on" } else { "" };
    writeln!(
        out,
        "tunstack {} on {}: kernel {}/{}, mtu {}{offload}",
        l.addr, link.tun_name, l.peer.0, l.peer.1, l.mtu
    )?;
    let mut services = Vec::new();
    for service in TcpService::ALL {
        services.push(spawn_tcp(runtime, service)?);
    }
    for service in UdpService::ALL {
        services.push(spawn_udp(runtime, service, args.udp_queue)?);
    }
    for service in &services {
        writeln!(out, "listening {}", service.label)?;
    }
    // Held until exit and never accepted from: only the backlog bounds them.
    let mut idle_listeners = Vec::new();
    for &port in &args.no_accept {
        idle_listeners.push(TcpListener::bind(runtime, ("0.0.0.0", port))?);
        writeln!(out, "listening tcp/{port} no-accept")?;
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
        let mut out = io::stdout().lock();
        write_counters(&mut out, &counters)?;
        write_tcp_gauges(&mut out, &tcp, ports)?;
        writeln!(out, "snapshot done")?;
        out.flush()?;
    }
    drop(idle_listeners);

    let (counters, udp, tcp, ports) = runtime.with_stack(|stack, _| {
        (stack.counters().clone(), stack.udp_sockets(), stack.tcp_sockets(), ephemeral_in_use(stack))
    });
    if let Err(e) = link.shutdown() {
        eprintln!("tunstack: writing the capture: {e}");
    }
    for service in services {
        if service.thread.join().is_err() {
            eprintln!("tunstack: the {} service thread panicked", service.label);
        }
    }
    let mut out = io::stdout().lock();
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
