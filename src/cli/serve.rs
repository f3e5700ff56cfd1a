//! `tunstack serve`: the stack on a TUN with the classic services.

use std::io::{self, Write};
use std::net::Ipv4Addr;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::services::{spawn_tcp, spawn_udp, TcpService, UdpService};
use tunstack::{Runtime, StackConfig};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Name of the TUN interface to create.
    #[arg(long, default_value = "tun0")]
    tun: String,
    /// The stack's own IPv4 address.
    #[arg(long, default_value = "198.18.0.2")]
    addr: Ipv4Addr,
    /// The kernel side's address and prefix on the TUN.
    #[arg(long, default_value = "198.18.0.1/24", value_parser = parse_cidr)]
    peer: (Ipv4Addr, u8),
    /// Link MTU.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(68..))]
    mtu: u16,
    /// Receive-queue bound of each service socket, in datagrams.
    #[arg(long, default_value_t = 1024)]
    udp_queue: usize,
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or("expected ADDRESS/PREFIX, e.g. 198.18.0.1/24")?;
    let addr: Ipv4Addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let len: u8 = len.parse().map_err(|e| format!("{len}: {e}"))?;
    if len > 32 {
        return Err(format!("prefix length {len} is above 32"));
    }
    Ok((addr, len))
}

pub fn run(args: ServeArgs) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let device = TunDevice::create(&TunConfig {
        name: args.tun.clone(),
        kernel_addr: args.peer.0,
        prefix_len: args.peer.1,
        mtu: usize::from(args.mtu),
    })?;
    let tun_name = device.name().to_string();
    let config = StackConfig {
        addr: args.addr,
        mtu: usize::from(args.mtu),
        ..StackConfig::default()
    };
    let runtime = Runtime::spawn(device, config)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "tunstack {} on {tun_name}: kernel {}/{}, mtu {}",
        args.addr, args.peer.0, args.peer.1, args.mtu
    )?;
    let mut services = Vec::new();
    for service in TcpService::ALL {
        services.push(spawn_tcp(&runtime, service)?);
    }
    for service in UdpService::ALL {
        services.push(spawn_udp(&runtime, service, args.udp_queue)?);
    }
    for service in &services {
        writeln!(out, "listening {}", service.label)?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);

    signals.forever().next();

    let (counters, sockets) =
        runtime.with_stack(|stack, _| (stack.counters().clone(), stack.udp_sockets()));
    runtime.shutdown();
    for service in services {
        if service.thread.join().is_err() {
            eprintln!("tunstack: the {} service thread panicked", service.label);
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "counters:")?;
    for (name, value) in counters.iter() {
        writeln!(out, "  {name} {value}")?;
    }
    writeln!(out, "sockets:")?;
    for socket in sockets {
        let name = tunstack::ports::services::service_name(
            tunstack::ports::Protocol::Udp,
            socket.local.port(),
        )
        .unwrap_or("-");
        writeln!(
            out,
            "  udp/{} {name} received={} dropped={}",
            socket.local.port(),
            socket.received,
            socket.dropped
        )?;
    }
    out.flush()
}
