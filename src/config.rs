//! Every bound and knob of the stack in one place.
//!
//! Nothing in the core grows without a limit: each queue, table and buffer has its bound
//! here, and overflowing it increments a counter instead of allocating more.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::ip::reassembly::ReassemblyConfig;
use crate::ports::PortConfig;
use crate::tcp::congestion::CongestionAlgorithm;
use crate::tcp::rtt::RtoConfig;

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
        QueueLimit { datagrams: 1024, bytes: 1 << 20 }
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

/// TCP settings and bounds.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Receive buffer of a new connection: the window it offers at first.
    pub recv_buffer: usize,
    /// Receive-buffer auto-tuning grows a connection's buffer up to this when the
    /// program reads fast enough that the window limits the flow
    /// ([`crate::tcp::autotune`]); equal to `recv_buffer`, tuning is off. Our
    /// window scale (RFC 7323 §2.2) is chosen so that this much can be offered.
    pub recv_buffer_max: usize,
    /// Send buffer of a new connection, at first.
    pub send_buffer: usize,
    /// Send-buffer auto-tuning grows it up to this, to twice what the congestion
    /// and peer windows allow in flight (`SendBuffer::grow_toward`); equal to
    /// `send_buffer`, tuning is off.
    pub send_buffer_max: usize,
    /// Out-of-order segments held per connection: at most this many separate ranges
    /// (their bytes are bounded by the receive window).
    pub max_ooo_ranges: usize,
    /// Half-open (SYN-RECEIVED) connections per listener.
    pub syn_backlog: usize,
    /// Established connections waiting for `accept` per listener, unless `listen`
    /// asks for fewer.
    pub accept_backlog: usize,
    /// Most connections in the whole stack (every state).
    pub max_connections: usize,
    /// Maximum segment lifetime; TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Retransmission-timeout bounds (RFC 6298).
    pub rto: RtoConfig,
    /// Retransmissions of one segment before the connection fails with `TimedOut`
    /// (RFC 9293 §3.8.3 "R2"; Linux's tcp_retries2 is 15).
    pub max_retries: u32,
    /// Retransmissions of a SYN before `connect` fails (Linux's tcp_syn_retries: 6).
    pub syn_retries: u32,
    /// Longest an ACK may be delayed (RFC 1122 4.2.3.2: under 0.5 s; Linux 40 ms).
    pub delayed_ack: Duration,
    /// How long a connection the program has closed may sit in FIN-WAIT-2 (Linux's
    /// tcp_fin_timeout) before it is dropped.
    pub fin_wait2_timeout: Duration,
    /// Challenge ACKs per second, stack-wide (RFC 5961 §7).
    pub challenge_acks_per_sec: u32,
    /// Shortest time between two ACKs one connection sends in answer to segments
    /// without data that it cannot use (outside the window, or acknowledging data
    /// never sent). Two ends that disagree about the sequence numbers would otherwise
    /// trade such ACKs forever. Linux's `tcp_invalid_ratelimit`: 500 ms.
    pub unusable_ack_interval: Duration,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer selective acknowledgements (RFC 2018).
    pub sack: bool,
    /// Congestion control for new connections.
    pub congestion: CongestionAlgorithm,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            recv_buffer: 256 * 1024,
            recv_buffer_max: 4 * 1024 * 1024,
            send_buffer: 256 * 1024,
            send_buffer_max: 4 * 1024 * 1024,
            max_ooo_ranges: 64,
            syn_backlog: 256,
            accept_backlog: 128,
            max_connections: 65_536,
            msl: Duration::from_secs(30),
            rto: RtoConfig::default(),
            max_retries: 15,
            syn_retries: 6,
            delayed_ack: Duration::from_millis(40),
            fin_wait2_timeout: Duration::from_secs(60),
            challenge_acks_per_sec: 1000,
            unusable_ack_interval: Duration::from_millis(500),
            window_scaling: true,
            timestamps: true,
            sack: true,
            congestion: CongestionAlgorithm::default(),
        }
    }
}
