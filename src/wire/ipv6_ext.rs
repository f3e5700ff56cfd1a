//! The IPv6 extension-header chain (RFC 8200 §4): walking it, and what each header
//! asks of a host that is the packet's final destination.
//!
//! Between the fixed header and the upper-layer data sit zero or more extension
//! headers, each naming the next by its Next Header field. A host processes them in
//! order (§4.1):
//!
//! * **Hop-by-Hop Options** (0) only directly after the fixed header; anywhere else
//!   it is an error (Parameter Problem code 1, pointing at the Next Header field
//!   that named it).
//! * **Destination Options** (60) and Hop-by-Hop carry TLV options (§4.2). Pad1,
//!   PadN and Router Alert (RFC 2711) are understood; any other option's two high
//!   type bits say what to do: `00` skip it, `01` discard the packet, `10` discard
//!   and send Parameter Problem code 2 pointing at the option, `11` the same unless
//!   the destination was multicast.
//! * **Routing** (43): a host never forwards, so a routing header with Segments Left
//!   0 is ignored (§4.4) and one with Segments Left > 0 is refused with Parameter
//!   Problem code 0 pointing at its Routing Type; type 0 (RFC 5095, deprecated for
//!   its amplification attack) is told apart so it has its own counter.
//! * **Fragment** (44) ends the walk: what follows belongs to reassembly (§4.5), and
//!   the caller resumes the walk after the header (an atomic fragment, RFC 6946, or
//!   a first fragment whose chain must be whole, RFC 7112) or on the reassembled
//!   packet.
//!
//! The chain is bounded: at most `max_headers` extension headers per packet (the
//! caller's [`Cursor`] counts them across a fragment header), past which the packet
//! is refused (RFC 8883's code 8, "too many extension headers"). Cost: one pass over
//! the headers' bytes; nothing is allocated. Offsets and pointers are from the
//! start of the packet (the fixed header's first byte), as ICMPv6 errors give them.

use etherparse::{Ipv6FragmentHeaderSlice, Ipv6RawExtHeaderSlice};

use super::ip_protocol::{DEST_OPTIONS, FRAGMENT, HOP_BY_HOP, ROUTING};
use super::ipv6::{field, HEADER_LEN};

/// Option types a host understands (RFC 8200 §4.2, RFC 2711).
mod option {
    pub const PAD1: u8 = 0;
    pub const PADN: u8 = 1;
    pub const ROUTER_ALERT: u8 = 5;
}

/// Where the walk stands: the header at byte `at` of the packet, of type
/// `next_header`, named by the Next Header field at byte `named_at`; `headers`
/// extension headers were walked so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub next_header: u8,
    pub at: usize,
    pub named_at: usize,
    pub headers: usize,
}

impl Cursor {
    /// The start of a packet's chain: the fixed header's Next Header names the
    /// header at byte 40.
    pub fn start(next_header: u8) -> Self {
        Cursor { next_header, at: HEADER_LEN, named_at: field::NEXT_HEADER, headers: 0 }
    }
}

/// A Fragment header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentHeader {
    /// The type of the first header of the fragmentable part.
    pub next_header: u8,
    /// Where this fragment's data sits in the fragmentable part, in bytes.
    pub offset: usize,
    /// The M flag: more fragments follow.
    pub more_fragments: bool,
    pub id: u32,
}

impl FragmentHeader {
    /// RFC 6946: offset 0 and no more fragments — a whole packet that only
    /// carries a Fragment header.
    pub fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more_fragments
    }
}

/// Where a walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// At the upper-layer header: `cursor.next_header` is its protocol (possibly
    /// one we do not speak, or 59, No Next Header), its data starts at `cursor.at`.
    Upper(Cursor),
    /// At a Fragment header at `cursor.at`.
    Fragment { header: FragmentHeader, cursor: Cursor },
}

impl Stop {
    /// Where the walk resumes after a Fragment header: at the header it names,
    /// 8 bytes on, with the Fragment header's Next Header field naming it.
    pub fn after_fragment(header: &FragmentHeader, cursor: &Cursor) -> Cursor {
        Cursor { next_header: header.next_header, at: cursor.at + 8, named_at: cursor.at, headers: cursor.headers }
    }
}

/// Why a walk refused the packet; `pointer`s are the byte an ICMPv6 Parameter
/// Problem points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtError {
    /// An extension header runs past the end of the packet (for a first fragment:
    /// the chain is not whole, RFC 7112).
    Truncated,
    /// Hop-by-Hop Options other than first (§4.1): code 1, at the naming field.
    HopByHopNotFirst { pointer: usize },
    /// An option's length runs past its header: code 0, at the option.
    BadOption { pointer: usize },
    /// An unrecognised option whose type says "discard" (`01`).
    OptionDiscard,
    /// An unrecognised option whose type says "discard and answer" (`10`, or
    /// `11` when `unless_multicast`): code 2, at the option type.
    OptionUnrecognized { pointer: usize, unless_multicast: bool },
    /// A type-0 routing header with segments left (RFC 5095): code 0, at the type.
    RoutingType0 { pointer: usize },
    /// Any other routing header with segments left — a host does not forward:
    /// code 0, at the routing type.
    RoutingSegmentsLeft { pointer: usize },
    /// More extension headers than the bound: RFC 8883 code 8, at the header
    /// past the bound.
    TooManyHeaders { pointer: usize },
}

/// Walk the chain of `packet` from `cursor` until the upper-layer header or a
/// Fragment header, checking each header as a final destination must.
pub fn walk(packet: &[u8], mut cursor: Cursor, max_headers: usize) -> Result<Stop, ExtError> {
    loop {
        let nh = cursor.next_header;
        if ![HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTIONS].contains(&nh) {
            return Ok(Stop::Upper(cursor));
        }
        if cursor.headers >= max_headers {
            return Err(ExtError::TooManyHeaders { pointer: cursor.at });
        }
        cursor.headers += 1;
        let rest = packet.get(cursor.at..).ok_or(ExtError::Truncated)?;
        if nh == FRAGMENT {
            let frag = Ipv6FragmentHeaderSlice::from_slice(rest).map_err(|_| ExtError::Truncated)?;
            let header = FragmentHeader {
                next_header: frag.next_header().0,
                offset: usize::from(frag.fragment_offset().value()) * 8,
                more_fragments: frag.more_fragments(),
                id: frag.identification(),
            };
            return Ok(Stop::Fragment { header, cursor });
        }
        if nh == HOP_BY_HOP && cursor.at != HEADER_LEN {
            return Err(ExtError::HopByHopNotFirst { pointer: cursor.named_at });
        }
        let header = Ipv6RawExtHeaderSlice::from_slice(rest).map_err(|_| ExtError::Truncated)?;
        let bytes = header.slice();
        match nh {
            ROUTING => check_routing(bytes, cursor.at)?,
            _ => check_options(bytes, cursor.at)?,
        }
        cursor = Cursor {
            next_header: header.next_header().0,
            at: cursor.at + bytes.len(),
            named_at: cursor.at,
            headers: cursor.headers,
        };
    }
}

/// A routing header at byte `at` (RFC 8200 §4.4): ignored when no segments are
/// left, refused otherwise.
fn check_routing(header: &[u8], at: usize) -> Result<(), ExtError> {
    // Bytes 2 and 3: Routing Type and Segments Left (the raw slice is ≥ 8 bytes).
    let (routing_type, segments_left) = (header[2], header[3]);
    match (routing_type, segments_left) {
        (_, 0) => Ok(()),
        (0, _) => Err(ExtError::RoutingType0 { pointer: at + 2 }),
        _ => Err(ExtError::RoutingSegmentsLeft { pointer: at + 2 }),
    }
}

/// The TLV options of a Hop-by-Hop or Destination Options header at byte `at`
/// (RFC 8200 §4.2), in order; the first that is not to be skipped decides.
fn check_options(header: &[u8], at: usize) -> Result<(), ExtError> {
    let mut i = 2;
    while i < header.len() {
        let kind = header[i];
        if kind == option::PAD1 {
            i += 1;
            continue;
        }
        let len = *header.get(i + 1).ok_or(ExtError::BadOption { pointer: at + i })?;
        let end = i + 2 + usize::from(len);
        if end > header.len() {
            return Err(ExtError::BadOption { pointer: at + i });
        }
        if kind != option::PADN && kind != option::ROUTER_ALERT {
            match kind >> 6 {
                0 => {}
                1 => return Err(ExtError::OptionDiscard),
                action => return Err(ExtError::OptionUnrecognized { pointer: at + i, unless_multicast: action == 3 }),
            }
        }
        i = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip_protocol::{ICMPV6, UDP};

    /// A packet: a fixed header (only its Next Header matters here) and `chain`.
    fn packet(first: u8, chain: &[&[u8]]) -> (Vec<u8>, Cursor) {
        let mut p = vec![0x60; HEADER_LEN];
        p[field::NEXT_HEADER] = first;
        for h in chain {
            p.extend_from_slice(h);
        }
        (p, Cursor::start(first))
    }

    fn run(first: u8, chain: &[&[u8]]) -> Result<Stop, ExtError> {
        let (p, c) = packet(first, chain);
        walk(&p, c, 8)
    }

    fn upper(protocol: u8, at: usize, named_at: usize, headers: usize) -> Result<Stop, ExtError> {
        Ok(Stop::Upper(Cursor { next_header: protocol, at, named_at, headers }))
    }

    #[test]
    fn no_extension_headers_stops_at_the_transport() {
        assert_eq!(run(UDP, &[]), upper(UDP, 40, 6, 0));
    }

    #[test]
    fn padding_and_router_alert_are_skipped() {
        // Hop-by-hop: Router Alert (MLD's), PadN of 0 → 8 bytes; then dest options
        // with Pad1s.
        let hbh = [DEST_OPTIONS, 0, 5, 2, 0, 0, 1, 0];
        let dst = [ICMPV6, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(run(HOP_BY_HOP, &[&hbh, &dst]), upper(ICMPV6, 56, 48, 2));
    }

    #[test]
    fn option_action_bits_decide() {
        let with = |kind: u8| [UDP, 0, kind, 4, 0, 0, 0, 0];
        assert_eq!(run(DEST_OPTIONS, &[&with(0x1e)]), upper(UDP, 48, 40, 1), "00: skip");
        assert_eq!(run(DEST_OPTIONS, &[&with(0x5e)]), Err(ExtError::OptionDiscard), "01");
        let ten = ExtError::OptionUnrecognized { pointer: 42, unless_multicast: false };
        assert_eq!(run(DEST_OPTIONS, &[&with(0x9e)]), Err(ten), "10");
        let eleven = ExtError::OptionUnrecognized { pointer: 42, unless_multicast: true };
        assert_eq!(run(DEST_OPTIONS, &[&with(0xc2)]), Err(eleven), "11 (the Jumbo Payload option)");
        // An option whose length runs past its header.
        assert_eq!(run(DEST_OPTIONS, &[&[UDP, 0, 1, 9, 0, 0, 0, 0]]), Err(ExtError::BadOption { pointer: 42 }));
        assert_eq!(
            run(DEST_OPTIONS, &[&[UDP, 0, 0, 0, 0, 0, 0, 0x1e]]),
            Err(ExtError::BadOption { pointer: 47 }),
            "a type with no room for its length"
        );
    }

    #[test]
    fn hop_by_hop_only_first() {
        let dst = [HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0];
        let hbh = [UDP, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(run(DEST_OPTIONS, &[&dst, &hbh]), Err(ExtError::HopByHopNotFirst { pointer: 40 }));
    }

    #[test]
    fn routing_headers_with_segments_left_are_refused() {
        let rh = |kind: u8, left: u8| [UDP, 2, kind, left, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(run(ROUTING, &[&rh(0, 1)]), Err(ExtError::RoutingType0 { pointer: 42 }));
        assert_eq!(run(ROUTING, &[&rh(4, 2)]), Err(ExtError::RoutingSegmentsLeft { pointer: 42 }));
        assert_eq!(run(ROUTING, &[&rh(0, 0)]), upper(UDP, 64, 40, 1), "no segments left: ignored");
    }

    #[test]
    fn a_fragment_header_stops_the_walk() {
        // Offset 185 × 8, M set, id 0x01020304.
        let frag = [ICMPV6, 0, 0x05, 0xc9, 1, 2, 3, 4];
        let dst = [FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
        let stop = run(DEST_OPTIONS, &[&dst, &frag]).expect("a fragment");
        let header = FragmentHeader { next_header: ICMPV6, offset: 1480, more_fragments: true, id: 0x0102_0304 };
        let cursor = Cursor { next_header: FRAGMENT, at: 48, named_at: 40, headers: 2 };
        assert_eq!(stop, Stop::Fragment { header, cursor });
        assert!(!header.is_atomic());
        let after = Stop::after_fragment(&header, &cursor);
        assert_eq!(after, Cursor { next_header: ICMPV6, at: 56, named_at: 48, headers: 2 });
    }

    #[test]
    fn truncated_headers_are_refused() {
        assert_eq!(run(DEST_OPTIONS, &[&[UDP, 0, 1, 4]]), Err(ExtError::Truncated));
        assert_eq!(run(DEST_OPTIONS, &[&[UDP, 1, 1, 4, 0, 0, 0, 0]]), Err(ExtError::Truncated), "says 16 bytes");
        assert_eq!(run(FRAGMENT, &[&[UDP, 0, 0, 0]]), Err(ExtError::Truncated));
        let (p, c) = packet(DEST_OPTIONS, &[]);
        assert_eq!(walk(&p[..10], c, 8), Err(ExtError::Truncated), "cursor past the end");
    }

    #[test]
    fn the_chain_is_bounded() {
        let dst = [DEST_OPTIONS, 0, 1, 4, 0, 0, 0, 0];
        let chain: Vec<&[u8]> = vec![&dst; 9];
        let (p, c) = packet(DEST_OPTIONS, &chain);
        assert_eq!(walk(&p, c, 3), Err(ExtError::TooManyHeaders { pointer: 64 }));
        assert_eq!(walk(&p, c, 0), Err(ExtError::TooManyHeaders { pointer: 40 }));
    }
}
