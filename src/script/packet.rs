//! One TCP segment as a script sees it — flags, numbers, window, options, payload —
//! and its translation to and from a whole IPv4 packet with etherparse.
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
use std::net::Ipv4Addr;

use etherparse::{Ipv4Slice, PacketBuilder, TcpHeader, TcpOptionElement, TcpSlice, UdpSlice};

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

    /// The whole IPv4 packet (TTL 64) carrying this segment from `src:sport` to
    /// `dst:dport`, checksums computed by etherparse. Fails only when the options
    /// do not fit in the 40 bytes a TCP header has room for.
    pub fn to_packet(&self, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Result<Vec<u8>, String> {
        let mut header = self.header(sport, dport);
        header.set_options(&self.opts).map_err(|e| format!("TCP options do not fit: {e}"))?;
        self.build(header, src, dst)
    }

    /// As [`Seg::to_packet`], with the options given as bytes instead of
    /// `self.opts` (zero-padded to a multiple of 4): for what etherparse's option
    /// list cannot hold, such as an end-of-list option (kind 0) before the end.
    pub fn to_packet_with_raw_options(
        &self,
        options: &[u8],
        src: Ipv4Addr,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
    ) -> Result<Vec<u8>, String> {
        let mut header = self.header(sport, dport);
        header.set_options_raw(options).map_err(|e| format!("TCP options do not fit: {e}"))?;
        self.build(header, src, dst)
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

    fn build(&self, header: TcpHeader, src: Ipv4Addr, dst: Ipv4Addr) -> Result<Vec<u8>, String> {
        let builder = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).tcp_header(header);
        let mut packet = Vec::with_capacity(builder.size(self.data.len()));
        builder.write(&mut packet, &self.data).map_err(|e| format!("cannot build the packet: {e}"))?;
        Ok(packet)
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

/// A TCP/IPv4 packet the stack sent, taken apart and checked: addresses, ports and
/// both checksums.
pub struct Sent {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seg: Seg,
}

/// Parse a packet from `poll_transmit` with etherparse, verifying both checksums.
/// An `Err` says what was wrong: the stack sent something malformed (or not TCP).
pub fn parse(packet: &[u8]) -> Result<Sent, String> {
    let ip = Ipv4Slice::from_slice(packet).map_err(|e| format!("not a valid IPv4 packet: {e}"))?;
    let header = ip.header();
    if header.protocol().0 != PROTO_TCP {
        return Err(format!("not TCP but IP protocol {}", header.protocol().0));
    }
    if ip.is_payload_fragmented() {
        return Err("a fragmented TCP segment".into());
    }
    if header.header_checksum() != header.to_header().calc_header_checksum() {
        return Err("bad IPv4 header checksum".into());
    }
    let tcp = TcpSlice::from_slice(ip.payload().payload).map_err(|e| format!("not a valid TCP header: {e}"))?;
    let (src, dst) = (header.source_addr(), header.destination_addr());
    let checksum = tcp.calc_checksum_ipv4(src.octets(), dst.octets()).map_err(|e| format!("{e}"))?;
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

/// The IP protocol numbers of UDP and ICMP.
const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;

/// A UDP datagram the stack sent, checked like a TCP segment.
pub struct SentDatagram {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
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
    Icmp {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        kind: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// Another protocol, in words.
    Other(String),
}

/// Parse any IPv4 packet from `poll_transmit`: TCP as [`parse`] does, UDP with its
/// checksum verified, ICMP described.
pub fn parse_outbound(packet: &[u8]) -> Result<Outbound, String> {
    let ip = Ipv4Slice::from_slice(packet).map_err(|e| format!("not a valid IPv4 packet: {e}"))?;
    let header = ip.header();
    let (src, dst) = (header.source_addr(), header.destination_addr());
    match header.protocol().0 {
        PROTO_TCP => parse(packet).map(Outbound::Tcp),
        PROTO_UDP => {
            let udp = UdpSlice::from_slice(ip.payload().payload).map_err(|e| format!("not a valid UDP header: {e}"))?;
            let checksum = udp.to_header().calc_checksum_ipv4_raw(src.octets(), dst.octets(), udp.payload());
            if udp.checksum() != 0 && checksum.ok() != Some(udp.checksum()) {
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
        other => Ok(Outbound::Other(format!("IP protocol {other} ({src} > {dst})"))),
    }
}

/// The IPv4 packet (TTL 64) carrying a UDP datagram of `len` zero bytes.
pub fn udp_packet(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, len: usize) -> Result<Vec<u8>, String> {
    let builder = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).udp(sport, dport);
    let payload = vec![0; len];
    let mut packet = Vec::with_capacity(builder.size(len));
    builder.write(&mut packet, &payload).map_err(|e| format!("cannot build the datagram: {e}"))?;
    Ok(packet)
}

/// The IPv4 packet (TTL 64) of an ICMP destination unreachable with `code` from
/// `src` to `dst`, next-hop MTU `mtu` (0 if none), quoting `quoted` (the start of
/// the offending IP datagram). The checksum is etherparse's.
pub fn icmp_unreachable_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    code: u8,
    mtu: u16,
    quoted: &[u8],
) -> Result<Vec<u8>, String> {
    let [m0, m1] = mtu.to_be_bytes();
    let builder = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).icmpv4_raw(3, code, [0, 0, m0, m1]);
    let mut packet = Vec::with_capacity(builder.size(quoted.len()));
    builder.write(&mut packet, quoted).map_err(|e| format!("cannot build the ICMP message: {e}"))?;
    Ok(packet)
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
        assert_eq!((sent.src, sent.sport, sent.dst, sent.dport), (a, 1, b, 2));
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
        let mut packet = udp_packet(a, 5, b, 6, 100).expect("fits");
        match parse_outbound(&packet) {
            Ok(Outbound::Udp(d)) => assert_eq!((d.src, d.sport, d.dst, d.dport, d.len), (a, 5, b, 6, 100)),
            _ => panic!("a UDP datagram"),
        }
        let last = packet.len() - 1;
        packet[last] ^= 1;
        assert!(parse_outbound(&packet).is_err(), "bad checksum");
    }

    #[test]
    fn icmp_errors_round_trip() {
        let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 168, 0, 1));
        let packet = icmp_unreachable_packet(a, b, 4, 1200, &[0x45; 28]).expect("fits");
        match parse_outbound(&packet) {
            Ok(Outbound::Icmp { src, dst, kind, code, rest }) => {
                assert_eq!((src, dst, kind, code, rest), (a, b, 3, 4, [0, 0, 0x04, 0xb0]));
            }
            _ => panic!("an ICMP message"),
        }
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
