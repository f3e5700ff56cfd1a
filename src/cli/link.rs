//! Options shared by `serve` and `connect`: the TUN, the stack's settings, the
//! fault injector (netem's vocabulary) and the packet capture.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use tunstack::capture::{Capture, CaptureDevice};
use tunstack::device::faults::{FaultConfig, FaultyDevice};
use tunstack::device::tun::{TunConfig, TunDevice};
use tunstack::{Runtime, StackConfig};

use super::tcp_args::TcpArgs;

#[derive(Args, Debug, Clone)]
pub struct LinkArgs {
    /// Name of the TUN interface to create (at most 15 bytes).
    #[arg(long, default_value = "tun0", value_parser = super::interface_name)]
    pub tun: String,
    /// The stack's own IPv4 address: on `--peer`'s subnet, not the kernel's own.
    #[arg(long, default_value = "198.18.0.2")]
    pub addr: Ipv4Addr,
    /// The stack's own IPv6 address, e.g. 2001:2::2; without it IPv6 is off (its
    /// packets are counted as `ip6_rx_disabled`).
    #[arg(long)]
    pub addr6: Option<Ipv6Addr>,
    /// IPv6 sockets bound to [::] refuse IPv4 from the start (Linux's
    /// net.ipv6.bindv6only): with --addr6 the UDP services then answer IPv6 only.
    #[arg(long)]
    pub bindv6only: bool,
    /// The kernel side's IPv6 address and prefix on the TUN, e.g. 2001:2::1/64
    /// (needs --addr6, on that prefix). Without it the kernel side gets no IPv6
    /// address from tunstack.
    #[arg(long, value_parser = parse_cidr6)]
    pub peer6: Option<(Ipv6Addr, u8)>,
    /// IPv6 with the addresses of the IPv6 benchmarking range (RFC 5180): the
    /// stack 2001:2::2, the kernel side 2001:2::1/64 — `--addr6 2001:2::2
    /// --peer6 2001:2::1/64`, either of which may still be given to change it.
    #[arg(long)]
    pub ipv6: bool,
    /// The kernel side's address and prefix on the TUN.
    #[arg(long, default_value = "198.18.0.1/24", value_parser = parse_cidr)]
    pub peer: (Ipv4Addr, u8),
    /// Link MTU.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(68..), allow_negative_numbers = true)]
    pub mtu: u16,
    /// TCP maximum segment lifetime in milliseconds (TIME-WAIT lasts twice this).
    #[arg(long, default_value_t = 30_000, allow_negative_numbers = true)]
    pub msl_ms: u64,
    /// Drop this fraction of packets, each direction (0.0–1.0).
    #[arg(long, default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub loss: f64,
    /// Duplicate this fraction of packets.
    #[arg(long, default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub duplicate: f64,
    /// Send this fraction of packets at once while the rest wait `--delay`.
    #[arg(long, default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub reorder: f64,
    /// Flip one bit in this fraction of packets.
    #[arg(long, default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub corrupt: f64,
    /// Delay every packet by this many milliseconds, each direction.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub delay: u64,
    /// Seed of the fault injector (and of the stack's own random choices).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub seed: u64,
    /// Write every packet the stack sends and receives to FILE as pcapng (raw IPv4,
    /// direction flags; dropped packets carry the reason as a comment). Captured
    /// inside the fault injector: what the stack really sent and received.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Open the TUN with virtio-net headers and checksum/TCP segmentation offloads:
    /// the kernel passes TCP segments of up to 64 KiB, and back-to-back segments of
    /// ours go out as one write for the kernel to cut (also: TUNSTACK_OFFLOAD=1).
    #[arg(long, env = "TUNSTACK_OFFLOAD", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub offload: bool,
    #[command(flatten)]
    pub tcp: TcpArgs,
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, len) = s.split_once('/').ok_or("expected ADDRESS/PREFIX, e.g. 198.18.0.1/24")?;
    let addr: Ipv4Addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let len: u8 = len.parse().map_err(|e| format!("{len}: {e}"))?;
    if len > 32 {
        return Err(format!("prefix length {len} is above 32"));
    }
    Ok((addr, len))
}

fn parse_cidr6(s: &str) -> Result<(Ipv6Addr, u8), String> {
    let (addr, len) = s.split_once('/').ok_or("expected ADDRESS/PREFIX, e.g. 2001:2::1/64")?;
    let addr: Ipv6Addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let len: u8 = len.parse().map_err(|e| format!("{len}: {e}"))?;
    if len > 128 {
        return Err(format!("prefix length {len} is above 128"));
    }
    Ok((addr, len))
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|e| format!("{s}: {e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// A running stack on a fresh TUN, with the fault injector in front of it.
pub struct Link {
    pub runtime: Runtime,
    pub device: Arc<FaultyDevice<TunDevice>>,
    pub tun_name: String,
    /// The `--pcap` capture, to flush on exit.
    pub capture: Option<Arc<Capture>>,
}

impl Link {
    /// Stop the stack and flush the capture.
    pub fn shutdown(&self) -> io::Result<()> {
        self.runtime.shutdown();
        match &self.capture {
            Some(capture) => capture.flush(),
            None => Ok(()),
        }
    }
}

impl LinkArgs {
    /// The addresses make sense together: the stack's is on the kernel's subnet
    /// (or the kernel would not route it into the TUN), is not the kernel's own,
    /// and is not the subnet's network or broadcast address.
    pub fn check(&self) -> Result<(), String> {
        self.check_v6()?;
        let (kernel, prefix) = self.peer;
        let addr = self.addr;
        if addr == kernel {
            return Err(format!(
                "--addr {addr} is the kernel's address (--peer {kernel}/{prefix}): the stack needs an address \
                 of its own on that subnet"
            ));
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let network = u32::from(kernel) & mask;
        if u32::from(addr) & mask != network {
            return Err(format!(
                "--addr {addr} is outside --peer's subnet {}/{prefix}: the kernel would not route it into \
                 the TUN",
                Ipv4Addr::from(network)
            ));
        }
        let broadcast = network | !mask;
        if prefix <= 30 && (u32::from(addr) == network || u32::from(addr) == broadcast) {
            let which = if u32::from(addr) == network { "network" } else { "broadcast" };
            return Err(format!(
                "--addr {addr} is the {which} address of --peer's subnet {}/{prefix}",
                Ipv4Addr::from(network)
            ));
        }
        Ok(())
    }

    /// The stack's IPv6 address: `--addr6`, or with `--ipv6` 2001:2::2.
    pub fn addr6(&self) -> Option<Ipv6Addr> {
        self.addr6.or(self.ipv6.then_some(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2)))
    }

    /// The kernel side's IPv6 address and prefix: `--peer6`, or with `--ipv6`
    /// 2001:2::1/64.
    pub fn peer6(&self) -> Option<(Ipv6Addr, u8)> {
        self.peer6.or(self.ipv6.then_some((Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1), 64)))
    }

    /// The IPv6 addresses, when given, make sense together: `--peer6` needs
    /// `--addr6` on its prefix, and the two differ.
    fn check_v6(&self) -> Result<(), String> {
        let Some((kernel, prefix)) = self.peer6() else { return Ok(()) };
        let Some(addr) = self.addr6() else {
            return Err(format!(
                "--peer6 {kernel}/{prefix} gives the kernel an IPv6 address, but the stack has none: add --addr6"
            ));
        };
        if addr == kernel {
            return Err(format!("--addr6 {addr} is the kernel's address (--peer6 {kernel}/{prefix})"));
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        if u128::from(addr) & mask != u128::from(kernel) & mask {
            let network = Ipv6Addr::from(u128::from(kernel) & mask);
            return Err(format!("--addr6 {addr} is outside --peer6's prefix {network}/{prefix}: the kernel would not route it into the TUN"));
        }
        Ok(())
    }

    /// Create and configure the TUN, and start the stack on it.
    pub fn start(&self) -> io::Result<Link> {
        let tun = TunDevice::create(&TunConfig {
            name: self.tun.clone(),
            kernel_addr: self.peer.0,
            prefix_len: self.peer.1,
            kernel_addr6: self.peer6(),
            mtu: usize::from(self.mtu),
            offload: self.offload,
        })?;
        let tun_name = tun.name().to_string();
        let faults = FaultConfig {
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
            corrupt: self.corrupt,
            delay: Duration::from_millis(self.delay),
            seed: self.seed,
        };
        let device = Arc::new(FaultyDevice::new(tun, faults));
        let mut config = StackConfig {
            addr: self.addr,
            addr6: self.addr6(),
            bind_v6only: self.bindv6only,
            mtu: usize::from(self.mtu),
            seed: self.seed,
            ..StackConfig::default()
        };
        config.tcp.msl = Duration::from_millis(self.msl_ms);
        self.tcp.apply(&mut config.tcp);
        // The capture wraps the fault injector: the stack talks to it directly, so
        // it records exactly what the stack sent and received.
        let (runtime, capture) = match &self.pcap {
            Some(path) => {
                let capture = Arc::new(Capture::create(path, &tun_name)?);
                let recorded = CaptureDevice::new(Arc::clone(&device), Arc::clone(&capture));
                (Runtime::spawn(recorded, config)?, Some(capture))
            }
            None => (Runtime::spawn(Arc::clone(&device), config)?, None),
        };
        Ok(Link { runtime, device, tun_name, capture })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Link {
        #[command(flatten)]
        link: LinkArgs,
    }

    fn check(args: &[&str]) -> Result<(), String> {
        let parsed =
            Link::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        parsed.link.check()
    }

    #[test]
    fn addresses_are_checked_together() {
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&["--addr", "198.18.0.254"]), Ok(()));
        assert_eq!(check(&["--addr", "10.1.2.3", "--peer", "10.0.0.1/8"]), Ok(()));
        let refused = |args: &[&str], why: &str| {
            let e = check(args).expect_err("accepted");
            assert!(e.contains(why), "{args:?}: {e}");
        };
        refused(&["--addr", "198.18.0.1"], "kernel's address");
        assert_eq!(check(&["--addr6", "2001:2::2"]), Ok(()), "the kernel side set up by hand");
        assert_eq!(check(&["--addr6", "2001:2::2", "--peer6", "2001:2::1/64"]), Ok(()));
        assert_eq!(check(&["--ipv6"]), Ok(()), "the benchmarking range's defaults");
        assert_eq!(check(&["--ipv6", "--addr6", "2001:2::7"]), Ok(()), "one changed");
        refused(&["--ipv6", "--addr6", "2001:3::2"], "outside --peer6's prefix 2001:2::/64");
        let parsed = Link::try_parse_from(["t", "--ipv6"]).expect("parses");
        assert_eq!(parsed.link.addr6(), Some("2001:2::2".parse().expect("addr")));
        assert_eq!(parsed.link.peer6(), Some(("2001:2::1".parse().expect("addr"), 64)));
        refused(&["--peer6", "2001:2::1/64"], "add --addr6");
        refused(&["--addr6", "2001:2::1", "--peer6", "2001:2::1/64"], "kernel's address");
        refused(&["--addr6", "2001:3::2", "--peer6", "2001:2::1/64"], "outside --peer6's prefix 2001:2::/64");
        refused(&["--addr6", "2001:2::2", "--peer6", "2001:2::1/129"], "above 128");
        refused(&["--addr6", "2001:2::2", "--peer6", "2001:2::1"], "ADDRESS/PREFIX");
        refused(&["--addr", "198.18.1.2"], "outside --peer's subnet 198.18.0.0/24");
        refused(&["--addr", "10.0.0.2", "--peer", "10.0.0.1/32"], "outside");
        refused(&["--addr", "198.18.0.0"], "network address");
        refused(&["--addr", "198.18.0.255"], "broadcast address");
        assert_eq!(check(&["--addr", "10.0.0.0", "--peer", "10.0.0.1/31"]), Ok(()));
    }

    #[test]
    fn negative_numbers_are_values_then_refused() {
        let e = check(&["--loss", "-0.5"]).expect_err("accepted");
        assert!(e.contains("not a probability"), "{e}");
        let e = check(&["--delay", "-5"]).expect_err("accepted");
        assert!(e.contains("invalid value '-5'"), "{e}");
    }

    #[test]
    fn long_tun_names_are_refused() {
        let e = check(&["--tun", "abcdefghijklmnop"]).expect_err("accepted");
        assert!(e.contains("at most 15"), "{e}");
    }
}
