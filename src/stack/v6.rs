//! The stack's IPv6 half: IPv6 input and output and ICMPv6, and the routing
//! between them — what `Parts::deliver` does for IPv4.
//!
//! [`V6`] exists only when `StackConfig::addr6` is set. `Stack::input` sends a
//! packet here by its version nibble; IPv6 input hands back a datagram or an
//! ICMPv6 error to send, and [`V6::input`] routes either: protocol 58 to ICMPv6;
//! UDP, checked (its checksum is mandatory over IPv6), answered with port
//! unreachable — no socket can be bound to an IPv6 address yet; TCP counted as
//! not yet supported; No Next Header dropped quietly; any other Next Header
//! refused with Parameter Problem code 1 pointing at the field that named it
//! (RFC 8200 §4). A datagram to a multicast group goes to ICMPv6 only.

use std::net::Ipv6Addr;

use crate::config::StackConfig;
use crate::icmp::Icmpv6;
use crate::ip::ipv6::{Datagram6, ErrorRequest, Input6, Ipv6Input, Ipv6Output};
use crate::ip::IpOutput;
use crate::shared::{Context, DropReason};
use crate::time::Instant;
use crate::wire::icmpv6::{ErrorKind, CODE_PORT_UNREACHABLE, CODE_UNRECOGNIZED_NEXT_HEADER};
use crate::wire::ip_protocol::{ICMPV6, NO_NEXT_HEADER, TCP, UDP};
use crate::wire::udp::{self, UdpError};

/// IPv6's layers, present when the stack has an IPv6 address.
#[derive(Debug)]
pub(crate) struct V6 {
    input: Ipv6Input,
    out: Ipv6Output,
    icmp: Icmpv6,
}

impl V6 {
    pub fn new(addr: Ipv6Addr, config: &StackConfig) -> Self {
        V6 {
            input: Ipv6Input::new(addr, config.ipv6_max_ext_headers, config.reassembly.clone()),
            out: Ipv6Output::new(addr, config.mtu, config.ttl, config.seed),
            icmp: Icmpv6::new(config.icmp_error_burst, config.icmp_refill_interval()),
        }
    }

    /// One IPv6 packet from the link.
    pub fn input(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, packet: &[u8]) {
        match self.input.input(ctx, packet) {
            Input6::Nothing => {}
            Input6::Error(request) => self.icmp.send_error(ctx, &mut self.out, out, &request),
            Input6::Deliver(delivered) => self.deliver(ctx, out, &delivered.datagram()),
        }
    }

    /// Hand a whole datagram to its upper layer.
    fn deliver(&mut self, ctx: &mut Context<'_>, out: &mut IpOutput, datagram: &Datagram6<'_>) {
        let protocol = datagram.protocol;
        if datagram.is_multicast() && protocol != ICMPV6 {
            ctx.drop(DropReason::Ip6NotForUs, format_args!("dst={} protocol={protocol}", datagram.dst));
            return;
        }
        let error = match protocol {
            ICMPV6 => {
                ctx.counters.ip6_rx_delivered += 1;
                self.icmp.input(ctx, &mut self.out, out, datagram);
                None
            }
            UDP => {
                ctx.counters.ip6_rx_delivered += 1;
                match udp::parse_v6(datagram.src, datagram.dst, datagram.payload()) {
                    Ok(d) => {
                        // RFC 4443 §3.1 code 4: no socket listens on the port.
                        ctx.drop(DropReason::UdpNoPort, format_args!("[{}]:{}", datagram.dst, d.dst_port));
                        Some(ErrorKind::DestUnreachable(CODE_PORT_UNREACHABLE))
                    }
                    Err(e) => {
                        let reason = match e {
                            UdpError::BadLength => DropReason::UdpBadLength,
                            UdpError::BadChecksum => DropReason::UdpBadChecksum,
                        };
                        ctx.drop(reason, format_args!("src={}", datagram.src));
                        None
                    }
                }
            }
            TCP => {
                ctx.drop(DropReason::Ip6TransportUnsupported, format_args!("src={}", datagram.src));
                None
            }
            NO_NEXT_HEADER => {
                ctx.drop(DropReason::Ip6NoNextHeader, format_args!("src={}", datagram.src));
                None
            }
            other => {
                ctx.drop(DropReason::Ip6UnknownNextHeader, format_args!("next_header={other}"));
                let pointer = u32::try_from(datagram.named_at).unwrap_or(u32::MAX);
                Some(ErrorKind::ParameterProblem { code: CODE_UNRECOGNIZED_NEXT_HEADER, pointer })
            }
        };
        if let Some(request) = error.and_then(|kind| ErrorRequest::about(kind, datagram, false)) {
            self.icmp.send_error(ctx, &mut self.out, out, &request);
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
            self.icmp.send_error(ctx, &mut self.out, out, &request);
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
