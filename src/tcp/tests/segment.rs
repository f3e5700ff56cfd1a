//! One TCP segment as a test script writes it, and its translation to and from
//! the wire with etherparse.
//!
//! A script names segments the way tcpdump prints them:
//!
//! ```text
//! seg("S.", 0).ack(1001).win(65535).opts([mss(1460), sack_perm(), ts(1000, 7), ws(3)])
//! ```
//!
//! reads "SYN|ACK, SEQ=0, ACK=1001, window 65535, with these options". The flag
//! letters are tcpdump's: `S` SYN, `F` FIN, `R` RST, `P` PSH, `U` URG and `.` ACK.
//! Options are etherparse's [`TcpOptionElement`]s in the order they appear on the
//! wire, without the NOPs that only pad them to 32-bit words.

use std::fmt;
use std::net::Ipv4Addr;

use etherparse::{Ipv4Slice, PacketBuilder, TcpHeader, TcpOptionElement, TcpSlice};

use crate::wire::tcp::Flags;

/// The IP protocol number of TCP.
const PROTO_TCP: u8 = 6;

/// A segment's header fields (ports aside) and payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Seg {
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    /// The options, NOPs left out.
    pub opts: Vec<TcpOptionElement>,
    pub data: Vec<u8>,
}

/// A segment with `flags` (tcpdump letters) and sequence number `seq`; ACK number
/// and window 0, no options, no data until the builder methods add them.
pub fn seg(flags: &str, seq: u32) -> Seg {
    let mut f = Flags::default();
    for letter in flags.chars() {
        match letter {
            'S' => f.syn = true,
            'F' => f.fin = true,
            'R' => f.rst = true,
            'P' => f.psh = true,
            'U' => f.urg = true,
            '.' => f.ack = true,
            other => panic!("unknown flag letter {other:?} in {flags:?}"),
        }
    }
    Seg { flags: f, seq, ack: 0, win: 0, opts: Vec::new(), data: Vec::new() }
}

impl Seg {
    /// Set the acknowledgment number.
    pub fn ack(mut self, ack: u32) -> Self {
        self.ack = ack;
        self
    }

    /// Set the window field (as sent: before any scaling).
    pub fn win(mut self, win: u16) -> Self {
        self.win = win;
        self
    }

    /// Set the options.
    pub fn opts<const N: usize>(mut self, opts: [TcpOptionElement; N]) -> Self {
        self.opts = opts.to_vec();
        self
    }

    /// Set the payload.
    pub fn data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// Change the timestamp option's values with `f(val, ecr)`.
    pub fn map_timestamp(&mut self, f: impl Fn(u32, u32) -> (u32, u32)) {
        for o in &mut self.opts {
            if let TcpOptionElement::Timestamp(val, ecr) = o {
                (*val, *ecr) = f(*val, *ecr);
            }
        }
    }

    /// The whole IPv4 packet carrying this segment from `src:sport` to `dst:dport`,
    /// checksums computed by etherparse.
    pub fn to_packet(&self, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
        let mut header = TcpHeader::new(sport, dport, self.seq, self.win);
        header.acknowledgment_number = self.ack;
        header.syn = self.flags.syn;
        header.ack = self.flags.ack;
        header.fin = self.flags.fin;
        header.rst = self.flags.rst;
        header.psh = self.flags.psh;
        header.urg = self.flags.urg;
        header.set_options(&with_padding(&self.opts)).expect("test options fit in 40 bytes");
        let builder = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).tcp_header(header);
        let mut packet = Vec::with_capacity(builder.size(self.data.len()));
        builder.write(&mut packet, &self.data).expect("writing to a Vec cannot fail");
        packet
    }
}

/// Pad each option to the alignment Linux uses (RFC 9293 §3.1 allows any; it keeps
/// the 4-byte fields aligned): two NOPs before SACK-permitted alone and before
/// timestamps unless SACK-permitted precedes them, one NOP before a window scale.
fn with_padding(opts: &[TcpOptionElement]) -> Vec<TcpOptionElement> {
    use TcpOptionElement::*;
    let mut out = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let after_sack_perm = i > 0 && opts[i - 1] == SelectiveAcknowledgementPermitted;
        let next_is_ts = matches!(opts.get(i + 1), Some(Timestamp(..)));
        match o {
            SelectiveAcknowledgementPermitted if !next_is_ts => out.extend([Noop, Noop]),
            Timestamp(..) if !after_sack_perm => out.extend([Noop, Noop]),
            SelectiveAcknowledgement(..) => out.extend([Noop, Noop]),
            WindowScale(_) => out.push(Noop),
            _ => {}
        }
        out.push(o.clone());
    }
    out
}

/// A TCP/IPv4 packet the stack sent, taken apart and checked: addresses, ports and
/// both checksums.
pub struct Sent {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seg: Seg,
}

/// Parse a packet from `poll_transmit` with etherparse.
pub fn parse(packet: &[u8]) -> Sent {
    let ip = Ipv4Slice::from_slice(packet).expect("the stack sent a valid IPv4 packet");
    let header = ip.header();
    assert_eq!(header.protocol().0, PROTO_TCP, "the stack sent TCP");
    assert!(!ip.is_payload_fragmented(), "TCP segments are never fragmented here");
    assert_eq!(header.header_checksum(), header.to_header().calc_header_checksum(), "IPv4 header checksum");
    let tcp = TcpSlice::from_slice(ip.payload().payload).expect("the stack sent a valid TCP header");
    let (src, dst) = (header.source_addr(), header.destination_addr());
    let checksum = tcp.calc_checksum_ipv4(src.octets(), dst.octets()).expect("segment fits");
    assert_eq!(tcp.checksum(), checksum, "TCP checksum");
    let opts = tcp
        .options_iterator()
        .map(|o| o.expect("the stack wrote well-formed options"))
        .filter(|o| *o != TcpOptionElement::Noop)
        .collect();
    let seg = Seg {
        flags: Flags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst(), psh: tcp.psh(), urg: tcp.urg() },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        win: tcp.window_size(),
        opts,
        data: tcp.payload().to_vec(),
    };
    Sent { src, dst, sport: tcp.source_port(), dport: tcp.destination_port(), seg }
}

/// Maximum segment size (RFC 9293 §3.7.1).
pub fn mss(bytes: u16) -> TcpOptionElement {
    TcpOptionElement::MaximumSegmentSize(bytes)
}

/// SACK permitted (RFC 2018 §2).
pub fn sack_perm() -> TcpOptionElement {
    TcpOptionElement::SelectiveAcknowledgementPermitted
}

/// Timestamps TSval, TSecr (RFC 7323 §3.2).
pub fn ts(val: u32, ecr: u32) -> TcpOptionElement {
    TcpOptionElement::Timestamp(val, ecr)
}

/// Window scale shift (RFC 7323 §2.2).
pub fn ws(shift: u8) -> TcpOptionElement {
    TcpOptionElement::WindowScale(shift)
}

/// tcpdump's style: `[S.] seq 0 ack 1001 win 65535 <mss 1460,sackOK,TS 0:7,wscale 3> len 0`,
/// so a failed comparison reads like a capture.
impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters = [
            (self.flags.fin, 'F'),
            (self.flags.syn, 'S'),
            (self.flags.rst, 'R'),
            (self.flags.psh, 'P'),
            (self.flags.urg, 'U'),
            (self.flags.ack, '.'),
        ];
        let flags: String = letters.iter().filter(|(on, _)| *on).map(|(_, c)| c).collect();
        write!(f, "[{flags}] seq {} ack {} win {}", self.seq, self.ack, self.win)?;
        if !self.opts.is_empty() {
            let opts: Vec<String> = self
                .opts
                .iter()
                .map(|o| match o {
                    TcpOptionElement::MaximumSegmentSize(m) => format!("mss {m}"),
                    TcpOptionElement::SelectiveAcknowledgementPermitted => "sackOK".into(),
                    TcpOptionElement::Timestamp(v, e) => format!("TS {v}:{e}"),
                    TcpOptionElement::WindowScale(s) => format!("wscale {s}"),
                    other => format!("{other:?}"),
                })
                .collect();
            write!(f, " <{}>", opts.join(","))?;
        }
        write!(f, " len {}", self.data.len())
    }
}
