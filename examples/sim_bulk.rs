//! One bulk TCP transfer between two stacks in the simulator (`tunstack::sim`): no
//! TUN, no threads, no system calls, virtual time — so everything it costs is the
//! stacks' own code, and the same run costs the same instructions every time.
//! Made for profiling with valgrind (DESIGN.md, "Measuring"):
//!
//! ```sh
//! cargo build --profile profiling --example sim_bulk
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/profiling/examples/sim_bulk 20
//! callgrind_annotate cg.out | head -40
//! ```
//!
//! Host A (198.18.0.1) writes MiB megabytes (first argument, default 20) to host B
//! (198.18.0.2), which reads them all; A is the sending stack (stack → kernel in
//! the benchmark), B the receiving one (kernel → stack). MTU 1500, a perfect link
//! with 50 µs latency.

use std::net::SocketAddr;
use std::time::Duration;

use tunstack::sim::{LinkConfig, Sim, ADDR_B};

fn main() -> std::io::Result<()> {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let total = mib << 20;
    let link = LinkConfig { latency: Duration::from_micros(50), mtu: 1500, ..LinkConfig::default() };
    let mut sim = Sim::new(link);
    let server = SocketAddr::from((ADDR_B, 9));
    let listener = sim.b.tcp_listen(server, 8)?;
    let conn = sim.a.tcp_connect(sim.now(), server)?;
    let block = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0usize, 0usize);
    let mut peer = None;
    let done = sim.run_until(Duration::from_secs(3600), |sim| {
        peer = peer.or_else(|| sim.b.tcp_accept(listener).ok().map(|(h, _)| h));
        let now = sim.now();
        while sent < total {
            let n = (total - sent).min(block.len());
            match sim.a.tcp_send(now, conn, &block[..n]) {
                Ok(0) | Err(_) => break,
                Ok(k) => sent += k,
            }
        }
        if let Some(p) = peer {
            while let Ok(n) = sim.b.tcp_recv(now, p, &mut buf) {
                if n == 0 {
                    break;
                }
                received += n;
            }
        }
        received == total
    });
    if !done {
        return Err(std::io::Error::other(format!("only {received} of {total} bytes arrived")));
    }
    println!(
        "{mib} MiB from A to B in {:?} of virtual time",
        sim.now().saturating_duration_since(tunstack::Instant::ZERO)
    );
    Ok(())
}
