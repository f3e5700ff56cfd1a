//! Every bound and knob of the stack in one place.
//!
//! Nothing in the core grows without a limit: each queue, table and buffer has its bound
//! here, and overflowing it increments a counter instead of allocating more.

use std::net::Ipv4Addr;
use std::time::Duration;

pub use crate::ip::reassembly::ReassemblyConfig;
pub use crate::ports::PortConfig;
pub use crate::shared::QueueLimit;
pub use crate::tcp::rtt::RtoConfig;
pub use crate::tcp::{Keepalive, SynCookies, TcpConfig};

/// Configuration of one [`Stack`](crate::Stack).
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The stack's own IPv4 address.
    pub addr: Ipv4Addr,
    /// Link MTU: the largest IP packet the device carries. Larger datagrams are
    /// fragmented on output (RFC 791 §2.3).
    pub mtu: usize,
    /// TTL written on every packet we originate (RFC 1122 3.2.1.7: 64 is customary).
    pub ttl: u8,
    /// IPv4 fragment reassembly bounds.
    pub reassembly: ReassemblyConfig,
    /// Port-namespace settings shared by the TCP and UDP tables.
    pub ports: PortConfig,
    /// Default capacity of a new UDP socket's receive queue.
    pub udp_recv_queue: QueueLimit,
    /// Most UDP sockets open at once.
    pub max_udp_sockets: usize,
    /// ICMP error rate limit: a token bucket of this many messages…
    pub icmp_error_burst: u32,
    /// …refilled at this many per second (RFC 1812 4.3.2.8, RFC 1122 3.2.2).
    pub icmp_errors_per_sec: u32,
    /// Most packets waiting in the output queue before new ones are dropped.
    pub max_tx_queue: usize,
    /// TCP settings and bounds.
    pub tcp: TcpConfig,
    /// Seed for every pseudo-random choice (ephemeral ports, IP identification), so
    /// a run can be reproduced.
    pub seed: u64,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            addr: Ipv4Addr::new(198, 18, 0, 2),
            mtu: 1500,
            ttl: 64,
            reassembly: ReassemblyConfig::default(),
            ports: PortConfig::default(),
            udp_recv_queue: QueueLimit::default(),
            max_udp_sockets: 4096,
            icmp_error_burst: 50,
            icmp_errors_per_sec: 100,
            max_tx_queue: 4096,
            tcp: TcpConfig::default(),
            seed: 0x7475_6e73_7461_636b,
        }
    }
}

impl StackConfig {
    /// The `linux` compatibility profile: settings under which the stack answers as a
    /// Linux host does, so packetdrill scripts written for Linux read the same. It is
    /// the default of `tunstack script` (see [`crate::script::Profile::linux`]).
    ///
    /// Most of our defaults already are Linux's, and stay so here: MSS 1460 on a
    /// 1500-byte MTU; SYN options in Linux's order and padding (`mss, sackOK, TS, nop,
    /// wscale`); an initial window of 10 segments (RFC 6928); a 40 ms delayed ACK; an
    /// initial RTO of 1 s, minimum 200 ms, maximum 120 s; 6 SYN retries
    /// (`tcp_syn_retries`); TIME-WAIT of 60 s (MSL 30 s); FIN-WAIT-2 linger of 60 s
    /// (`tcp_fin_timeout`). What changes is the address: packetdrill's local host
    /// is 192.168.0.1.
    ///
    /// What does not match Linux, and scripts must allow for: the window values.
    /// Both offer `wscale 7` (ours fits the 4 MiB `recv_buffer_max`, Linux's comes
    /// from `tcp_rmem`) and both grow the window by auto-tuning, but Linux starts
    /// from a smaller window that it opens segment by segment, while ours offers the
    /// whole 256 KiB initial buffer at once.
    pub fn linux_profile() -> Self {
        StackConfig { addr: Ipv4Addr::new(192, 168, 0, 1), ..StackConfig::default() }
    }

    /// Time to earn back one ICMP error token.
    pub(crate) fn icmp_refill_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.icmp_errors_per_sec.max(1)))
    }
}
