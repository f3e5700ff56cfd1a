//! TCP segment parsing and writing (RFC 9293 §3.1) and the options the stack speaks:
//! MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK (RFC 2018).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeader, TcpHeaderSlice, TcpOptionElement, TcpOptionsIterator, TcpSlice,
};

use super::field::read_u32;
use super::ip_protocol;

/// Where each field of the TCP header sits (RFC 9293 §3.1), and the control bits of
/// the flags byte. Options, if any, run from [`MIN_HEADER_LEN`] to data offset × 4.
pub mod field {
    use crate::wire::field::Field;

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset, the header length in 32-bit words (high nibble); reserved bits.
    pub const DATA_OFF: usize = 12;
    /// The control bits, `FLG_*`.
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    /// Checksum over the pseudo-header, header and data.
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;

    pub const FLG_FIN: u8 = 0x01;
    pub const FLG_SYN: u8 = 0x02;
    pub const FLG_RST: u8 = 0x04;
    pub const FLG_PSH: u8 = 0x08;
    pub const FLG_ACK: u8 = 0x10;
    pub const FLG_URG: u8 = 0x20;
    /// ECN-Echo (RFC 3168).
    pub const FLG_ECE: u8 = 0x40;
    /// Congestion Window Reduced (RFC 3168).
    pub const FLG_CWR: u8 = 0x80;
}

/// TCP header length without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Why a TCP segment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// Shorter than its header, or a data offset below 5 or past the end.
    BadHeader,
    /// The checksum does not verify.
    BadChecksum,
}

/// The control bits of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
}

/// The options of one segment, decoded. Unknown options are skipped; a malformed
/// option ends option parsing (the rest is ignored), never the segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// Up to four SACK blocks `[left, right)`.
    pub sack_blocks: [Option<(u32, u32)>; 4],
    /// `(TSval, TSecr)`.
    pub timestamp: Option<(u32, u32)>,
}

impl Options {
    /// The SACK blocks present, in order.
    pub fn sacks(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.sack_blocks.iter().flatten().copied()
    }
}

/// A TCP segment: header fields and payload. Used both for parsed input (borrowing
/// the packet) and for building output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub window: u16,
    pub options: Options,
    pub payload: &'a [u8],
}

impl Segment<'_> {
    /// SEG.LEN: payload bytes plus one for SYN and one for FIN (RFC 9293 §3.4).
    pub fn seg_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn) + usize::from(self.flags.fin)
    }
}

/// Parse and checksum-verify one TCP segment carried from `src` to `dst`.
pub fn parse(src: Ipv4Addr, dst: Ipv4Addr, ip_payload: &[u8]) -> Result<Segment<'_>, TcpError> {
    parse_checked(ip_payload, |segment| super::verifies_with_pseudo_header(src, dst, ip_protocol::TCP, segment))
}

/// [`parse`] for a segment carried over IPv6 (the checksum covers the IPv6
/// pseudo-header, RFC 8200 §8.1).
pub fn parse_v6(src: Ipv6Addr, dst: Ipv6Addr, ip_payload: &[u8]) -> Result<Segment<'_>, TcpError> {
    parse_checked(ip_payload, |segment| super::verifies_with_pseudo_header_v6(src, dst, ip_protocol::TCP, segment))
}

/// [`parse`] for a segment whose checksum the link vouches for
/// (`RxChecksum::Vouched`, set by the stack's caller): the header is checked,
/// the checksum is not — its field may hold only the pseudo-header sum.
pub fn parse_vouched(ip_payload: &[u8]) -> Result<Segment<'_>, TcpError> {
    parse_checked(ip_payload, |_| true)
}

fn parse_checked(ip_payload: &[u8], verifies: impl FnOnce(&[u8]) -> bool) -> Result<Segment<'_>, TcpError> {
    let slice = TcpSlice::from_slice(ip_payload).map_err(|_| TcpError::BadHeader)?;
    if !verifies(ip_payload) {
        return Err(TcpError::BadChecksum);
    }
    Ok(Segment {
        src_port: slice.source_port(),
        dst_port: slice.destination_port(),
        seq: slice.sequence_number(),
        ack: slice.acknowledgment_number(),
        flags: Flags {
            syn: slice.syn(),
            ack: slice.ack(),
            fin: slice.fin(),
            rst: slice.rst(),
            psh: slice.psh(),
            urg: slice.urg(),
        },
        window: slice.window_size(),
        options: parse_options(slice.options()),
        payload: slice.payload(),
    })
}

/// Walk the option list kind by kind (RFC 9293 §3.2: kinds 0 and 1 are single
/// bytes, every other kind has a length byte). Known kinds are decoded by
/// etherparse; unknown kinds are skipped by their length.
pub fn parse_options(mut bytes: &[u8]) -> Options {
    const END: u8 = 0;
    const NOP: u8 = 1;
    let mut options = Options::default();
    while let Some(&kind) = bytes.first() {
        match kind {
            END => break,
            NOP => {
                bytes = &bytes[1..];
                continue;
            }
            _ => {}
        }
        let Some(len) = bytes.get(1).map(|&l| usize::from(l)) else {
            break;
        };
        let Some(option) = bytes.get(..len).filter(|_| len >= 2) else {
            break;
        };
        if let Some(Ok(element)) = TcpOptionsIterator::from_slice(option).next() {
            match element {
                TcpOptionElement::MaximumSegmentSize(mss) => options.mss = Some(mss),
                TcpOptionElement::WindowScale(shift) => options.window_scale = Some(shift),
                TcpOptionElement::SelectiveAcknowledgementPermitted => options.sack_permitted = true,
                TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                    options.sack_blocks = [Some(first), rest[0], rest[1], rest[2]];
                }
                TcpOptionElement::Timestamp(val, ecr) => options.timestamp = Some((val, ecr)),
                TcpOptionElement::Noop => {}
            }
        }
        bytes = &bytes[len..];
    }
    options
}

/// How a stack lays out its TCP options: which order, and how it pads them to
/// 32-bit words. RFC 9293 §3.2 allows any; peers do not care, but a packetdrill
/// script written against one kernel compares them byte for byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptionLayout {
    /// Linux's: MSS, SACK-permitted, timestamps, NOP + window scale, each 4-byte
    /// field aligned with NOPs (`<mss,sackOK,TS,nop,wscale>`).
    #[default]
    Linux,
    /// FreeBSD's (`tcp_addoptions`): MSS, window scale, SACK-permitted,
    /// timestamps, SACK blocks, each aligned with NOPs as its own rule says, the
    /// whole padded with end-of-list bytes (`<mss,sackOK,eol,eol>`).
    FreeBsd,
}

/// Append `segment` (header, options, payload, checksum for `src` → `dst`) to `out`,
/// its options in Linux's layout ([`OptionLayout::Linux`]).
pub fn emit(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, segment: &Segment<'_>) -> Option<()> {
    emit_with(out, src, dst, segment, OptionLayout::Linux)
}

/// [`emit`] with the options in `layout`.
pub fn emit_with(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    segment: &Segment<'_>,
    layout: OptionLayout,
) -> Option<()> {
    emit_parts(out, src.into(), dst.into(), segment, &[], layout, TxChecksum::Compute)
}

/// Who computes an outgoing segment's checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxChecksum {
    /// We do: one pass over the header and payload.
    Compute,
    /// The device does (transmit checksum offload): the field gets only the
    /// pseudo-header sum ([`set_partial_checksum`]), no pass over the payload.
    Offload,
}

/// [`emit_with`] for a payload in two parts, `segment.payload` then `tail` (a
/// range of a ring buffer that wraps): both are copied once, straight into
/// `out`, and the checksum is computed over them there — over the IPv4 or the
/// IPv6 pseudo-header, as the addresses are (`None` if their families differ)
/// — or, with [`TxChecksum::Offload`], left to the device.
pub fn emit_parts(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    segment: &Segment<'_>,
    tail: &[u8],
    layout: OptionLayout,
    checksum: TxChecksum,
) -> Option<()> {
    let mut header = TcpHeader::new(segment.src_port, segment.dst_port, segment.seq, segment.window);
    header.acknowledgment_number = segment.ack;
    header.syn = segment.flags.syn;
    header.ack = segment.flags.ack;
    header.fin = segment.flags.fin;
    header.rst = segment.flags.rst;
    header.psh = segment.flags.psh;
    header.urg = segment.flags.urg;
    let elements = match layout {
        OptionLayout::Linux => linux_options(&segment.options),
        OptionLayout::FreeBsd => freebsd_options(&segment.options),
    };
    header.set_options(elements.as_slice()?).ok()?;
    let start = out.len();
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(segment.payload);
    out.extend_from_slice(tail);
    if checksum == TxChecksum::Offload {
        if set_partial_checksum(src, dst, &mut out[start..]) {
            return Some(());
        }
        out.truncate(start);
        return None;
    }
    // The header went out with a zero checksum field; the sum covers it as sent.
    let Some(checksum) = super::checksum(src, dst, ip_protocol::TCP, &out[start..]) else {
        out.truncate(start);
        return None;
    };
    out[start + field::CHECKSUM.start..start + field::CHECKSUM.end].copy_from_slice(&checksum);
    Some(())
}

/// A segment's options as etherparse elements, in a fixed array: no `Vec` per
/// segment. Either layout needs at most 11 (MSS, window scale, SACK-permitted,
/// timestamps, SACK and their NOPs); one more than the array holds makes the
/// list unusable rather than silently short.
struct OptionList {
    items: [TcpOptionElement; 12],
    len: usize,
    overflowed: bool,
}

impl OptionList {
    fn new() -> Self {
        OptionList { items: [const { TcpOptionElement::Noop }; 12], len: 0, overflowed: false }
    }

    fn push(&mut self, element: TcpOptionElement) {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = element;
                self.len += 1;
            }
            None => self.overflowed = true,
        }
    }

    /// The options, unless more were pushed than fit.
    fn as_slice(&self) -> Option<&[TcpOptionElement]> {
        (!self.overflowed).then_some(&self.items[..self.len])
    }
}

/// The SACK blocks that fit beside the other options: 40 option bytes hold four
/// blocks, three beside timestamps (RFC 2018 §3).
fn sack_option(o: &Options) -> Option<TcpOptionElement> {
    let mut blocks = o.sacks();
    let first = blocks.next()?;
    let rest = [blocks.next(), blocks.next(), blocks.next()];
    let room = if o.timestamp.is_some() { 2 } else { 3 };
    let mut trimmed = [None; 3];
    for (slot, block) in trimmed.iter_mut().zip(rest.into_iter().take(room)) {
        *slot = block;
    }
    Some(TcpOptionElement::SelectiveAcknowledgement(first, trimmed))
}

/// Linux's layout (see [`OptionLayout::Linux`]).
fn linux_options(o: &Options) -> OptionList {
    let mut elements = OptionList::new();
    if let Some(mss) = o.mss {
        elements.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    match (o.sack_permitted, o.timestamp) {
        (true, Some((val, ecr))) => {
            elements.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
            elements.push(TcpOptionElement::Timestamp(val, ecr));
        }
        (true, None) => {
            elements.push(TcpOptionElement::Noop);
            elements.push(TcpOptionElement::Noop);
            elements.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        }
        (false, Some((val, ecr))) => {
            elements.push(TcpOptionElement::Noop);
            elements.push(TcpOptionElement::Noop);
            elements.push(TcpOptionElement::Timestamp(val, ecr));
        }
        (false, None) => {}
    }
    if let Some(shift) = o.window_scale {
        elements.push(TcpOptionElement::Noop);
        elements.push(TcpOptionElement::WindowScale(shift));
    }
    if let Some(sack) = sack_option(o) {
        elements.push(TcpOptionElement::Noop);
        elements.push(TcpOptionElement::Noop);
        elements.push(sack);
    }
    elements
}

/// FreeBSD's layout (see [`OptionLayout::FreeBsd`]): each option is preceded by
/// NOPs until the running length meets its alignment rule; etherparse pads the
/// end with zero bytes, which are end-of-list options.
fn freebsd_options(o: &Options) -> OptionList {
    let mut elements = OptionList::new();
    let mut len = 0usize;
    fn align(elements: &mut OptionList, len: &mut usize, done: &dyn Fn(usize) -> bool) {
        while !done(*len) {
            elements.push(TcpOptionElement::Noop);
            *len += 1;
        }
    }
    if let Some(mss) = o.mss {
        elements.push(TcpOptionElement::MaximumSegmentSize(mss));
        len += 4;
    }
    if let Some(shift) = o.window_scale {
        align(&mut elements, &mut len, &|l| l != 0 && l % 2 == 1);
        elements.push(TcpOptionElement::WindowScale(shift));
        len += 3;
    }
    if o.sack_permitted {
        align(&mut elements, &mut len, &|l| l % 2 == 0);
        elements.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        len += 2;
    }
    if let Some((val, ecr)) = o.timestamp {
        align(&mut elements, &mut len, &|l| l != 0 && l % 4 == 2);
        elements.push(TcpOptionElement::Timestamp(val, ecr));
        len += 10;
    }
    if let Some(sack) = sack_option(o) {
        align(&mut elements, &mut len, &|l| l % 4 == 2);
        elements.push(sack);
    }
    elements
}

/// An IP packet (IPv4 or IPv6) carrying a TCP segment, cut into its headers and
/// payload, for code that moves segments rather than receives them (the TUN's
/// offloads). No checksum is verified: input goes through [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpSegment<'a> {
    /// The addresses, both of the packet's family.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP header: IPv4's with its options, or IPv6's fixed header (a packet
    /// with IPv6 extension headers is never split).
    pub ip_header: &'a [u8],
    /// Whether the packet is an IPv4 fragment (MF set or a fragment offset): then
    /// the rest of the segment is in other packets, and only the first holds a TCP
    /// header. Always false over IPv6, whose fragments carry a Fragment header.
    pub fragmented: bool,
    /// The TCP header, options included.
    pub tcp_header: &'a [u8],
    /// The data, up to the IPv4 total length or the IPv6 Payload Length (link
    /// padding is not part of it).
    pub payload: &'a [u8],
    pub seq: u32,
    /// The control bits as one byte, `field::FLG_*` (the same bits etherparse reads
    /// one by one), so that whole flag sets compare at once.
    pub flags: u8,
}

/// Cut `packet` into an [`IpSegment`], by its version: [`split_ipv4`] or
/// [`split_ipv6`]. `None` for anything else.
pub fn split(packet: &[u8]) -> Option<IpSegment<'_>> {
    match packet.first()? >> 4 {
        4 => split_ipv4(packet),
        6 => split_ipv6(packet),
        _ => None,
    }
}

/// Cut an IPv4 `packet` into an [`IpSegment`]. `None` unless it holds a whole IPv4
/// header whose protocol is TCP, a total length between that header's length and
/// the buffer's, and within that length a whole TCP header (data offset ≥ 5).
///
/// Cost: a few comparisons; nothing is copied or summed.
pub fn split_ipv4(packet: &[u8]) -> Option<IpSegment<'_>> {
    let ip = Ipv4HeaderSlice::from_slice(packet).ok()?;
    if ip.protocol().0 != ip_protocol::TCP {
        return None;
    }
    let ip_header = ip.slice();
    let segment = packet.get(ip_header.len()..usize::from(ip.total_len()))?;
    let fragmented = ip.more_fragments() || ip.fragments_offset().value() != 0;
    cut_segment(ip.source_addr().into(), ip.destination_addr().into(), ip_header, fragmented, segment)
}

/// Cut an IPv6 `packet` into an [`IpSegment`]. `None` unless it holds the whole
/// fixed header, whose Next Header is TCP itself (no extension headers), a
/// Payload Length within the buffer, and within it a whole TCP header.
///
/// Cost: a few comparisons; nothing is copied or summed.
pub fn split_ipv6(packet: &[u8]) -> Option<IpSegment<'_>> {
    let ip = Ipv6HeaderSlice::from_slice(packet).ok()?;
    if ip.next_header().0 != ip_protocol::TCP {
        return None;
    }
    let ip_header = ip.slice();
    let segment = packet.get(ip_header.len()..ip_header.len() + usize::from(ip.payload_length()))?;
    cut_segment(ip.source_addr().into(), ip.destination_addr().into(), ip_header, false, segment)
}

/// The [`IpSegment`] of `segment` (TCP header and data) behind `ip_header`.
fn cut_segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip_header: &'a [u8],
    fragmented: bool,
    segment: &'a [u8],
) -> Option<IpSegment<'a>> {
    let tcp_header = TcpHeaderSlice::from_slice(segment).ok()?.slice();
    Some(IpSegment {
        src,
        dst,
        ip_header,
        fragmented,
        tcp_header,
        payload: segment.get(tcp_header.len()..)?,
        seq: read_u32(tcp_header, field::SEQ_NUM)?,
        flags: *tcp_header.get(field::FLAGS)?,
    })
}

/// Set the control bits of the TCP header at the start of `segment` to `flags`
/// (`field::FLG_*`). False, and `segment` unchanged, if it is too short to hold them.
/// The checksum is not updated.
pub fn set_flags(segment: &mut [u8], flags: u8) -> bool {
    match segment.get_mut(field::FLAGS) {
        Some(byte) => {
            *byte = flags;
            true
        }
        None => false,
    }
}

/// Put into the checksum field of `segment` (TCP header and data, sent from `src`
/// to `dst`) what a sender using checksum offload leaves there: the pseudo-header sum
/// only, over IPv4's pseudo-header or IPv6's (RFC 8200 §8.1). Whoever finishes the
/// checksum ([`super::complete_partial_checksum`] from the start of the TCP header,
/// or the kernel's TSO) adds the header and data. False, and `segment` unchanged,
/// if it is shorter than a TCP header or longer than one IP packet can carry
/// (65,535 bytes), or the addresses are of different families.
pub fn set_partial_checksum(src: IpAddr, dst: IpAddr, segment: &mut [u8]) -> bool {
    let len = segment.len();
    set_partial_checksum_of(src, dst, segment, len)
}

/// [`set_partial_checksum`] for a segment of `len` bytes (header and data) of
/// which `header` holds only the start: what a super-segment written from
/// several buffers at once needs (`device::vnet::coalesce`).
pub fn set_partial_checksum_of(src: IpAddr, dst: IpAddr, header: &mut [u8], len: usize) -> bool {
    let Ok(len) = u16::try_from(len) else {
        return false;
    };
    let seed = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => super::pseudo_sum::partial_checksum(s, d, ip_protocol::TCP, len),
        (IpAddr::V6(s), IpAddr::V6(d)) => super::pseudo_sum::partial_checksum_v6(s, d, ip_protocol::TCP, len.into()),
        _ => return false,
    };
    let Some(field) = header.get_mut(field::CHECKSUM).filter(|_| usize::from(len) >= MIN_HEADER_LEN) else {
        return false;
    };
    field.copy_from_slice(&seed);
    true
}

/// Compute and write the checksum of `segment` (TCP header and data, sent from
/// `src` to `dst`, either family), after its fields were changed in place. False,
/// and `segment` unchanged, if it does not start with a whole TCP header, is
/// longer than the pseudo-header's length field can describe, or the addresses
/// are of different families.
pub fn fill_checksum(src: IpAddr, dst: IpAddr, segment: &mut [u8]) -> bool {
    if TcpHeaderSlice::from_slice(segment).is_err() {
        return false;
    }
    let old = [segment[field::CHECKSUM.start], segment[field::CHECKSUM.start + 1]];
    segment[field::CHECKSUM].fill(0);
    match super::checksum(src, dst, ip_protocol::TCP, segment) {
        Some(sum) => {
            segment[field::CHECKSUM].copy_from_slice(&sum);
            true
        }
        None => {
            segment[field::CHECKSUM].copy_from_slice(&old);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    fn syn() -> Segment<'static> {
        Segment {
            src_port: 40000,
            dst_port: 80,
            seq: 0xfffffff0,
            ack: 0,
            flags: Flags { syn: true, ..Flags::default() },
            window: 64240,
            options: Options {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamp: Some((1, 0)),
                ..Options::default()
            },
            payload: b"",
        }
    }

    /// FreeBSD's SYN,ACK to a SYN offering MSS and SACK: `<mss 1460,sackOK,eol,eol>`;
    /// with every option: `<mss,nop,wscale,sackOK,TS>`; timestamps alone on data:
    /// `<nop,nop,TS>` as Linux.
    #[test]
    fn the_freebsd_layout_aligns_and_pads_as_freebsd_does() {
        let src = Ipv4Addr::new(198, 18, 0, 2);
        let dst = Ipv4Addr::new(198, 18, 0, 1);
        let opts = |o: Options| {
            let seg = Segment {
                src_port: 1,
                dst_port: 2,
                seq: 0,
                ack: 0,
                flags: Flags { syn: true, ack: true, ..Flags::default() },
                window: 65535,
                options: o,
                payload: &[],
            };
            let mut out = Vec::new();
            emit_with(&mut out, src, dst, &seg, OptionLayout::FreeBsd).expect("fits");
            out[MIN_HEADER_LEN..].to_vec()
        };
        let mss_sack = Options { mss: Some(1460), sack_permitted: true, ..Options::default() };
        assert_eq!(opts(mss_sack), [2, 4, 5, 180, 4, 2, 0, 0]);
        let all = Options {
            mss: Some(1460),
            window_scale: Some(6),
            sack_permitted: true,
            timestamp: Some((1, 2)),
            ..Options::default()
        };
        assert_eq!(opts(all), [2, 4, 5, 180, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        let ts = Options { timestamp: Some((1, 2)), ..Options::default() };
        assert_eq!(opts(ts), [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        // Every layout parses back to the same options.
        for o in [mss_sack, all, ts] {
            let mut out = Vec::new();
            let seg = Segment {
                src_port: 1,
                dst_port: 2,
                seq: 0,
                ack: 0,
                flags: Flags::default(),
                window: 1,
                options: o,
                payload: &[],
            };
            emit_with(&mut out, src, dst, &seg, OptionLayout::FreeBsd).expect("fits");
            assert_eq!(parse(src, dst, &out).expect("valid").options, o);
        }
    }

    /// A payload in two parts (a send buffer's ring that wraps) makes the same
    /// bytes, checksum included, as the payload in one piece, appended after
    /// whatever `out` held; every option list either layout makes fits the
    /// fixed array, and one that does not fit is refused, not cut short.
    #[test]
    fn a_payload_in_two_parts_is_the_payload_in_one() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut seg = syn();
        seg.flags = Flags { ack: true, psh: true, ..Flags::default() };
        // A data segment's options: timestamps and SACK blocks.
        seg.options = Options {
            timestamp: Some((7, 9)),
            sack_blocks: [Some((1, 2)), Some((3, 4)), Some((5, 6)), None],
            ..Options::default()
        };
        for layout in [OptionLayout::Linux, OptionLayout::FreeBsd] {
            let mut whole = Vec::new();
            emit_with(&mut whole, A, B, &Segment { payload: &data, ..seg }, layout).expect("fits");
            for cut in [0, 1, 500, 999, 1000] {
                let mut parts = b"ip header".to_vec();
                emit_parts(
                    &mut parts,
                    A.into(),
                    B.into(),
                    &Segment { payload: &data[..cut], ..seg },
                    &data[cut..],
                    layout,
                    TxChecksum::Compute,
                )
                .expect("fits");
                assert_eq!(&parts[9..], &whole[..], "{layout:?} cut at {cut}");
            }
            // Offloaded: the same bytes but the checksum, which holds only the
            // pseudo-header sum; finishing it gives the whole segment back.
            let mut offloaded = Vec::new();
            let segment = Segment { payload: &data[..500], ..seg };
            emit_parts(&mut offloaded, A.into(), B.into(), &segment, &data[500..], layout, TxChecksum::Offload)
                .expect("fits");
            assert_eq!(offloaded[..16], whole[..16]);
            assert_eq!(offloaded[18..], whole[18..]);
            let at = field::CHECKSUM.start;
            assert!(crate::wire::complete_partial_checksum(&mut offloaded, 0, at));
            assert_eq!(offloaded, whole, "{layout:?} offloaded");
        }
        let mut list = OptionList::new();
        for _ in 0..12 {
            list.push(TcpOptionElement::Noop);
        }
        assert_eq!(list.as_slice().map(<[_]>::len), Some(12));
        list.push(TcpOptionElement::Noop);
        assert!(list.as_slice().is_none(), "one too many is refused");
    }

    #[test]
    fn round_trip_with_options() {
        let mut buf = Vec::new();
        emit(&mut buf, A, B, &syn()).expect("fits");
        assert_eq!(buf.len(), 40, "Linux-sized SYN: 20 + 20 option bytes");
        // Linux's order: MSS, SACK-permitted, TS, NOP, WS.
        assert_eq!(&buf[20..24], &[2, 4, 0x05, 0xb4]);
        assert_eq!(&buf[24..26], &[4, 2]);
        assert_eq!(buf[26], 8);
        assert_eq!(&buf[36..40], &[1, 3, 3, 7]);
        assert_eq!(parse(A, B, &buf), Ok(syn()));
    }

    #[test]
    fn sack_blocks_round_trip() {
        let mut seg = syn();
        seg.flags = Flags { ack: true, ..Flags::default() };
        seg.options = Options {
            timestamp: Some((5, 6)),
            sack_blocks: [Some((100, 200)), Some((300, 400)), Some((500, 600)), None],
            ..Options::default()
        };
        let mut buf = Vec::new();
        emit(&mut buf, A, B, &seg).expect("fits");
        assert_eq!(parse(A, B, &buf).expect("valid").options, seg.options);
    }

    #[test]
    fn unknown_and_malformed_options_are_skipped() {
        // NOP, unknown kind 30 len 4, MSS 1000, then a truncated option.
        let o = parse_options(&[1, 30, 4, 9, 9, 2, 4, 0x03, 0xe8, 8, 10, 0]);
        assert_eq!(o.mss, Some(1000));
        assert_eq!(o.timestamp, None);
        // A length of 0 or 1 would loop forever in a naive parser.
        assert_eq!(parse_options(&[30, 0, 2, 4, 1, 1]), Options::default());
        assert_eq!(parse_options(&[2, 4, 1]), Options::default());
        // A wrong-size MSS is ignored, and parsing continues after it.
        let o = parse_options(&[2, 3, 1, 4, 2]);
        assert!(o.sack_permitted);
    }

    #[test]
    fn bad_checksum_and_header() {
        let mut buf = Vec::new();
        emit(&mut buf, A, B, &syn()).expect("fits");
        let mut bad = buf.clone();
        bad[field::SEQ_NUM.start] ^= 1;
        assert_eq!(parse(A, B, &bad), Err(TcpError::BadChecksum));
        assert_eq!(parse(A, B, &buf[..19]), Err(TcpError::BadHeader));
        let mut off = buf.clone();
        off[field::DATA_OFF] = 0x40;
        assert_eq!(parse(A, B, &off), Err(TcpError::BadHeader));
        // A vouched-for segment skips only the checksum, not the header checks.
        assert_eq!(parse_vouched(&bad).map(|s| s.seq), Ok(syn().seq ^ (1 << 24)));
        assert_eq!(parse_vouched(&off).err(), Some(TcpError::BadHeader));
    }

    fn arb_options() -> impl proptest::strategy::Strategy<Value = Options> {
        use proptest::prelude::*;
        let block = (any::<u32>(), any::<u32>());
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(0u8..=14),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::collection::vec(block, 0..=4),
        )
            .prop_map(|(mss, window_scale, sack_permitted, timestamp, blocks)| {
                // What fits beside the timestamp (RFC 2018 §3: at most 3 blocks).
                let room = if timestamp.is_some() { 3 } else { 4 };
                let mut sack_blocks = [None; 4];
                for (slot, b) in sack_blocks.iter_mut().zip(blocks.into_iter().take(room)) {
                    *slot = Some(b);
                }
                Options { mss, window_scale, sack_permitted, sack_blocks, timestamp }
            })
    }

    proptest::proptest! {
        /// parse(emit(x)) = x for every segment whose options fit in 40 bytes
        /// (emit refuses the others), and every single-bit flip of the result is
        /// caught: one flipped bit changes one 16-bit word by ±2^k, which the
        /// one's-complement sum always notices.
        #[test]
        fn emit_then_parse_round_trips_and_any_bit_flip_is_caught(
            ports in proptest::prelude::any::<(u16, u16)>(),
            seq in proptest::prelude::any::<u32>(),
            ack in proptest::prelude::any::<u32>(),
            bits in 0u8..64,
            window in proptest::prelude::any::<u16>(),
            options in arb_options(),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            flip in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let flags = Flags {
                syn: bits & 1 != 0, ack: bits & 2 != 0, fin: bits & 4 != 0,
                rst: bits & 8 != 0, psh: bits & 16 != 0, urg: bits & 32 != 0,
            };
            let segment = Segment {
                src_port: ports.0, dst_port: ports.1, seq, ack, flags, window, options, payload: &payload,
            };
            let mut buf = Vec::new();
            if emit(&mut buf, A, B, &segment).is_some() {
                proptest::prop_assert_eq!(parse(A, B, &buf), Ok(segment));
                let bit = flip.index(buf.len() * 8);
                buf[bit / 8] ^= 1 << (bit % 8);
                proptest::prop_assert!(parse(A, B, &buf).is_err(), "flip of bit {} went unnoticed", bit);
            }
        }
    }

    /// One's complement has two zeros: where the checksum computes to 0, Linux
    /// writes 0xFFFF, and both must verify.
    #[test]
    fn both_zeros_of_ones_complement_verify() {
        let segment = (0..=u16::MAX)
            .map(|word| {
                let mut buf = Vec::new();
                emit(&mut buf, A, B, &Segment { payload: &word.to_be_bytes(), ..syn() }).expect("fits");
                buf
            })
            .find(|buf| buf[field::CHECKSUM] == [0, 0])
            .expect("some two-byte payload makes the checksum zero");
        assert!(parse(A, B, &segment).is_ok());
        let mut mangled = segment.clone();
        mangled[field::CHECKSUM].copy_from_slice(&[0xff, 0xff]);
        assert!(parse(A, B, &mangled).is_ok(), "0xFFFF is the other zero");
    }

    /// `segment` in an IPv4 packet from A to B.
    fn in_ipv4(segment: &Segment<'_>) -> Vec<u8> {
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, segment).expect("fits");
        let repr = super::super::ipv4::Ipv4Repr {
            src: A,
            dst: B,
            protocol: ip_protocol::TCP,
            ttl: 64,
            id: 7,
            dont_fragment: true,
        };
        let mut packet = Vec::new();
        super::super::ipv4::emit(&mut packet, &repr, 0, false, &tcp).expect("fits");
        packet
    }

    fn data_segment() -> Segment<'static> {
        Segment {
            flags: Flags { ack: true, psh: true, ..Flags::default() },
            options: Options { timestamp: Some((1, 2)), ..Options::default() },
            payload: b"some data",
            ..syn()
        }
    }

    #[test]
    fn split_ipv4_finds_headers_payload_seq_and_flags() {
        let mut packet = in_ipv4(&data_segment());
        packet.extend_from_slice(&[0; 6]); // link padding
        let s = split_ipv4(&packet).expect("IPv4 + TCP");
        assert_eq!((s.src, s.dst, s.seq, s.fragmented), (A.into(), B.into(), 0xfffffff0, false));
        assert_eq!((s.ip_header.len(), s.tcp_header.len()), (20, 32));
        assert_eq!(s.payload, b"some data");
        assert_eq!(s.flags, field::FLG_ACK | field::FLG_PSH);
        assert_eq!(parse(A, B, &packet[20..packet.len() - 6]).map(|p| p.seq), Ok(s.seq));
    }

    #[test]
    fn split_ipv4_refuses_truncated_and_non_tcp_packets() {
        let packet = in_ipv4(&data_segment());
        // Cut anywhere before the end of the TCP header: the total length no longer
        // fits, or the header is not whole.
        for cut in 0..52 {
            assert_eq!(split_ipv4(&packet[..cut]), None, "cut at {cut}");
        }
        let mut udp = packet.clone();
        udp[super::super::ipv4::field::PROTOCOL] = ip_protocol::UDP;
        assert_eq!(split_ipv4(&udp), None);
        let mut short_total = packet.clone();
        short_total[super::super::ipv4::field::LENGTH].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(split_ipv4(&short_total), None, "total length ends inside the TCP header");
        let mut offset = packet.clone();
        offset[20 + field::DATA_OFF] = 0x40;
        assert_eq!(split_ipv4(&offset), None, "data offset below 5");
        let mut fragment = packet.clone();
        fragment[super::super::ipv4::field::FLG_OFF].copy_from_slice(&[0x20, 0]);
        assert!(split_ipv4(&fragment).expect("still split").fragmented);
    }

    /// `segment` behind an IPv6 fixed header (the checksum is IPv4's: split
    /// does not look at it).
    fn in_ipv6(next_header: u8) -> (Vec<u8>, Ipv6Addr, Ipv6Addr) {
        let (a6, b6) = (A.to_ipv6_mapped(), Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1));
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, &data_segment()).expect("fits");
        let repr = super::super::ipv6::Ipv6Repr { src: a6, dst: b6, next_header, hop_limit: 64, flow_label: 5 };
        let mut packet = Vec::new();
        super::super::ipv6::emit(&mut packet, &repr, &tcp).expect("fits");
        (packet, a6, b6)
    }

    #[test]
    fn split_ipv6_finds_headers_payload_seq_and_flags_and_refuses_the_rest() {
        let (mut packet, a6, b6) = in_ipv6(ip_protocol::TCP);
        packet.extend_from_slice(&[0; 6]); // link padding
        let s = split(&packet).expect("IPv6 + TCP");
        assert_eq!(s, split_ipv6(&packet).expect("the same"));
        assert_eq!((s.src, s.dst, s.seq, s.fragmented), (a6.into(), b6.into(), 0xfffffff0, false));
        assert_eq!((s.ip_header.len(), s.tcp_header.len()), (40, 32));
        assert_eq!((s.payload, s.flags), (&b"some data"[..], field::FLG_ACK | field::FLG_PSH));
        for cut in 0..72 {
            assert_eq!(split(&packet[..cut]), None, "cut at {cut}");
        }
        assert_eq!(split(&in_ipv6(ip_protocol::UDP).0), None);
        assert_eq!(split(&in_ipv6(ip_protocol::DEST_OPTIONS).0), None, "extension headers are never split");
        assert_eq!(split(&[0x50; 80]), None, "version 5");
    }

    #[test]
    fn checksums_over_the_ipv6_pseudo_header() {
        let (a6, b6) = (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2), Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1));
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, &data_segment()).expect("fits");
        assert!(parse_v6(a6, b6, &tcp).is_err(), "an IPv4 checksum");
        assert!(fill_checksum(a6.into(), b6.into(), &mut tcp));
        let good = tcp.clone();
        assert!(parse_v6(a6, b6, &tcp).is_ok());
        assert!(set_partial_checksum(a6.into(), b6.into(), &mut tcp));
        assert_ne!(tcp, good);
        assert!(super::super::complete_partial_checksum(&mut tcp, 0, field::CHECKSUM.start));
        assert_eq!(tcp, good);
        assert!(!set_partial_checksum(A.into(), b6.into(), &mut tcp), "mixed families");
        assert!(!fill_checksum(a6.into(), B.into(), &mut tcp), "mixed families");
        assert_eq!(tcp, good);
    }

    #[test]
    fn set_flags_writes_the_control_bits() {
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, &data_segment()).expect("fits");
        assert!(set_flags(&mut tcp, field::FLG_ACK | field::FLG_FIN));
        assert!(fill_checksum(A.into(), B.into(), &mut tcp));
        let flags = parse(A, B, &tcp).expect("valid").flags;
        assert_eq!(flags, Flags { ack: true, fin: true, ..Flags::default() });
        assert!(!set_flags(&mut tcp[..13], 0));
        assert!(!set_flags(&mut [], 0));
    }

    #[test]
    fn a_partial_checksum_completes_to_the_real_one() {
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, &data_segment()).expect("fits");
        let good = tcp.clone();
        assert!(set_partial_checksum(A.into(), B.into(), &mut tcp));
        assert_ne!(tcp, good);
        assert!(super::super::complete_partial_checksum(&mut tcp, 0, field::CHECKSUM.start));
        assert_eq!(tcp, good);
        assert!(!set_partial_checksum(A.into(), B.into(), &mut tcp[..19]));
        assert!(!set_partial_checksum(A.into(), B.into(), &mut vec![0; 65_536]));
    }

    #[test]
    fn fill_checksum_repairs_a_field_changed_in_place() {
        let mut tcp = Vec::new();
        emit(&mut tcp, A, B, &data_segment()).expect("fits");
        tcp[field::WINDOW].copy_from_slice(&1234u16.to_be_bytes());
        assert_eq!(parse(A, B, &tcp), Err(TcpError::BadChecksum));
        assert!(fill_checksum(A.into(), B.into(), &mut tcp));
        assert_eq!(parse(A, B, &tcp).map(|s| s.window), Ok(1234));
        assert!(!fill_checksum(A.into(), B.into(), &mut tcp[..19]));
        let mut bad_offset = tcp.clone();
        bad_offset[field::DATA_OFF] = 0xf0;
        assert!(!fill_checksum(A.into(), B.into(), &mut bad_offset), "header longer than the segment");
    }
}
