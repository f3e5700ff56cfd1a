//! TCP segment parsing and writing (RFC 9293 §3.1) and the options the stack speaks:
//! MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK (RFC 2018).

use std::net::Ipv4Addr;

use etherparse::{TcpHeader, TcpOptionElement, TcpOptionsIterator, TcpSlice};

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
    let slice = TcpSlice::from_slice(ip_payload).map_err(|_| TcpError::BadHeader)?;
    if !super::verifies_with_pseudo_header(src, dst, etherparse::ip_number::TCP.0, ip_payload) {
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

/// Append `segment` (header, options, payload, checksum for `src` → `dst`) to `out`.
///
/// Options are written in Linux's order — MSS, SACK-permitted, timestamps, NOP,
/// window scale — padded with NOPs to 32-bit words, so captures read as usual.
pub fn emit(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, segment: &Segment<'_>) -> Option<()> {
    let mut header = TcpHeader::new(segment.src_port, segment.dst_port, segment.seq, segment.window);
    header.acknowledgment_number = segment.ack;
    header.syn = segment.flags.syn;
    header.ack = segment.flags.ack;
    header.fin = segment.flags.fin;
    header.rst = segment.flags.rst;
    header.psh = segment.flags.psh;
    header.urg = segment.flags.urg;
    let mut elements: Vec<TcpOptionElement> = Vec::with_capacity(8);
    let o = &segment.options;
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
    let mut blocks = o.sacks();
    if let Some(first) = blocks.next() {
        let rest = [blocks.next(), blocks.next(), blocks.next()];
        // Room is 40 option bytes: with timestamps (12) at most 3 blocks fit.
        let room = if o.timestamp.is_some() { 2 } else { 3 };
        let mut trimmed = [None; 3];
        for (slot, block) in trimmed.iter_mut().zip(rest.into_iter().take(room)) {
            *slot = block;
        }
        elements.push(TcpOptionElement::Noop);
        elements.push(TcpOptionElement::Noop);
        elements.push(TcpOptionElement::SelectiveAcknowledgement(first, trimmed));
    }
    header.set_options(&elements).ok()?;
    header.checksum = header.calc_checksum_ipv4_raw(src.octets(), dst.octets(), segment.payload).ok()?;
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(segment.payload);
    Some(())
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
        bad[4] ^= 1;
        assert_eq!(parse(A, B, &bad), Err(TcpError::BadChecksum));
        assert_eq!(parse(A, B, &buf[..19]), Err(TcpError::BadHeader));
        let mut off = buf.clone();
        off[12] = 0x40;
        assert_eq!(parse(A, B, &off), Err(TcpError::BadHeader));
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
            .find(|buf| buf[16..18] == [0, 0])
            .expect("some two-byte payload makes the checksum zero");
        assert!(parse(A, B, &segment).is_ok());
        let mut mangled = segment.clone();
        mangled[16..18].copy_from_slice(&[0xff, 0xff]);
        assert!(parse(A, B, &mangled).is_ok(), "0xFFFF is the other zero");
    }
}
