//! TCP's settings and bounds: part of [`StackConfig`](crate::StackConfig), and
//! all the TCP table is given of it.

use std::time::Duration;

use super::congestion::CongestionAlgorithm;
use super::rtt::RtoConfig;
pub use crate::wire::tcp::OptionLayout;

/// TCP settings and bounds.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Receive buffer of a new connection: the window it offers at first.
    pub recv_buffer: usize,
    /// Receive-buffer auto-tuning grows a connection's buffer up to this when the
    /// program reads fast enough that the window limits the flow
    /// (`src/tcp/autotune.rs`); equal to `recv_buffer`, tuning is off. Our
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
    /// Retransmissions of a SYN,ACK before a passive open in SYN-RECEIVED is
    /// given up (Linux's tcp_synack_retries: 5).
    pub syn_ack_retries: u32,
    /// RFC 5681 §4.1: a connection idle for longer than an RTO restarts from the
    /// initial window (Linux's tcp_slow_start_after_idle: on).
    pub slow_start_after_idle: bool,
    /// Report a buffer size the program set as twice that, as Linux's
    /// `getsockopt(SO_RCVBUF/SO_SNDBUF)` does (`buffers.rs`); the `linux`
    /// profile turns it on.
    pub double_socket_buffers: bool,
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
    /// RFC 5961 §3: an in-window RST that is not exactly at RCV.NXT draws a
    /// challenge ACK. Off (FreeBSD's `insecure_rst = 1`): RFC 793's rule, any
    /// in-window RST resets the connection.
    pub rfc5961_rst: bool,
    /// RFC 5961 §4: a SYN in a synchronized state draws a challenge ACK. Off
    /// (FreeBSD's `insecure_syn = 1`): RFC 793's rule, an in-window SYN is answered
    /// with RST and resets the connection.
    pub rfc5961_syn: bool,
    /// Drop segments carrying both SYN and FIN (FreeBSD's `drop_synfin`).
    pub drop_syn_fin: bool,
    /// Answer a SYN,ACK that reaches a listener with RST (RFC 9293 §3.10.7.2, as
    /// Linux). Off: drop it silently, as FreeBSD does.
    pub rst_syn_ack_to_listener: bool,
    /// The layout of our TCP options (order and padding; Linux's or FreeBSD's).
    pub option_layout: OptionLayout,
    /// Offer the whole free receive space on every segment (FreeBSD) instead of
    /// moving the right edge only in steps of min(buffer/2, MSS) (RFC 9293
    /// §3.8.6.2.2's receiver SWS avoidance, as Linux). Pure window updates wait
    /// for such a step either way.
    pub advertise_full_window: bool,
    /// BSD's "trimthenstep6": a segment wholly before RCV.NXT that carries an ACK
    /// is trimmed to that ACK, which is processed (it may close the connection),
    /// and answered with an ACK. Off (RFC 9293 §3.10.7.4, Linux): answered and
    /// dropped unprocessed.
    pub trim_old_segments: bool,
    /// Answer in TIME-WAIT as BSD's `tcp_twcheck` does: ignore RST (RFC 1337),
    /// drop segments without ACK, ACK anything but an exact duplicate ACK. Off
    /// (Linux, RFC 9293 §3.10.7.4): TIME-WAIT checks segments like any
    /// synchronized state.
    pub bsd_time_wait: bool,
    /// Keep data that comes with the peer's SYN in a simultaneous open and deliver
    /// it once established (RFC 9293 §3.10.7.3, FreeBSD). Off (Linux): dropped;
    /// the peer sends it again.
    pub queue_data_on_syn: bool,
    /// While our FIN is unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK), every
    /// bare ACK we send carries the FIN again, as FreeBSD's `tcp_output` does.
    /// Off (Linux): the FIN is only resent by the retransmission timer.
    pub repeat_fin_until_acked: bool,
    /// The error a RST in CLOSE-WAIT leaves for the program: `BrokenPipe`
    /// (EPIPE, Linux's `tcp_reset`: the program had been told the peer is done
    /// sending) when on; `ConnectionReset` (FreeBSD) when off.
    pub reset_in_close_wait_is_epipe: bool,
    /// Round a connection's receive buffer up to whole segments once the MSS is
    /// agreed, as FreeBSD's `tcp_mss` does (65536 → 65700 at MSS 1460; with
    /// timestamps, segments of MSS − 20: 66240). Off for Linux.
    pub round_recv_buffer_to_mss: bool,
    /// Path MTU discovery (RFC 1191): segments carry Don't Fragment, and an ICMP
    /// "fragmentation needed" that quotes one of them lowers the connection's
    /// MSS. With it, black-hole detection (RFC 4821's idea, Linux's
    /// `tcp_mtu_probing = 1`): two retransmission timeouts in a row of full-sized
    /// segments step the path MTU down (1280, 1024, then 576), for paths where
    /// that ICMP is filtered.
    pub path_mtu_discovery: bool,
    /// SYN cookies (RFC 4987 §3.6): answer SYNs without keeping state when the
    /// half-open queue is full (the default, like Linux's `tcp_syncookies = 1`),
    /// always, or never.
    pub syn_cookies: SynCookies,
    /// Keepalive of new connections (off unless `enabled`, like `SO_KEEPALIVE`);
    /// a program changes it per connection.
    pub keepalive: Keepalive,
    /// User timeout of new connections (RFC 5482, Linux's `TCP_USER_TIMEOUT`):
    /// give up when sent data stays unacknowledged this long. `None`: only the
    /// retry limit applies.
    pub user_timeout: Option<Duration>,
}

/// When a listener answers a SYN with a cookie instead of a half-open connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SynCookies {
    /// Never: a SYN that finds the half-open queue full is dropped.
    Off,
    /// When the half-open queue (`syn_backlog`) is full.
    #[default]
    WhenFull,
    /// For every SYN: no half-open state at all.
    Always,
}

/// TCP keepalive (RFC 1122 4.2.3.6), with Linux's meanings: after `idle` without
/// hearing from the peer, an idle connection sends a probe every `interval`;
/// `probes` unanswered in a row and the peer is taken for gone (`TimedOut`). A dead
/// peer is so noticed `idle + probes × interval` after it last spoke. RFC 1122 asks
/// that keepalives be off by default and the idle time no less than two hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Probe at all (`SO_KEEPALIVE`).
    pub enabled: bool,
    /// Silence before the first probe (`tcp_keepalive_time`: 7200 s).
    pub idle: Duration,
    /// Between probes (`tcp_keepalive_intvl`: 75 s).
    pub interval: Duration,
    /// Unanswered probes before giving up (`tcp_keepalive_probes`: 9).
    pub probes: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive { enabled: false, idle: Duration::from_secs(7200), interval: Duration::from_secs(75), probes: 9 }
    }
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
            syn_ack_retries: 5,
            slow_start_after_idle: true,
            double_socket_buffers: false,
            delayed_ack: Duration::from_millis(40),
            fin_wait2_timeout: Duration::from_secs(60),
            challenge_acks_per_sec: 1000,
            unusable_ack_interval: Duration::from_millis(500),
            window_scaling: true,
            timestamps: true,
            sack: true,
            congestion: CongestionAlgorithm::default(),
            rfc5961_rst: true,
            rfc5961_syn: true,
            drop_syn_fin: false,
            rst_syn_ack_to_listener: true,
            option_layout: OptionLayout::Linux,
            round_recv_buffer_to_mss: false,
            advertise_full_window: false,
            trim_old_segments: false,
            bsd_time_wait: false,
            repeat_fin_until_acked: false,
            queue_data_on_syn: false,
            reset_in_close_wait_is_epipe: true,
            path_mtu_discovery: true,
            syn_cookies: SynCookies::default(),
            keepalive: Keepalive::default(),
            user_timeout: None,
        }
    }
}
