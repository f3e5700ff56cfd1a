//! Every bound and knob of the stack in one place.
//!
//! Nothing in the core grows without a limit: each queue, table and buffer has its bound
//! here, and overflowing it increments a counter instead of allocating more.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::ip::reassembly::ReassemblyConfig;
use crate::ports::PortConfig;

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
    /// Seed for every pseudo-random choice (ephemeral ports, IP identification), so
    /// a run can be reproduced.
    pub seed: u64,
}

/// The bound of a datagram receive queue: both counts apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimit {
    /// Most datagrams held.
    pub datagrams: usize,
    /// Most payload bytes held.
    pub bytes: usize,
}

impl Default for QueueLimit {
    fn default() -> Self {
        QueueLimit {
            datagrams: 1024,
            bytes: 1 << 20,
        }
    }
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
            seed: 0x7475_6e73_7461_636b,
        }
    }
}

impl StackConfig {
    /// Time to earn back one ICMP error token.
    pub(crate) fn icmp_refill_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.icmp_errors_per_sec.max(1)))
    }
}
