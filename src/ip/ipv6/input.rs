//! IPv6 input: validate the fixed header, walk the extension headers, reassemble
//! fragments, and hand back either the datagram to deliver or the ICMPv6 error the
//! packet earns.
//!
//! The checks run in a fixed order, each failure dropped through [`Context::drop`]
//! with its own reason: the fixed header (length, version, Payload Length —
//! `wire::ipv6`), the destination (ours, or a multicast group, which only ICMPv6
//! reads), the source, then the extension-header chain (`wire::ipv6_ext`). A
//! Fragment header hands the packet to reassembly:
//!
//! * an **atomic fragment** (offset 0, no M flag, RFC 6946) is a whole packet and
//!   is processed at once, never mixed with the fragments of a real datagram;
//! * a non-final fragment must carry a multiple of 8 bytes, and no fragment may
//!   reassemble past 65,535 bytes (RFC 8200 §4.5: Parameter Problem code 0);
//! * the **first fragment** must hold the whole header chain (RFC 7112: Parameter
//!   Problem code 3 otherwise);
//! * **overlapping** fragments discard the whole datagram (RFC 5722), as IPv4's do
//!   here — the reassembler is the same (`ip/reassembly.rs`), with a key of
//!   source, destination and the 32-bit identification, and the same bounds and
//!   timeout (`StackConfig::reassembly`).
//!
//! The reassembled packet is the first fragment's unfragmentable part (its headers
//! up to the Fragment header, the last Next Header field naming what the Fragment
//! header named) followed by the fragmentable part, and the walk resumes on it. A
//! datagram that times out after its first fragment arrived earns Time Exceeded
//! code 1 quoting that fragment (§4.5), so the first fragment's start is kept:
//! at most `max_datagrams` of them, each bounded by the chain bound (the
//! unfragmentable part) or the 1,232 bytes an error can quote.
//!
//! ICMPv6 errors are never asked for about a packet sent to a multicast group,
//! except Parameter Problem code 2 for an option whose type says so (RFC 4443
//! §2.4 (e)); ICMPv6 itself applies the other rules (rate limit, never about an
//! error, never to an unspecified or multicast source).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::Ipv6Addr;

use crate::ip::reassembly::{Fragment, FragmentOutcome, ReassemblyConfig};
use crate::ip::Reassembler;
use crate::shared::{Context, DropReason, RxChecksum};
use crate::time::Instant;
use crate::wire::icmpv6::{self, ErrorKind};
use crate::wire::ipv6::{self, field, Ipv6Error, HEADER_LEN, MAX_PAYLOAD, MIN_MTU};
use crate::wire::ipv6_ext::{walk, Cursor, ExtError, FragmentHeader, Stop};

/// The most of an invoking packet an ICMPv6 error quotes: the error must fit the
/// minimum MTU (RFC 4443 §2.4 (c)).
pub(crate) const MAX_QUOTE: usize = MIN_MTU - HEADER_LEN - icmpv6::HEADER_LEN;

/// A whole IPv6 datagram, after reassembly if it arrived in fragments: what the
/// upper layers read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Datagram6<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The upper-layer protocol: the Next Header that ended the chain.
    pub protocol: u8,
    /// The whole packet, fixed header first (rebuilt if reassembled): errors
    /// quote it and point into it.
    pub packet: &'a [u8],
    /// Where the upper-layer data starts in `packet`.
    pub upper_at: usize,
    /// Where the Next Header field that named `protocol` sits in `packet`.
    pub named_at: usize,
}

impl<'a> Datagram6<'a> {
    /// The upper-layer data.
    pub fn payload(&self) -> &'a [u8] {
        self.packet.get(self.upper_at..).unwrap_or_default()
    }

    /// Whether it was sent to a multicast group rather than to us.
    pub fn is_multicast(&self) -> bool {
        self.dst.is_multicast()
    }
}

/// An ICMPv6 error to send about a packet: asked for by IPv6 input or by the
/// stack's dispatch, sent (or not) by ICMPv6.
#[derive(Clone, Debug)]
pub(crate) struct ErrorRequest<'p> {
    pub kind: ErrorKind,
    /// The invoking packet's source: where the error goes.
    pub to: Ipv6Addr,
    /// The invoking packet (ICMPv6 quotes at most [`MAX_QUOTE`] bytes of it).
    pub packet: Cow<'p, [u8]>,
}

impl<'p> ErrorRequest<'p> {
    /// The error `kind` about `datagram`, unless RFC 4443 §2.4 (e) forbids it for
    /// a packet sent to a multicast group (only Parameter Problem code 2 for an
    /// option of type `10xxxxxx` is allowed, `for_multicast`).
    pub fn about(kind: ErrorKind, datagram: &Datagram6<'p>, for_multicast: bool) -> Option<Self> {
        if datagram.is_multicast() && !for_multicast {
            return None;
        }
        Some(ErrorRequest { kind, to: datagram.src, packet: Cow::Borrowed(datagram.packet) })
    }
}

/// What [`Ipv6Input::input`] made of one packet.
#[derive(Debug)]
pub(crate) enum Input6<'p> {
    /// Dropped (the reason is in the context) or waiting for more fragments.
    Nothing,
    /// A whole datagram for the upper layer.
    Deliver(Delivered6<'p>),
    /// Dropped, and the source is owed this error.
    Error(ErrorRequest<'p>),
}

/// A datagram [`Ipv6Input::input`] delivers: borrowed from the packet, or owned
/// when reassembly built it.
#[derive(Debug)]
pub(crate) struct Delivered6<'p> {
    packet: Cow<'p, [u8]>,
    head: Datagram6<'static>,
}

impl Delivered6<'_> {
    /// The datagram, for the upper layer that takes it.
    pub fn datagram(&self) -> Datagram6<'_> {
        Datagram6 { packet: &self.packet, ..self.head }
    }
}

/// A datagram in reassembly: source, destination, identification (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key6 {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u32,
}

/// What is kept of a datagram's first fragment until the datagram completes.
#[derive(Debug)]
struct FirstFragment {
    /// The first fragment as it arrived: its headers through the Fragment
    /// header, then as much of its data as an error can quote.
    start: Vec<u8>,
    /// Where the walk resumes in the reassembled packet.
    resume: Cursor,
}

/// The receiving half of IPv6: our address, the chain bound, reassembly.
#[derive(Debug)]
pub(crate) struct Ipv6Input {
    addr: Ipv6Addr,
    max_headers: usize,
    reassembly: Reassembler<Key6>,
    /// The first fragments of datagrams in reassembly: keys ⊆ the reassembler's.
    firsts: HashMap<Key6, FirstFragment>,
}

impl Ipv6Input {
    pub fn new(addr: Ipv6Addr, max_headers: usize, reassembly: ReassemblyConfig) -> Self {
        Ipv6Input { addr, max_headers, reassembly: Reassembler::new(reassembly), firsts: HashMap::new() }
    }

    /// One IPv6 packet from the link.
    pub fn input<'p>(&mut self, ctx: &mut Context<'_>, packet: &'p [u8]) -> Input6<'p> {
        let ip = match ipv6::parse(packet) {
            Ok(ip) => ip,
            Err(e) => {
                let reason = match e {
                    Ipv6Error::Truncated => DropReason::Ip6Truncated,
                    Ipv6Error::BadVersion(_) => DropReason::IpBadVersion,
                    Ipv6Error::BadPayloadLen => DropReason::Ip6BadPayloadLen,
                };
                ctx.drop(reason, format_args!("len={}", packet.len()));
                return Input6::Nothing;
            }
        };
        let multicast = ip.dst.is_multicast();
        if ip.dst != self.addr && !multicast {
            ctx.drop(DropReason::Ip6NotForUs, format_args!("dst={}", ip.dst));
            return Input6::Nothing;
        }
        if !is_acceptable_source(ip.src, self.addr, multicast) {
            ctx.drop(DropReason::Ip6BadSource, format_args!("src={}", ip.src));
            return Input6::Nothing;
        }
        let head = Datagram6 { src: ip.src, dst: ip.dst, protocol: 0, packet: ip.packet, upper_at: 0, named_at: 0 };
        match walk(ip.packet, Cursor::start(ip.next_header), self.max_headers) {
            Err(e) => refuse(ctx, e, &head),
            Ok(Stop::Upper(cursor)) => deliver(Cow::Borrowed(ip.packet), &head, cursor),
            Ok(Stop::Fragment { header, cursor }) => self.fragment(ctx, &head, header, cursor),
        }
    }

    /// A packet with a Fragment header at `cursor.at`.
    fn fragment<'p>(
        &mut self,
        ctx: &mut Context<'_>,
        head: &Datagram6<'p>,
        header: FragmentHeader,
        cursor: Cursor,
    ) -> Input6<'p> {
        ctx.counters.ip6_frag_rx += 1;
        let packet = head.packet;
        let after = Stop::after_fragment(&header, &cursor);
        if header.is_atomic() {
            // RFC 6946 §4: processed as a whole packet, apart from any reassembly.
            ctx.counters.ip6_frag_atomic += 1;
            return self.resume(ctx, Cow::Borrowed(packet), head, after);
        }
        let data = packet.get(after.at..).unwrap_or_default();
        let id = header.id;
        if header.more_fragments && (data.is_empty() || !data.len().is_multiple_of(8)) {
            // RFC 8200 §4.5: pointing at the Payload Length field.
            ctx.drop(DropReason::Fragment6BadLength, format_args!("id={id:#x} len={}", data.len()));
            return error(ErrorKind::ParameterProblem { code: icmpv6::CODE_ERRONEOUS_FIELD, pointer: 4 }, head);
        }
        // The unfragmentable part (all but the fixed header) plus the fragmentable
        // part must fit the 16-bit Payload Length once reassembled.
        if cursor.at - HEADER_LEN + header.offset + data.len() > MAX_PAYLOAD {
            ctx.drop(DropReason::Fragment6TooBig, format_args!("id={id:#x} offset={}", header.offset));
            let pointer = pointer(cursor.at + 2);
            return error(ErrorKind::ParameterProblem { code: icmpv6::CODE_ERRONEOUS_FIELD, pointer }, head);
        }
        if header.offset == 0 && walk(packet, after, self.max_headers) == Err(ExtError::Truncated) {
            // RFC 7112 §5: the first fragment must hold the whole header chain.
            ctx.drop(DropReason::Fragment6IncompleteChain, format_args!("id={id:#x}"));
            return error(ErrorKind::ParameterProblem { code: icmpv6::CODE_INCOMPLETE_CHAIN, pointer: 0 }, head);
        }
        let key = Key6 { src: head.src, dst: head.dst, id };
        let fragment = Fragment { key, offset: header.offset, more_fragments: header.more_fragments, payload: data };
        let (outcome, whole) = self.reassembly.insert(ctx.now, fragment);
        let dropped = match outcome {
            FragmentOutcome::Pending | FragmentOutcome::Complete => None,
            FragmentOutcome::Duplicate => Some(DropReason::Fragment6Duplicate),
            FragmentOutcome::Overlap => Some(DropReason::Fragment6Overlap),
            FragmentOutcome::Invalid => Some(DropReason::Fragment6Invalid),
            FragmentOutcome::NoRoom => Some(DropReason::Reassembly6Full),
        };
        match dropped {
            Some(DropReason::Reassembly6Full) => {
                let limit = self.reassembly.config().max_datagrams;
                ctx.overflow(
                    DropReason::Reassembly6Full,
                    self.reassembly.in_progress(),
                    limit,
                    format_args!("id={id:#x}"),
                );
            }
            Some(reason) => ctx.drop(reason, format_args!("id={id:#x}")),
            None => {}
        }
        let first = (header.offset == 0).then(|| first_fragment(packet, &cursor, after));
        let Some(data) = whole else {
            if !self.reassembly.holds(&key) {
                self.firsts.remove(&key); // the datagram was discarded
            } else if let (FragmentOutcome::Pending, Some(first)) = (outcome, first) {
                self.firsts.insert(key, first);
            }
            return Input6::Nothing;
        };
        let Some(first) = self.firsts.remove(&key).or(first) else {
            // Unreachable: completion needs the offset-0 fragment, kept above.
            ctx.drop(DropReason::Fragment6Invalid, format_args!("id={id:#x} no first fragment"));
            return Input6::Nothing;
        };
        let unfragmentable = first.resume.at;
        // Each fragment was checked against its own headers; the first one's
        // count here, and may be longer.
        let Ok(payload_len) = u16::try_from(unfragmentable - HEADER_LEN + data.len()) else {
            ctx.drop(DropReason::Fragment6TooBig, format_args!("id={id:#x} reassembled"));
            return Input6::Nothing;
        };
        ctx.counters.ip6_frag_reassembled += 1;
        // Whatever the last fragment's link vouched for, not the whole.
        ctx.rx_checksum = RxChecksum::Verify;
        let mut whole = Vec::with_capacity(unfragmentable + data.len());
        whole.extend_from_slice(first.start.get(..unfragmentable).unwrap_or_default());
        whole.extend_from_slice(&data);
        // The field that named the Fragment header now names what it named, and
        // the Payload Length covers the whole datagram.
        whole[first.resume.named_at] = first.resume.next_header;
        whole[field::PAYLOAD_LEN].copy_from_slice(&payload_len.to_be_bytes());
        self.resume(ctx, Cow::Owned(whole), head, first.resume)
    }

    /// Walk on from `cursor` (after a Fragment header) to the upper layer.
    fn resume<'p>(
        &mut self,
        ctx: &mut Context<'_>,
        packet: Cow<'p, [u8]>,
        head: &Datagram6<'p>,
        cursor: Cursor,
    ) -> Input6<'p> {
        let result = walk(&packet, cursor, self.max_headers);
        match result {
            Ok(Stop::Upper(cursor)) => deliver(packet, head, cursor),
            Ok(Stop::Fragment { header, .. }) => {
                // A fragment inside a fragment (or an atomic fragment): nonsense.
                ctx.drop(DropReason::Fragment6Invalid, format_args!("id={:#x} nested", header.id));
                Input6::Nothing
            }
            Err(e) => {
                let input = refuse(ctx, e, &Datagram6 { packet: &packet, ..*head });
                match input {
                    Input6::Error(req) => {
                        Input6::Error(ErrorRequest { packet: Cow::Owned(req.packet.into_owned()), ..req })
                    }
                    _ => Input6::Nothing,
                }
            }
        }
    }

    /// When the oldest unfinished datagram times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.reassembly.next_deadline()
    }

    /// Give up on datagrams whose fragments did not all arrive in time; those
    /// whose first fragment had arrived earn Time Exceeded (RFC 8200 §4.5),
    /// unless they were sent to a multicast group.
    pub fn expire(&mut self, ctx: &mut Context<'_>) -> Vec<ErrorRequest<'static>> {
        let mut errors = Vec::new();
        let firsts = &mut self.firsts;
        let expired = self.reassembly.expire_each(ctx.now, |key| {
            // Never about a packet sent to a multicast group (RFC 4443 §2.4 (e.3)).
            if let Some(first) = firsts.remove(key).filter(|_| !key.dst.is_multicast()) {
                let kind = ErrorKind::TimeExceeded(icmpv6::CODE_REASSEMBLY_TIME_EXCEEDED);
                let to = key.src;
                errors.push(ErrorRequest { kind, to, packet: Cow::Owned(first.start) });
            }
        });
        if expired > 0 {
            ctx.drop_many(DropReason::Reassembly6Timeout, expired as u64, format_args!("datagrams={expired}"));
        }
        errors
    }

    /// The reassembly buffer, for the invariants.
    pub fn reassembly(&self) -> &Reassembler<Key6> {
        &self.reassembly
    }

    /// First fragments kept: never more than datagrams in reassembly.
    pub fn firsts_kept(&self) -> usize {
        self.firsts.len()
    }
}

/// What is kept of a first fragment (see [`FirstFragment`]): its headers up to
/// and including the Fragment header at `cursor.at`, then its data up to what an
/// error can quote.
fn first_fragment(packet: &[u8], cursor: &Cursor, after: Cursor) -> FirstFragment {
    let keep = packet.len().min(MAX_QUOTE.max(after.at));
    // In the reassembled packet the fragmentable part starts where the Fragment
    // header was: the walk resumes there, named by the field that named it.
    FirstFragment {
        start: packet[..keep].to_vec(),
        resume: Cursor { at: cursor.at, named_at: cursor.named_at, ..after },
    }
}

/// The datagram whose chain ended at `cursor`.
fn deliver<'p>(packet: Cow<'p, [u8]>, head: &Datagram6<'_>, cursor: Cursor) -> Input6<'p> {
    let head = Datagram6 {
        src: head.src,
        dst: head.dst,
        protocol: cursor.next_header,
        packet: &[],
        upper_at: cursor.at,
        named_at: cursor.named_at,
    };
    Input6::Deliver(Delivered6 { packet, head })
}

/// Drop a packet whose chain the walk refused, with the error RFC 8200 asks for.
fn refuse<'p>(ctx: &mut Context<'_>, e: ExtError, datagram: &Datagram6<'p>) -> Input6<'p> {
    use icmpv6::{
        CODE_ERRONEOUS_FIELD, CODE_TOO_MANY_HEADERS, CODE_UNRECOGNIZED_NEXT_HEADER, CODE_UNRECOGNIZED_OPTION,
    };
    let problem = |code, at: usize| Some((ErrorKind::ParameterProblem { code, pointer: pointer(at) }, false));
    let (reason, answer) = match e {
        ExtError::Truncated => (DropReason::Ip6ExtTruncated, None),
        ExtError::HopByHopNotFirst { pointer } => {
            (DropReason::Ip6HopByHopNotFirst, problem(CODE_UNRECOGNIZED_NEXT_HEADER, pointer))
        }
        ExtError::BadOption { pointer } => (DropReason::Ip6BadOption, problem(CODE_ERRONEOUS_FIELD, pointer)),
        ExtError::OptionDiscard => (DropReason::Ip6OptionDiscard, None),
        ExtError::OptionUnrecognized { pointer: at, unless_multicast } => {
            let kind = ErrorKind::ParameterProblem { code: CODE_UNRECOGNIZED_OPTION, pointer: pointer(at) };
            (DropReason::Ip6OptionUnrecognized, Some((kind, !unless_multicast)))
        }
        ExtError::RoutingType0 { pointer } => (DropReason::Ip6RoutingType0, problem(CODE_ERRONEOUS_FIELD, pointer)),
        ExtError::RoutingSegmentsLeft { pointer } => {
            (DropReason::Ip6RoutingSegmentsLeft, problem(CODE_ERRONEOUS_FIELD, pointer))
        }
        ExtError::TooManyHeaders { pointer } => {
            (DropReason::Ip6TooManyHeaders, problem(CODE_TOO_MANY_HEADERS, pointer))
        }
    };
    ctx.drop(reason, format_args!("src={}", datagram.src));
    match answer.and_then(|(kind, for_multicast)| ErrorRequest::about(kind, datagram, for_multicast)) {
        Some(req) => Input6::Error(req),
        None => Input6::Nothing,
    }
}

/// The error `kind` about `datagram` (already dropped), if one may be sent.
fn error<'p>(kind: ErrorKind, datagram: &Datagram6<'p>) -> Input6<'p> {
    match ErrorRequest::about(kind, datagram, false) {
        Some(req) => Input6::Error(req),
        None => Input6::Nothing,
    }
}

/// A byte offset as a Parameter Problem pointer (offsets are below 2¹⁷).
fn pointer(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// A source we may take packets from (RFC 4443 §2.4 (e), RFC 4291 §2.5.2): never
/// multicast, ours or loopback; unspecified only for a multicast destination (a
/// host's MLD reports and router solicitations before it has an address). Never
/// IPv4-mapped either (RFC 4038 §5.1.1, as Linux drops them): a dual-stack socket
/// names IPv4 peers that way, so such a packet would pass for IPv4.
fn is_acceptable_source(src: Ipv6Addr, ours: Ipv6Addr, to_multicast: bool) -> bool {
    !src.is_multicast()
        && src != ours
        && !src.is_loopback()
        && src.to_ipv4_mapped().is_none()
        && (to_multicast || !src.is_unspecified())
}
