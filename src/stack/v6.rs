//! The stack's IPv6 half: IPv6 input and output and ICMPv6, and the routing
//! between them — what `Parts::deliver` does for IPv4.
//!
//! [`V6`] exists only when `StackConfig::addr6` is set. `Stack::input` sends a
//! packet here by its version nibble; IPv6 input hands back a datagram or an
//! ICMPv6 error to send, and [`V6::input`] routes either: protocol 58 to ICMPv6,
//! whose received errors go to the UDP socket or TCP connection whose datagram
//! they quote — a Packet Too Big, once believed, also to IPv6 output's path MTU
//! cache (`ip/ipv6/path_mtu.rs`); UDP to the UDP table that IPv4 shares (its checksum is mandatory
//! over IPv6), a closed port answered with ICMPv6 port unreachable; TCP to the
//! TCP table IPv4 shares; No Next Header dropped quietly; any other Next Header
//! to the raw sockets bound to it (`src/raw/`), or, with none, refused with
//! Parameter Problem code 1 pointing at the field that named it (RFC 8200 §4).
//! Raw ICMPv6 sockets get a copy of each ICMPv6 message to our address before
//! ICMPv6 reads it, as Linux's `raw6_local_deliver` runs before the protocol
//! handler. A datagram to a multicast group goes to ICMPv6 only.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::config::StackConfig;
use crate::icmp::{Icmpv6, Received6Error};
use crate::ip::ipv6::{Datagram6, ErrorRequest, Input6, Ipv6Input};
use crate::ip::IpOutput;
use crate::raw::{RawDelivery, RawTable};
use crate::shared::{Context, DropReason};
use crate::tcp::TcpTable;
use crate::time::Instant;
use crate::udp::{unreachable_kind_v6, Delivery, UdpTable};
use crate::wire::icmpv6::{self, types, ErrorKind, CODE_PORT_UNREACHABLE, CODE_UNRECOGNIZED_NEXT_HEADER};
use crate::wire::ip_protocol::{ICMPV6, NO_NEXT_HEADER, TCP, UDP};

/// An ICMPv6 error about a datagram or segment we sent, to its transport: a
/// destination unreachable to the UDP socket connected to the quoted
/// destination (as for IPv4); to TCP, destination unreachables and Packet Too
/// Big (`tcp/icmp_errors.rs`). A Packet Too Big goes to [`packet_too_big`].
fn route_error(
    ctx: &mut Context<'_>,
    out: &mut IpOutput,
    (udp, tcp, raw): (&mut UdpTable, &mut TcpTable, &RawTable),
    error: &Received6Error<'_>,
) {
    if error.icmp_type == types::PACKET_TOO_BIG {
        packet_too_big(ctx, out, (udp, tcp, raw), error);
        return;
    }
    let Some(q) = icmpv6::parse_quoted(error.quoted) else { return };
    match q.protocol {
        UDP if error.icmp_type == types::DEST_UNREACHABLE => {
            if let Some(kind) = unreachable_kind_v6(error.code) {
                let peer = SocketAddr::new(IpAddr::V6(q.dst), q.dst_port);
                udp.dest_unreachable(ctx, kind, IpAddr::V6(q.src), q.src_port, peer);
            }
        }
        TCP => {
            tcp.icmpv6_error(ctx, out, (error.icmp_type, error.code, error.param), &q);
        }
        _ => {}
    }
}

/// A Packet Too Big (RFC 8201): believed only about a packet we could have
/// sent (RFC 5927's spirit). IP checks the quote is from our address with the
/// Flow Label we would have written (`Ipv6Output::quoted_own`); then the
/// transport: TCP finds the segment in flight (its window check — and lowers
/// that connection's path MTU itself); a UDP socket holds the quoted source port
/// (connected, if at all, to the quoted destination); a raw IPv6 socket of the
/// quoted protocol could have sent to the destination; an ICMPv6 quote is an
/// echo reply of ours or a raw ICMPv6 socket's message. Believed, it lowers the
/// destination's entry in the path MTU cache, to which UDP, raw and ICMPv6
/// output then fragment; anything else is counted and changes nothing.
fn packet_too_big(
    ctx: &mut Context<'_>,
    out: &mut IpOutput,
    (udp, tcp, raw): (&mut UdpTable, &mut TcpTable, &RawTable),
    error: &Received6Error<'_>,
) {
    let signal = (error.icmp_type, error.code, error.param);
    // TCP hears of every Packet Too Big about TCP, as before: it validates and
    // counts on its own.
    let tcp_took = match icmpv6::parse_quoted(error.quoted) {
        Some(q) if q.protocol == TCP => Some(tcp.icmpv6_error(ctx, out, signal, &q)),
        _ => None,
    };
    let own = out.ipv6().and_then(|o| o.quoted_own(error.quoted));
    let believed = match (own, tcp_took) {
        (_, Some(false)) | (None, Some(true)) => return,
        (Some(_), Some(true)) => true,
        (None, None) => false,
        (Some(own), None) => match own.protocol {
            UDP => icmpv6::parse_quoted(error.quoted)
                .is_some_and(|q| udp.could_send(q.src_port, SocketAddr::new(IpAddr::V6(q.dst), q.dst_port))),
            ICMPV6 => own.upper.first() == Some(&types::ECHO_REPLY) || raw.could_send_v6(ICMPV6, own.dst),
            other => raw.could_send_v6(other, own.dst),
        },
    };
    let dst = own.map(|o| o.dst);
    match (believed, dst, out.ipv6_mut()) {
        (true, Some(dst), Some(output)) => {
            let learned = output.learn_path_mtu(ctx.counters, ctx.now, dst, error.param);
            tracing::debug!(target: "tunstack::ip6::pmtu", %dst, mtu = error.param, ?learned, "packet too big");
        }
        _ => ctx.drop(DropReason::Icmp6PacketTooBigUnmatched, format_args!("mtu={} quoted dst={dst:?}", error.param)),
    }
}

/// IPv6's layers, present when the stack has an IPv6 address.
#[derive(Debug)]
pub(crate) struct V6 {
    input: Ipv6Input,
    icmp: Icmpv6,
}

impl V6 {
    pub fn new(addr: Ipv6Addr, config: &StackConfig) -> Self {
        V6 {
            input: Ipv6Input::new(addr, config.ipv6_max_ext_headers, config.reassembly.clone()),
            icmp: Icmpv6::new(config.icmp_error_burst, config.icmp_refill_interval()),
        }
    }

    /// One IPv6 packet from the link.
    pub fn input(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        udp: &mut UdpTable,
        tcp: &mut TcpTable,
        raw: &mut RawTable,
        packet: &[u8],
    ) {
        match self.input.input(ctx, packet) {
            Input6::Nothing => {}
            Input6::Error(request) => self.icmp.send_error(ctx, out, &request),
            Input6::Deliver(delivered) => self.deliver(ctx, out, (udp, tcp, raw), &delivered.datagram()),
        }
    }

    /// Hand a whole datagram to its upper layer.
    fn deliver(
        &mut self,
        ctx: &mut Context<'_>,
        out: &mut IpOutput,
        (udp, tcp, raw): (&mut UdpTable, &mut TcpTable, &mut RawTable),
        datagram: &Datagram6<'_>,
    ) {
        let protocol = datagram.protocol;
        if datagram.is_multicast() && protocol != ICMPV6 {
            ctx.drop(DropReason::Ip6NotForUs, format_args!("dst={} protocol={protocol}", datagram.dst));
            return;
        }
        let error = match protocol {
            ICMPV6 => {
                ctx.counters.ip6_rx_delivered += 1;
                if !datagram.is_multicast() {
                    // A copy or none, ICMPv6 reads every message itself.
                    let _ = raw.input_v6(ctx, datagram.src, datagram.dst, protocol, datagram.payload());
                }
                if let Some(error) = self.icmp.input(ctx, out, datagram) {
                    route_error(ctx, out, (udp, tcp, raw), &error);
                }
                None
            }
            UDP => {
                ctx.counters.ip6_rx_delivered += 1;
                match udp.input_v6(ctx, datagram.src, datagram.dst, datagram.payload()) {
                    // RFC 4443 §3.1 code 4: no socket listens on the port.
                    Delivery::PortUnreachable => Some(ErrorKind::DestUnreachable(CODE_PORT_UNREACHABLE)),
                    Delivery::Done => None,
                }
            }
            TCP => {
                ctx.counters.ip6_rx_delivered += 1;
                tcp.input_v6(ctx, out, datagram.src, datagram.dst, datagram.payload());
                None
            }
            NO_NEXT_HEADER => {
                ctx.drop(DropReason::Ip6NoNextHeader, format_args!("src={}", datagram.src));
                None
            }
            other if raw.input_v6(ctx, datagram.src, datagram.dst, other, datagram.payload()) == RawDelivery::Taken => {
                ctx.counters.ip6_rx_delivered += 1;
                None
            }
            other => {
                ctx.drop(DropReason::Ip6UnknownNextHeader, format_args!("next_header={other}"));
                let pointer = u32::try_from(datagram.named_at).unwrap_or(u32::MAX);
                Some(ErrorKind::ParameterProblem { code: CODE_UNRECOGNIZED_NEXT_HEADER, pointer })
            }
        };
        if let Some(request) = error.and_then(|kind| ErrorRequest::about(kind, datagram, false)) {
            self.icmp.send_error(ctx, out, &request);
        }
    }

    /// When the oldest unfinished datagram times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.input.next_deadline()
    }

    /// Give up on datagrams past their reassembly time, answering with Time
    /// Exceeded where the first fragment had arrived.
    pub fn expire(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput) {
        for request in self.input.expire(ctx) {
            self.icmp.send_error(ctx, out, &request);
        }
    }

    /// IPv6 reassembly's bounds hold.
    pub fn check_invariants(&self) -> Result<(), String> {
        let reassembly = self.input.reassembly();
        let limits = reassembly.config();
        let (datagrams, bytes) = (reassembly.in_progress(), reassembly.bytes_held());
        if datagrams > limits.max_datagrams || bytes > limits.max_bytes {
            return Err(format!("IPv6 reassembly holds {datagrams} datagrams, {bytes} bytes; bounds {limits:?}"));
        }
        let firsts = self.input.firsts_kept();
        if firsts > datagrams {
            return Err(format!("{firsts} first fragments kept for {datagrams} datagrams in reassembly"));
        }
        Ok(())
    }
}
