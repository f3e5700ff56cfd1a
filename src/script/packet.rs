//! One TCP segment as a script sees it — flags, numbers, window, options, payload —
//! and its translation to and from a whole IPv4 or IPv6 packet with etherparse.
//!
//! Both the `.pkt` runner and the unit-test harness in `src/tcp/tests/` speak in
//! [`Seg`]s: a test builds the segments the peer sends and compares the segments the
//! stack answers with. The header and checksum work is etherparse's; this module
//! only moves fields in and out.
//!
//! [`Seg`] prints in packetdrill's (and almost tcpdump's) notation, so a failed
//! comparison reads like a line of a capture:
//!
//! ```text
//! S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 7,nop,wscale 7>
//! ```
//!
//! The flag letters are tcpdump's: `S` SYN, `F` FIN, `R` RST, `P` PSH, `U` URG and
//! `.` ACK. `start:end(len)` is the sequence number, the number after the payload
//! and the payload length (SYN and FIN are not counted, as in packetdrill).

use std::fmt;
use std::net::IpAddr;

use etherparse::{
    IpHeaders, IpSlice, PacketBuilder, PacketBuilderStep, TcpHeader, TcpOptionElement, TcpSlice, UdpSlice,
};

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
    /// The options in wire order, NOPs included (the test harness leaves them out
    /// and pads when it sends).
    pub opts: Vec<TcpOptionElement>,
    pub data: Vec<u8>,
}

impl Seg {
    /// A segment with these flags and sequence number; ACK number and window 0, no
    /// options and no data until the builder methods below add them.
    pub fn new(flags: Flags, seq: u32) -> Seg {
        Seg { flags, seq, ack: 0, win: 0, opts: Vec::new(), data: Vec::new() }
    }

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

    /// The whole IP packet (TTL or hop limit 64) carrying this segment from
    /// `src:sport` to `dst:dport`, IPv4 or IPv6 as the addresses are,
    /// checksums computed by etherparse. Fails only when the options do not fit
    /// in the 40 bytes a TCP header has room for, or the addresses mix families.
    pub fn to_packet(
        &self,
        src: impl Into<IpAddr>,
        sport: u16,
        dst: impl Into<IpAddr>,
        dport: u16,
    ) -> Result<Vec<u8>, String> {
        let mut header = self.header(sport, dport);
        header.set_options(&self.opts).map_err(|e| format!("TCP options do not fit: {e}"))?;
        self.build(header, src.into(), dst.into())
    }

    /// As [`Seg::to_packet`], with the options given as bytes instead of
    /// `self.opts` (zero-padded to a multiple of 4): for what etherparse's option
    /// list cannot hold, such as an end-of-list option (kind 0) before the end.
    pub fn to_packet_with_raw_options(
        &self,
        options: &[u8],
        src: impl Into<IpAddr>,
        sport: u16,
        dst: impl Into<IpAddr>,
        dport: u16,
    ) -> Result<Vec<u8>, String> {
        let mut header = self.header(sport, dport);
        header.set_options_raw(options).map_err(|e| format!("TCP options do not fit: {e}"))?;
        self.build(header, src.into(), dst.into())
    }

    fn header(&self, sport: u16, dport: u16) -> TcpHeader {
        let mut header = TcpHeader::new(sport, dport, self.seq, self.win);
        header.acknowledgment_number = self.ack;
        header.syn = self.flags.syn;
        header.ack = self.flags.ack;
        header.fin = self.flags.fin;
        header.rst = self.flags.rst;
        header.psh = self.flags.psh;
        header.urg = self.flags.urg;
        header
    }

    fn build(&self, header: TcpHeader, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, String> {
        let builder = ip_builder(src, dst)?.tcp_header(header);
        let mut packet = Vec::with_capacity(builder.size(self.data.len()));
        builder.write(&mut packet, &self.data).map_err(|e| format!("cannot build the packet: {e}"))?;
        Ok(packet)
    }
}

/// The IP layer of a packet from `src` to `dst`: IPv4 with TTL 64, or IPv6
/// with hop limit 64 (flow label 0).
fn ip_builder(src: IpAddr, dst: IpAddr) -> Result<PacketBuilderStep<IpHeaders>, String> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(PacketBuilder::ipv4(s.octets(), d.octets(), 64)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(PacketBuilder::ipv6(s.octets(), d.octets(), 64)),
        _ => Err(format!("{src} and {dst} are not of one IP version")),
    }
}

/// Options in wire format (RFC 9293 §3.2, RFC 7323, RFC 2018), unpadded.
pub fn option_bytes(opts: &[TcpOptionElement]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in opts {
        match *o {
            TcpOptionElement::Noop => out.push(1),
            TcpOptionElement::MaximumSegmentSize(m) => {
                out.extend([2, 4]);
                out.extend(m.to_be_bytes());
            }
            TcpOptionElement::WindowScale(s) => out.extend([3, 3, s]),
            TcpOptionElement::SelectiveAcknowledgementPermitted => out.extend([4, 2]),
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                let blocks: Vec<(u32, u32)> = std::iter::once(first).chain(rest.iter().flatten().copied()).collect();
                out.extend([5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    out.extend(l.to_be_bytes());
                    out.extend(r.to_be_bytes());
                }
            }
            TcpOptionElement::Timestamp(v, e) => {
                out.extend([8, 10]);
                out.extend(v.to_be_bytes());
                out.extend(e.to_be_bytes());
            }
        }
    }
    out
}

/// A TCP packet (over IPv4 or IPv6) the stack sent, taken apart and checked:
/// addresses, ports and the checksums.
pub struct Sent {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seg: Seg,
}

/// Parse a packet from `poll_transmit` with etherparse, verifying both checksums.
/// An `Err` says what was wrong: the stack sent something malformed (or not TCP).
pub fn parse(packet: &[u8]) -> Result<Sent, String> {
    let ip = ip_slice(packet)?;
    let proto = ip.payload().ip_number.0;
    if proto != PROTO_TCP {
        return Err(format!("not TCP but IP protocol {proto}"));
    }
    if ip.payload().fragmented {
        return Err("a fragmented TCP segment".into());
    }
    let tcp = TcpSlice::from_slice(ip.payload().payload).map_err(|e| format!("not a valid TCP header: {e}"))?;
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let checksum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => tcp.calc_checksum_ipv4(s.octets(), d.octets()),
        (IpAddr::V6(s), IpAddr::V6(d)) => tcp.calc_checksum_ipv6(s.octets(), d.octets()),
        _ => return Err("mixed IP versions".into()),
    }
    .map_err(|e| format!("{e}"))?;
    if tcp.checksum() != checksum {
        return Err("bad TCP checksum".into());
    }
    let opts =
        tcp.options_iterator().collect::<Result<Vec<_>, _>>().map_err(|e| format!("malformed TCP options: {e}"))?;
    let seg = Seg {
        flags: Flags { syn: tcp.syn(), ack: tcp.ack(), fin: tcp.fin(), rst: tcp.rst(), psh: tcp.psh(), urg: tcp.urg() },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        win: tcp.window_size(),
        opts,
        data: tcp.payload().to_vec(),
    };
    Ok(Sent { src, dst, sport: tcp.source_port(), dport: tcp.destination_port(), seg })
}

/// An IPv4 or IPv6 packet, its IPv4 header checksum verified (IPv6 has none).
fn ip_slice(packet: &[u8]) -> Result<IpSlice<'_>, String> {
    let ip = IpSlice::from_slice(packet).map_err(|e| format!("not a valid IP packet: {e}"))?;
    if let Some(v4) = ip.ipv4() {
        let header = v4.header();
        if header.header_checksum() != header.to_header().calc_header_checksum() {
            return Err("bad IPv4 header checksum".into());
        }
    }
    Ok(ip)
}

/// The IP protocol numbers of UDP, ICMP and ICMPv6.
const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// A UDP datagram the stack sent, checked like a TCP segment.
pub struct SentDatagram {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub len: usize,
}

/// Anything the stack sent: a TCP segment, a UDP datagram, or something the
/// runner only describes (ICMP).
pub enum Outbound {
    Tcp(Sent),
    Udp(SentDatagram),
    /// An ICMP message: its type, code and bytes 5–8 (a next-hop MTU in 7–8).
    /// An ICMPv6 error is given in ICMPv4's terms (`v6_as_v4`).
    Icmp {
        src: IpAddr,
        dst: IpAddr,
        kind: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// Another protocol, in words.
    Other(String),
}

/// Parse any IP packet from `poll_transmit`: TCP as [`parse`] does, UDP with its
/// checksum verified, ICMP and ICMPv6 described.
pub fn parse_outbound(packet: &[u8]) -> Result<Outbound, String> {
    let ip = ip_slice(packet)?;
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    match ip.payload().ip_number.0 {
        PROTO_TCP => parse(packet).map(Outbound::Tcp),
        PROTO_UDP => {
            let udp = UdpSlice::from_slice(ip.payload().payload).map_err(|e| format!("not a valid UDP header: {e}"))?;
            let checksum = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    udp.to_header().calc_checksum_ipv4_raw(s.octets(), d.octets(), udp.payload())
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    udp.to_header().calc_checksum_ipv6_raw(s.octets(), d.octets(), udp.payload())
                }
                _ => return Err("mixed IP versions".into()),
            };
            // RFC 8200 8.1: a zero checksum is not allowed over IPv6.
            let optional = src.is_ipv4() && udp.checksum() == 0;
            if !optional && checksum.ok() != Some(udp.checksum()) {
                return Err("bad UDP checksum".into());
            }
            Ok(Outbound::Udp(SentDatagram {
                src,
                dst,
                sport: udp.source_port(),
                dport: udp.destination_port(),
                len: udp.payload().len(),
            }))
        }
        PROTO_ICMP => match ip.payload().payload {
            [kind, code, _, _, r0, r1, r2, r3, ..] => {
                Ok(Outbound::Icmp { src, dst, kind: *kind, code: *code, rest: [*r0, *r1, *r2, *r3] })
            }
            _ => Err("a truncated ICMP message".into()),
        },
        PROTO_ICMPV6 => match ip.payload().payload {
            [kind, code, _, _, r0, r1, r2, r3, ..] => {
                let (kind, code, rest) = v6_as_v4(*kind, *code, [*r0, *r1, *r2, *r3]);
                Ok(Outbound::Icmp { src, dst, kind, code, rest })
            }
            _ => Err("a truncated ICMPv6 message".into()),
        },
        other => Ok(Outbound::Other(format!("IP protocol {other} ({src} > {dst})"))),
    }
}

/// The IP packet (TTL or hop limit 64) carrying a UDP datagram of `len` zero bytes.
pub fn udp_packet(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, len: usize) -> Result<Vec<u8>, String> {
    let builder = ip_builder(src, dst)?.udp(sport, dport);
    let payload = vec![0; len];
    let mut packet = Vec::with_capacity(builder.size(len));
    builder.write(&mut packet, &payload).map_err(|e| format!("cannot build the datagram: {e}"))?;
    Ok(packet)
}

/// The packet (TTL or hop limit 64) of an ICMP destination unreachable with
/// `code` from `src` to `dst`, next-hop MTU `mtu` (0 if none), quoting `quoted`
/// (the start of the offending IP datagram). Between IPv6 addresses it is the
/// ICMPv6 error `v4_as_v6` translates it to. The checksum is etherparse's.
pub fn icmp_unreachable_packet(src: IpAddr, dst: IpAddr, code: u8, mtu: u16, quoted: &[u8]) -> Result<Vec<u8>, String> {
    let mut packet = Vec::new();
    let written = if src.is_ipv6() {
        let (kind, code, rest) = v4_as_v6(code, mtu)?;
        ip_builder(src, dst)?.icmpv6_raw(kind, code, rest).write(&mut packet, quoted)
    } else {
        let [m0, m1] = mtu.to_be_bytes();
        ip_builder(src, dst)?.icmpv4_raw(3, code, [0, 0, m0, m1]).write(&mut packet, quoted)
    };
    written.map_err(|e| format!("cannot build the ICMP message: {e}"))?;
    Ok(packet)
}

/// ICMPv4 destination-unreachable `code` (RFC 792, RFC 1812) as the ICMPv6 error
/// (RFC 4443) with the same meaning: `(type, code, bytes 5–8)`. Fragmentation
/// needed is Packet Too Big (type 2, the MTU in bytes 5–8); the unreachables are
/// type 1: net → 0 no route, host → 3 address, port → 4 port, the
/// administratively prohibited ones → 1. A code with no ICMPv6 twin (protocol
/// unreachable, source route failed, …) is an `Err`.
fn v4_as_v6(code: u8, mtu: u16) -> Result<(u8, u8, [u8; 4]), String> {
    let v6 = match code {
        4 => return Ok((2, 0, u32::from(mtu).to_be_bytes())),
        0 | 6 => 0,
        1 | 7 => 3,
        3 => 4,
        9 | 10 | 13 => 1,
        other => return Err(format!("ICMP unreachable code {other} has no ICMPv6 equivalent")),
    };
    Ok((1, v6, [0; 4]))
}

/// An ICMPv6 message in ICMPv4's terms, the inverse of `v4_as_v6`: a Packet Too
/// Big is a fragmentation needed with its MTU (capped at 65535), a destination
/// unreachable a type 3 with the ICMPv4 code; anything else keeps its numbers
/// (and so never matches an `icmp unreachable` line).
fn v6_as_v4(kind: u8, code: u8, rest: [u8; 4]) -> (u8, u8, [u8; 4]) {
    match (kind, code) {
        (2, _) => {
            let [m0, m1] = u16::try_from(u32::from_be_bytes(rest)).unwrap_or(u16::MAX).to_be_bytes();
            (3, 4, [0, 0, m0, m1])
        }
        (1, 0) => (3, 0, [0; 4]),
        (1, 1) => (3, 13, [0; 4]),
        (1, 3) => (3, 1, [0; 4]),
        (1, 4) => (3, 3, [0; 4]),
        _ => (kind, code, rest),
    }
}

/// The flag letters in tcpdump's order: `F S R P U`, then `.` for ACK.
pub fn flag_letters(flags: Flags) -> String {
    let letters =
        [(flags.fin, 'F'), (flags.syn, 'S'), (flags.rst, 'R'), (flags.psh, 'P'), (flags.urg, 'U'), (flags.ack, '.')];
    letters.iter().filter(|(on, _)| *on).map(|(_, c)| c).collect()
}

/// One option in packetdrill's notation (`mss 1460`, `TS val 1 ecr 0`, `sack 1:2`).
pub fn option_text(o: &TcpOptionElement) -> String {
    match o {
        TcpOptionElement::Noop => "nop".into(),
        TcpOptionElement::MaximumSegmentSize(m) => format!("mss {m}"),
        TcpOptionElement::SelectiveAcknowledgementPermitted => "sackOK".into(),
        TcpOptionElement::Timestamp(v, e) => format!("TS val {v} ecr {e}"),
        TcpOptionElement::WindowScale(s) => format!("wscale {s}"),
        TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
            let blocks: Vec<String> =
                std::iter::once(first).chain(rest.iter().flatten()).map(|(l, r)| format!("{l}:{r}")).collect();
            format!("sack {}", blocks.join(" "))
        }
    }
}

/// packetdrill's notation: `P. 1:101(100) ack 1 win 257 <nop,nop,TS val 5 ecr 9>`.
/// The ACK number is shown only when the ACK flag is set.
impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.data.len();
        let end = self.seq.wrapping_add(len as u32);
        write!(f, "{} {}:{}({})", flag_letters(self.flags), self.seq, end, len)?;
        if self.flags.ack {
            write!(f, " ack {}", self.ack)?;
        }
        write!(f, " win {}", self.win)?;
        if !self.opts.is_empty() {
            let opts: Vec<String> = self.opts.iter().map(option_text).collect();
            write!(f, " <{}>", opts.join(","))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn round_trip_through_etherparse() {
        let seg = Seg {
            flags: Flags { syn: true, ack: true, ..Flags::default() },
            seq: 7,
            ack: 1001,
            win: 65535,
            opts: vec![
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(5, 9),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ],
            data: vec![1, 2, 3],
        };
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        let packet = seg.to_packet(a, 1, b, 2).expect("fits");
        let sent = parse(&packet).expect("valid");
        assert_eq!((sent.src, sent.sport, sent.dst, sent.dport), (a.into(), 1, b.into(), 2));
        assert_eq!(sent.seg, seg);
        assert_eq!(seg.to_string(), "S. 7:10(3) ack 1001 win 65535 <mss 1460,sackOK,TS val 5 ecr 9,nop,wscale 7>");
    }

    #[test]
    fn option_bytes_are_what_etherparse_writes() {
        let opts = [
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(5, 9),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::SelectiveAcknowledgement((1, 2), [Some((3, 4)), None, None]),
        ];
        let seg = Seg::new(Flags::default(), 1).opts(opts.clone());
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        let via_list = seg.to_packet(a, 1, b, 2).expect("fits");
        let via_bytes = seg.to_packet_with_raw_options(&option_bytes(&opts), a, 1, b, 2).expect("fits");
        assert_eq!(via_list, via_bytes);
    }

    #[test]
    fn udp_datagrams_round_trip_and_are_checked() {
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        let mut packet = udp_packet(a.into(), 5, b.into(), 6, 100).expect("fits");
        match parse_outbound(&packet) {
            Ok(Outbound::Udp(d)) => {
                assert_eq!((d.src, d.sport, d.dst, d.dport, d.len), (a.into(), 5, b.into(), 6, 100))
            }
            _ => panic!("a UDP datagram"),
        }
        let last = packet.len() - 1;
        packet[last] ^= 1;
        assert!(parse_outbound(&packet).is_err(), "bad checksum");
    }

    #[test]
    fn icmp_errors_round_trip() {
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        let packet = icmp_unreachable_packet(a.into(), b.into(), 4, 1200, &[0x45; 28]).expect("fits");
        match parse_outbound(&packet) {
            Ok(Outbound::Icmp { src, dst, kind, code, rest }) => {
                assert_eq!((src, dst, kind, code, rest), (a.into(), b.into(), 3, 4, [0, 0, 0x04, 0xb0]));
            }
            _ => panic!("an ICMP message"),
        }
    }

    #[test]
    fn ipv6_segments_datagrams_and_errors_round_trip() {
        let a: IpAddr = "fd3d:fa7b:d17d::1".parse().expect("literal");
        let b: IpAddr = "fd3d:a0b:17d6::1".parse().expect("literal");
        let seg =
            Seg::new(Flags { syn: true, ..Flags::default() }, 9).opts([TcpOptionElement::MaximumSegmentSize(1440)]);
        let mut packet = seg.to_packet(a, 1, b, 2).expect("fits");
        assert_eq!(packet[0] >> 4, 6, "an IPv6 packet");
        let sent = parse(&packet).expect("valid");
        assert_eq!((sent.src, sent.sport, sent.dst, sent.dport, sent.seg.clone()), (a, 1, b, 2, seg.clone()));
        let last = packet.len() - 1;
        packet[last] ^= 1;
        assert!(parse(&packet).is_err(), "bad TCP checksum");
        match parse_outbound(&udp_packet(a, 5, b, 6, 10).expect("fits")) {
            Ok(Outbound::Udp(d)) => assert_eq!((d.src, d.sport, d.dst, d.dport, d.len), (a, 5, b, 6, 10)),
            _ => panic!("a UDP datagram"),
        }
        for (v4_code, mtu, rest) in [(4, 1280, [0, 0, 0x05, 0x00]), (3, 0, [0; 4]), (1, 0, [0; 4])] {
            let packet = icmp_unreachable_packet(a, b, v4_code, mtu, &[0x60; 48]).expect("fits");
            assert_eq!((packet[6], packet[40]), (58, if v4_code == 4 { 2 } else { 1 }), "ICMPv6");
            match parse_outbound(&packet) {
                Ok(Outbound::Icmp { kind, code, rest: r, .. }) => assert_eq!((kind, code, r), (3, v4_code, rest)),
                _ => panic!("an ICMPv6 message"),
            }
        }
        assert!(icmp_unreachable_packet(a, b, 2, 0, &[]).is_err(), "protocol unreachable has no ICMPv6 twin");
        assert!(seg.to_packet(a, 1, Ipv4Addr::LOCALHOST, 2).is_err(), "mixed versions");
    }

    #[test]
    fn parse_refuses_a_corrupted_packet() {
        let seg = Seg { flags: Flags::default(), seq: 1, ack: 0, win: 0, opts: vec![], data: vec![] };
        let mut packet = seg.to_packet(Ipv4Addr::LOCALHOST, 1, Ipv4Addr::LOCALHOST, 2).expect("fits");
        let last = packet.len() - 1;
        packet[last] ^= 1;
        assert!(parse(&packet).is_err());
    }
}
