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

use etherparse::TcpOptionElement;

pub use crate::script::packet::Seg;
use crate::script::packet::{self, Sent};
use crate::wire::tcp::Flags;

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
    Seg::new(f, seq)
}

/// The whole IPv4 packet carrying `seg`, its options padded with NOPs as Linux pads
/// them (see [`with_padding`]).
pub fn to_packet(seg: &Seg, src: std::net::Ipv4Addr, sport: u16, dst: std::net::Ipv4Addr, dport: u16) -> Vec<u8> {
    let padded = Seg { opts: with_padding(&seg.opts), ..seg.clone() };
    padded.to_packet(src, sport, dst, dport).expect("test options fit in 40 bytes")
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

/// Parse a packet from `poll_transmit` (checksums verified), NOPs left out.
pub fn parse(packet: &[u8]) -> Sent {
    let mut sent = packet::parse(packet).unwrap_or_else(|e| panic!("the stack sent a bad packet: {e}"));
    sent.seg.opts.retain(|o| *o != TcpOptionElement::Noop);
    sent
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
