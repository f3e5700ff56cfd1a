//! A parsed script: a list of timed events.

pub use super::code::Assertion;
pub use super::options::Settings;
pub use super::shell::Command;
use crate::wire::tcp::Flags;

/// A whole script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// How far from its scripted time an event may happen, in microseconds
    /// (`--tolerance_usecs=`; packetdrill's default is 4000).
    pub tolerance_us: u64,
    /// What the other header options (`--bind_port=`, …) change, and notes on
    /// those accepted without effect.
    pub settings: Settings,
    pub events: Vec<Event>,
}

/// One line of the script: when, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based line number.
    pub line: usize,
    pub time: Time,
    /// For a system call written `start...end call()`: when it must return.
    pub end: Option<Point>,
    pub action: Action,
}

/// When an event happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// `*`: any time (after the previous event).
    Any,
    /// `0.100` or `+0.1`.
    At(Point),
    /// `0.100~0.200`: any time in the range.
    Range(Point, Point),
}

/// A point in script time, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Since the start of the script (`0.100`).
    Absolute(u64),
    /// Since the previous event (`+0.1`).
    Relative(u64),
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Packet(PacketSpec),
    /// `< udp (100)`: a UDP datagram of that many bytes.
    Datagram(DatagramSpec),
    /// `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`.
    Icmp(IcmpSpec),
    Call(Call),
    /// `` `sysctl -w net.inet.tcp.sack.enable=1` ``, as read (never run).
    Shell(Vec<Command>),
    /// `%{ assert tcpi_state == TCPI_ESTABLISHED }%`, as read.
    Code(Vec<Assertion>),
}

/// `<` the script's peer sends; `>` the stack must send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A TCP segment as written: `P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val 1 ecr 2>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    pub dir: Direction,
    /// `<:40002` / `>:40002`: the segment belongs to the connection a listener
    /// accepted from the remote host's port 40002 — one of several at once.
    /// `None`: the connection under test (see `matching.rs`).
    pub port: Option<u16>,
    pub flags: Flags,
    /// Sequence number (relative to the stack's ISN on outbound packets).
    pub start: u32,
    /// `...(len)` instead of `start:end(len)` on an outbound packet: any sequence
    /// number (a new connection's ISN the script cannot know); `start` is 0.
    pub any_seq: bool,
    /// Payload length.
    pub len: u32,
    /// ACK number (relative to the stack's ISN on inbound packets). Outbound: `None`
    /// means "not checked".
    pub ack: Option<u32>,
    /// Window field. Outbound: `None` means "not checked".
    pub win: Option<u16>,
    /// Options in wire order; empty when the line has none (and then the segment
    /// must have none).
    pub options: Vec<OptSpec>,
    /// `<...>` on an outbound packet: any options (`options` is empty).
    pub any_options: bool,
}

/// A UDP datagram as written: `> udp (100)`. The ports are the UDP socket's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramSpec {
    pub dir: Direction,
    /// Payload length.
    pub len: u32,
}

/// An ICMP destination unreachable (RFC 792) as written:
/// `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpSpec {
    pub dir: Direction,
    /// The code: 0 net, 1 host, 2 protocol, 3 port unreachable, 4 fragmentation
    /// needed, … (see `icmp_code_name`).
    pub code: u8,
    /// `mtu N`: the next-hop MTU of a fragmentation-needed (RFC 1191).
    pub mtu: Option<u16>,
    /// The quoted TCP segment `[start:end(len)]`, its sequence number the stack's,
    /// relative to its ISN as on `>` lines: `(start, len)`. Required inbound; an
    /// outbound quote is not compared.
    pub quoted: Option<(u32, u32)>,
}

/// packetdrill's names of the destination-unreachable codes (RFC 792, RFC 1812).
pub const ICMP_UNREACHABLE_CODES: &[&str] = &[
    "net_unreachable",
    "host_unreachable",
    "protocol_unreachable",
    "port_unreachable",
    "frag_needed",
    "source_route_failed",
    "net_unknown",
    "host_unknown",
    "source_host_isolated",
    "net_prohibited",
    "host_prohibited",
    "net_unreachable_for_tos",
    "host_unreachable_for_tos",
    "packet_filtered",
    "precedence_violation",
    "precedence_cutoff",
];

/// The name of a destination-unreachable code, or `None` past the table.
pub fn icmp_code_name(code: u8) -> Option<&'static str> {
    ICMP_UNREACHABLE_CODES.get(usize::from(code)).copied()
}

/// A TCP option as written between `<` and `>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptSpec {
    /// End of option list (kind 0): what follows is padding.
    Eol,
    Nop,
    Mss(u16),
    SackOk,
    Ts {
        val: u32,
        ecr: u32,
    },
    Wscale(u8),
    /// `sack 1001:2001 3001:4001`: blocks `[left, right)`.
    Sack(Vec<(u32, u32)>),
}

/// A system call: `accept(3, ..., ...) = 4` or `connect(3, ..., ...) = -1 EINPROGRESS (…)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Expr>,
    /// The expected return value.
    pub ret: i64,
    /// The expected errno name when `ret` is -1.
    pub errno: Option<String>,
}

/// An argument of a system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: "whatever the runner chooses" (an address, a buffer).
    Ellipsis,
    Int(i64),
    /// A symbolic constant: `SOCK_STREAM`, `O_NONBLOCK`, `ECONNREFUSED`.
    Name(String),
    /// `O_RDWR|O_NONBLOCK`.
    Or(Vec<Expr>),
    /// `[1]`: a value passed by pointer.
    List(Vec<Expr>),
    Str(String),
    /// `{l_onoff=1, l_linger=0}`: a struct, its fields in order.
    Struct(Vec<(String, Expr)>),
}
