//! `tunstack serve`: the stack on a TUN with the classic services.

use std::io::{self, Write};

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::link::LinkArgs;
use tunstack::ports::{services::service_name, Protocol};
use tunstack::services::{spawn_tcp, spawn_udp, TcpService, UdpService};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Receive-queue bound of each UDP service socket, in datagrams.
    #[arg(long, default_value_t = 1024)]
    udp_queue: usize,
}

pub fn run(args: ServeArgs) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let link = args.link.start()?;
    let runtime = &link.runtime;
    let mut out = io::stdout().lock();
    let l = &args.link;
    writeln!(out, "tunstack {} on {}: kernel {}/{}, mtu {}", l.addr, link.tun_name, l.peer.0, l.peer.1, l.mtu)?;
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
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);

    signals.forever().next();

    let (counters, udp, tcp) =
        runtime.with_stack(|stack, _| (stack.counters().clone(), stack.udp_sockets(), stack.tcp_sockets()));
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
    let faults = link.device.stats();
    writeln!(out, "faults:")?;
    writeln!(out, "  dropped {}", faults.dropped)?;
    writeln!(out, "  duplicated {}", faults.duplicated)?;
    writeln!(out, "  reordered {}", faults.reordered)?;
    writeln!(out, "  corrupted {}", faults.corrupted)?;
    writeln!(out, "  delayed {}", faults.delayed)?;
    writeln!(out, "tcp:")?;
    let listeners = tcp.iter().filter(|s| s.state == "LISTEN").count();
    let time_wait = tcp.iter().filter(|s| s.state == "TIME-WAIT").count();
    writeln!(out, "  listeners {listeners}")?;
    writeln!(out, "  connections {}", tcp.len() - listeners)?;
    writeln!(out, "  time_wait {time_wait}")?;
    writeln!(out, "sockets:")?;
    for socket in udp {
        let name = service_name(Protocol::Udp, socket.local.port()).unwrap_or("-");
        writeln!(out, "  udp/{} {name} received={} dropped={}", socket.local.port(), socket.received, socket.dropped)?;
    }
    out.flush()
}
