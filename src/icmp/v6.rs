//! ICMPv6 (RFC 4443) in the core: echo replies, the errors IPv6 input and the
//! stack ask for (rate-limited), and the messages a host on a TUN reads and
//! ignores.
//!
//! As for ICMPv4, ICMPv6 knows no socket and never sees the stack: IPv6 input
//! hands it a [`Datagram6`] addressed to protocol 58, and the stack hands it an
//! [`ErrorRequest`] when a packet earned an error. Before sending one it applies
//! RFC 4443 §2.4: (e) never about an ICMPv6 error message, never to an unspecified
//! or multicast source (the multicast-destination rule is IPv6 input's, which knows
//! why the packet was refused), and (f) at a bounded rate — a token bucket of
//! `StackConfig::icmp_error_burst` refilled at `icmp_errors_per_sec`, separate from
//! ICMPv4's. An error carries as much of the invoking packet as fits the minimum
//! MTU (§2.4 (c)): 1,232 bytes.
//!
//! Router solicitations and MLD reports, which the kernel sends on every link with
//! IPv6, are counted (`icmp6_rx_nd_mld`) and ignored: a TUN has no link layer to
//! resolve and no multicast routing to join. Errors that arrive are counted
//! (`icmp6_rx_errors`) and handed back to the stack, which gives them to the UDP
//! socket or TCP connection whose datagram they quote.

use std::time::Duration;

use crate::ip::ipv6::{Datagram6, ErrorRequest, MAX_QUOTE};
use crate::ip::IpOutput;
use crate::shared::{Context, DropReason, TokenBucket};
use crate::wire::icmpv6::{self, ErrorKind, Icmpv6Error, Icmpv6Message};
use crate::wire::ip_protocol::ICMPV6;

/// An ICMPv6 error received (RFC 4443 §3): for the transport whose datagram it
/// quotes, which the stack finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Received6Error<'a> {
    pub icmp_type: u8,
    pub code: u8,
    /// The pointer (Parameter Problem) or MTU (Packet Too Big) word.
    pub param: u32,
    /// The start of the invoking packet, fixed header first.
    pub quoted: &'a [u8],
}

/// ICMPv6's state: the rate limit of the errors we send.
#[derive(Debug)]
pub(crate) struct Icmpv6 {
    errors: TokenBucket,
}

impl Icmpv6 {
    /// `burst` errors at once, refilled one per `refill`.
    pub fn new(burst: u32, refill: Duration) -> Self {
        Icmpv6 { errors: TokenBucket::new(burst, refill) }
    }

    /// An ICMPv6 message for us (or a multicast group): echo requests to our
    /// address are answered, errors handed back for the stack to route to the
    /// transport they are about, everything else is counted.
    pub fn input<'a>(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        datagram: &Datagram6<'a>,
    ) -> Option<Received6Error<'a>> {
        ctx.counters.icmp6_rx += 1;
        let message = match icmpv6::parse(datagram.src, datagram.dst, datagram.payload()) {
            Ok(m) => m,
            Err(Icmpv6Error::Truncated) => {
                ctx.drop(DropReason::Icmp6Truncated, format_args!("src={}", datagram.src));
                return None;
            }
            Err(Icmpv6Error::BadChecksum) => {
                ctx.drop(DropReason::Icmp6BadChecksum, format_args!("src={}", datagram.src));
                return None;
            }
        };
        match message {
            // RFC 4443 §4.2: the reply carries the request's id, seq and data. An
            // echo to a multicast group is not answered (Linux's
            // `icmp_echo_ignore_multicast` for IPv6 answers; we keep to unicast).
            Icmpv6Message::EchoRequest { id, seq, data } if !datagram.is_multicast() => {
                ctx.counters.icmp6_rx_echo_request += 1;
                let mut reply = Vec::with_capacity(icmpv6::HEADER_LEN + data.len());
                if icmpv6::emit_echo_reply(&mut reply, datagram.dst, datagram.src, id, seq, data).is_some()
                    && out.send_v6(ctx.counters, datagram.src, ICMPV6, &reply).is_ok()
                {
                    ctx.counters.icmp6_tx_echo_reply += 1;
                }
            }
            Icmpv6Message::Error { icmp_type, code, param, quoted } => {
                ctx.counters.icmp6_rx_errors += 1;
                return Some(Received6Error { icmp_type, code, param, quoted });
            }
            Icmpv6Message::NeighborOrMulticast { icmp_type } => {
                ctx.counters.icmp6_rx_nd_mld += 1;
                tracing::trace!(icmp_type, src = %datagram.src, "icmpv6 neighbor discovery / MLD ignored");
            }
            Icmpv6Message::EchoRequest { .. } | Icmpv6Message::Other { .. } => ctx.counters.icmp6_rx_ignored += 1,
        }
        None
    }

    /// Send the error `request` asks for, unless RFC 4443 §2.4 (e) or the rate
    /// limit (f) forbids it.
    pub fn send_error(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, request: &ErrorRequest<'_>) {
        let to = request.to;
        let Some(src) = out.addr6() else { return };
        if to.is_unspecified() || to.is_multicast() || is_error_message(&request.packet) {
            return;
        }
        if !self.errors.try_take(ctx.now) {
            ctx.drop(DropReason::Icmp6RateLimited, format_args!("dst={to}"));
            return;
        }
        let quoted = request.packet.get(..MAX_QUOTE).unwrap_or(&request.packet);
        let mut message = Vec::with_capacity(icmpv6::HEADER_LEN + quoted.len());
        if icmpv6::emit_error(&mut message, src, to, request.kind, quoted).is_none()
            || out.send_v6(ctx.counters, to, ICMPV6, &message).is_err()
        {
            return;
        }
        match request.kind {
            ErrorKind::ParameterProblem { .. } => ctx.counters.icmp6_tx_param_problem += 1,
            ErrorKind::DestUnreachable(_) => ctx.counters.icmp6_tx_dest_unreachable += 1,
            ErrorKind::TimeExceeded(_) => ctx.counters.icmp6_tx_time_exceeded += 1,
            // Only a router sends Packet Too Big; nothing here asks for one.
            ErrorKind::PacketTooBig(_) => {}
        }
    }
}

/// Whether `packet` is itself an ICMPv6 error (types below 128, RFC 4443 §2.1),
/// which no error may answer (§2.4 (e.1)). A chain too broken to skip, or a
/// fragment other than the first, counts as no error message.
fn is_error_message(packet: &[u8]) -> bool {
    icmpv6::upper_layer(packet)
        .is_some_and(|(_, next, rest)| next == ICMPV6 && rest.first().is_some_and(|&t| t < icmpv6::types::ECHO_REQUEST))
}
