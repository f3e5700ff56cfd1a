//! Every bound and knob of the stack in one place.
//!
//! Nothing in the core grows without a limit: each queue, table and buffer has its bound
//! here, and overflowing it increments a counter instead of allocating more.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

pub use crate::ip::ipv6::PathMtuConfig;
pub use crate::ip::reassembly::ReassemblyConfig;
pub use crate::ports::PortConfig;
pub use crate::shared::QueueLimit;
pub use crate::tcp::congestion::CongestionAlgorithm;
pub use crate::tcp::rtt::RtoConfig;
pub use crate::tcp::{Keepalive, OptionLayout, SocketBuffers, SynCookies, TcpConfig};

/// Configuration of one [`Stack`](crate::Stack).
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The stack's own IPv4 address.
    pub addr: Ipv4Addr,
    /// The stack's own IPv6 address; `None` (the default) turns IPv6 off, and
    /// IPv6 packets are counted (`ip6_rx_disabled`) and dropped.
    pub addr6: Option<Ipv6Addr>,
    /// Whether a new IPv6 socket bound to `::` refuses IPv4 from the start
    /// (`only_v6`), as Linux's `net.ipv6.bindv6only`; default false: `[::]`
    /// sockets are dual-stack.
    pub bind_v6only: bool,
    /// Most IPv6 extension headers walked in one packet (RFC 8200 §4; RFC 8883
    /// "too many extension headers" past it).
    pub ipv6_max_ext_headers: usize,
    /// Bounds of the IPv6 path MTU cache (RFC 8201): destinations remembered
    /// and how long a learned path MTU holds.
    pub path_mtu: PathMtuConfig,
    /// Link MTU: the largest IP packet the device carries. Larger datagrams are
    /// fragmented on output (RFC 791 §2.3).
    pub mtu: usize,
    /// Transmit checksum offload: TCP segments leave with only the pseudo-header
    /// sum in their checksum field, for the device to finish (Linux's
    /// `CHECKSUM_PARTIAL`), saving a pass over every byte sent. Only for a
    /// device that finishes them: the runtime sets it from the device
    /// (`Device::offload_tx_checksum`, the TUN with offloads); default off.
    pub tx_checksum_offload: bool,
    /// TTL written on every packet we originate (RFC 1122 3.2.1.7: 64 is customary).
    pub ttl: u8,
    /// Fragment reassembly bounds, for IPv4 and IPv6 each.
    pub reassembly: ReassemblyConfig,
    /// Port-namespace settings shared by the TCP and UDP tables.
    pub ports: PortConfig,
    /// Default capacity of a new UDP socket's receive queue.
    pub udp_recv_queue: QueueLimit,
    /// Most UDP sockets open at once.
    pub max_udp_sockets: usize,
    /// Default capacity of a new raw IP protocol socket's receive queue.
    pub raw_recv_queue: QueueLimit,
    /// Most raw IP protocol sockets open at once.
    pub max_raw_sockets: usize,
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
            addr6: None,
            bind_v6only: false,
            ipv6_max_ext_headers: 8,
            path_mtu: PathMtuConfig::default(),
            mtu: 1500,
            tx_checksum_offload: false,
            ttl: 64,
            reassembly: ReassemblyConfig::default(),
            ports: PortConfig::default(),
            udp_recv_queue: QueueLimit::default(),
            max_udp_sockets: 4096,
            raw_recv_queue: QueueLimit::default(),
            max_raw_sockets: 64,
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
    /// (`tcp_syn_retries`) and 5 SYN,ACK retries (`tcp_synack_retries`); slow
    /// start after idle (`tcp_slow_start_after_idle`); TIME-WAIT of 60 s (MSL 30 s); FIN-WAIT-2 linger of 60 s
    /// (`tcp_fin_timeout`). What changes is the address — packetdrill's local host
    /// is 192.168.0.1 — and how buffer sizes a program sets are reported: doubled,
    /// as Linux's `getsockopt(SO_RCVBUF)` does
    /// ([`TcpConfig::double_socket_buffers`](crate::config::TcpConfig::double_socket_buffers)).
    ///
    /// What does not match Linux, and scripts must allow for: the window values.
    /// Both offer `wscale 7` (ours fits the 4 MiB `recv_buffer_max`, Linux's comes
    /// from `tcp_rmem`'s 6 MiB maximum; upstream packetdrill's `defaults.sh` raises
    /// that to 15 MiB, hence the `wscale 8` of its scripts, which the runner
    /// reproduces by reading the file) and both grow the window by auto-tuning, but Linux starts
    /// from a smaller window that it opens segment by segment, while ours offers the
    /// whole 256 KiB initial buffer at once.
    pub fn linux_profile() -> Self {
        let mut config = StackConfig { addr: Ipv4Addr::new(192, 168, 0, 1), ..StackConfig::default() };
        config.tcp.double_socket_buffers = true;
        config
    }

    /// The `freebsd` compatibility profile: FreeBSD 13/14's defaults, so that the
    /// FreeBSD TCP test suite's scripts read the same. Differences from
    /// [`linux_profile`](StackConfig::linux_profile):
    ///
    /// * options in FreeBSD's layout (`tcp_addoptions`: MSS, window scale,
    ///   SACK-permitted, timestamps, NOP-aligned, EOL-padded — a SYN,ACK reads
    ///   `<mss 1460,sackOK,eol,eol>` where Linux writes `<mss 1460,nop,nop,sackOK>`);
    /// * buffers of `net.inet.tcp.recvspace` 65536 and `sendspace` 32768 growing
    ///   to `kern.ipc.maxsockbuf` 2 MiB, so the first window is 65535 and the window
    ///   scale 6;
    /// * a SYN,ACK reaching a listener is dropped without RST (FreeBSD's
    ///   `tcp_input`), where Linux and RFC 9293 §3.10.7.2 answer RST;
    /// * a connection's receive buffer rounded up to whole segments once the MSS
    ///   is agreed (`tcp_mss`: 65536 → 65700 at MSS 1460);
    /// * every segment offers the whole free receive space (after a FIN, 65535
    ///   where RFC 9293's receiver SWS avoidance keeps the 65534 already promised);
    /// * a segment wholly before RCV.NXT still has its ACK processed (BSD's
    ///   "trimthenstep6"), and the receive window accepts up to the free space;
    /// * TIME-WAIT as `tcp_twcheck`: RST ignored (RFC 1337), anything but an
    ///   exact duplicate ACK answered with an ACK;
    /// * while our FIN is unacknowledged, a bare ACK carries it again;
    /// * data on a SYN is kept until the handshake completes (the syncache);
    /// * a RST in CLOSE-WAIT reports ECONNRESET (Linux: EPIPE);
    /// * delayed ACKs of up to 100 ms (`net.inet.tcp.delacktime`);
    /// * a SYN,ACK sent at most 3 more times (`net.inet.tcp.syncache.rexmtlimit`).
    ///
    /// RFC 5961's checks stay on, as FreeBSD's `insecure_rst`/`insecure_syn` = 0;
    /// scripts that turn them off reach the same knobs
    /// ([`TcpConfig::rfc5961_rst`], [`TcpConfig::rfc5961_syn`]).
    pub fn freebsd_profile() -> Self {
        let mut config = StackConfig { addr: Ipv4Addr::new(192, 168, 0, 1), ..StackConfig::default() };
        let tcp = &mut config.tcp;
        tcp.option_layout = OptionLayout::FreeBsd;
        tcp.recv_buffer = 65_536;
        tcp.recv_buffer_max = 2 * 1024 * 1024;
        tcp.send_buffer = 32_768;
        tcp.send_buffer_max = 2 * 1024 * 1024;
        tcp.rst_syn_ack_to_listener = false;
        tcp.round_recv_buffer_to_mss = true;
        tcp.advertise_full_window = true;
        tcp.trim_old_segments = true;
        tcp.bsd_time_wait = true;
        tcp.repeat_fin_until_acked = true;
        tcp.queue_data_on_syn = true;
        tcp.reset_in_close_wait_is_epipe = false;
        tcp.delayed_ack = Duration::from_millis(100);
        tcp.syn_ack_retries = 3;
        config
    }

    /// Time to earn back one ICMP error token.
    pub(crate) fn icmp_refill_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.icmp_errors_per_sec.max(1)))
    }
}
