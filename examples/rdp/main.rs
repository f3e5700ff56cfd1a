//! An RDP echo server: tunstack on a TUN with the example protocol of
//! `protocol.rs` registered on IP protocol 253, sending every message back on
//! the flow it came from.
//!
//! ```sh
//! cargo build --example rdp
//! sudo unshare --net sh -c 'ip link set lo up
//!     target/debug/examples/rdp --pcap rdp.pcapng &
//!     sleep 1; python3 tests/helpers/rdp_client.py 198.18.0.2 20 100 3000'
//! ```
//!
//! The TUN's kernel side is 198.18.0.1/24 and the stack is 198.18.0.2, as for
//! `tunstack serve`. Options: `--tun NAME`, `--pcap FILE` (every packet in and
//! out, pcapng), `--loss P --seed N` (the fault injector drops that share of
//! packets each way, so retransmissions show). Prints `ready` once serving; on
//! SIGTERM or SIGINT prints RDP's statistics and the stack's counters and exits.

mod protocol;

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tunstack::capture::{Capture, CaptureDevice};
use tunstack::device::faults::{FaultConfig, FaultyDevice};
use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::socket::ProtocolHandle;
use tunstack::{Runtime, StackConfig};

use protocol::{Config, Rdp, PROTOCOL, READY};

#[derive(Parser)]
#[command(about = "RDP echo on IP protocol 253, inside tunstack on a TUN")]
struct Args {
    /// The TUN to create.
    #[arg(long, default_value = "tun0")]
    tun: String,
    /// Write every packet the stack receives and sends to FILE (pcapng).
    #[arg(long, value_name = "FILE")]
    pcap: Option<String>,
    /// Drop this share of packets each way (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Seed of the fault injector.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.loss) {
        eprintln!("rdp: --loss {} is not a probability between 0 and 1", args.loss);
        std::process::exit(2);
    }
    let tun = TunDevice::create(&TunConfig {
        name: args.tun.clone(),
        kernel_addr: Ipv4Addr::new(198, 18, 0, 1),
        prefix_len: 24,
        mtu: 1500,
        offload: false,
        kernel_addr6: None,
    })?;
    let faults = FaultConfig { loss: args.loss, seed: args.seed, ..FaultConfig::default() };
    let device = FaultyDevice::new(tun, faults);
    let config = StackConfig::default(); // 198.18.0.2
                                         // The capture wraps the fault injector: it shows what the stack really
                                         // sent and received.
    let (runtime, capture) = match &args.pcap {
        Some(path) => {
            let capture = Arc::new(Capture::create(path, &args.tun)?);
            (Runtime::spawn(CaptureDevice::new(device, Arc::clone(&capture)), config)?, Some(capture))
        }
        None => (Runtime::spawn(device, config)?, None),
    };
    let rdp = ProtocolHandle::register(&runtime, PROTOCOL, Rdp::new(Config::default()))?;
    stop_on_signal(runtime.clone(), rdp.clone(), capture)?;
    println!("ready");

    // The echo: wait until a message is in and its flow can take the reply,
    // then send it back — all in one call under the stack's lock.
    loop {
        rdp.wait(READY, None, |rdp, now| {
            let flow = rdp.peek()?;
            if !rdp.can_send(flow) {
                return None; // its queue is full: wait for ACKs to make room
            }
            let (flow, message) = rdp.recv()?;
            rdp.send(now, flow, &message).ok()
        })?;
    }
}

/// On SIGTERM or SIGINT: print RDP's statistics and every non-zero counter,
/// flush the capture, exit 0.
fn stop_on_signal(runtime: Runtime, rdp: ProtocolHandle<Rdp>, capture: Option<Arc<Capture>>) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            match rdp.with(|rdp, _| rdp.stats()) {
                Ok(stats) => println!("rdp: {stats:?}"),
                Err(e) => eprintln!("rdp: {e}"),
            }
            for (name, value) in runtime.counters().iter().filter(|(_, v)| *v != 0) {
                println!("  {name} {value}");
            }
            // The stack keeps running until the process ends (shutting it down
            // first would wake the echo loop with an error).
            if let Some(Err(e)) = capture.map(|c| c.flush()) {
                eprintln!("rdp: writing the capture failed: {e}");
            }
            std::process::exit(0);
        }
    });
    Ok(())
}
