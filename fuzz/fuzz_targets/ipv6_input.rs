//! Fuzz IPv6 input: a few arbitrary packets into a stack with an IPv6 address —
//! extension-header chains, fragments and their reassembly, ICMPv6.
//!
//! Input layout: byte 0 holds flags, bytes 1..5 a time in milliseconds (little
//! endian), then up to 16 packets, each a 2-byte little-endian length and that many
//! bytes. Before a packet goes in, flag bit 2 makes it version 6 and sets its
//! destination to our address, bit 1 sets the Payload Length to the bytes that
//! follow the header, and bit 0 recomputes the ICMPv6 or UDP checksum found after
//! the extension headers, so the fuzzer reaches the layers behind those checks.
//! `fuzz/seeds/ipv6_input/` holds a few hand-made packets to start from (an echo,
//! a fragmented echo, extension-header chains).
//!
//! After each packet the output is drained and these invariants are checked:
//!
//! * the packet is counted once as IPv6 input, and the stack's invariants hold
//!   (reassembly within its bounds);
//! * every packet sent is valid IPv6 from our address to a unicast address, fits
//!   the MTU, and carries ICMPv6 (whole or in fragments); an error fits 1,280
//!   bytes (RFC 4443 §2.4 (c));
//! * a stack at each destination accepts everything sent to it without a drop,
//!   and reassembles every fragmented reply.
//!
//! At the end the timers run to the last deadline (reassembly's, then the path
//! MTU cache's aging): nothing is left pending, and anything sent then is a Time
//! Exceeded.
#![no_main]

use std::collections::HashMap;
use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use tunstack::wire::ip_protocol::{FRAGMENT, ICMPV6, UDP};
use tunstack::wire::ipv6::{self, HEADER_LEN};
use tunstack::wire::ipv6_ext::{walk, Cursor, Stop};
use tunstack::{Instant, Stack, StackConfig};

const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
const MTU: usize = 1500;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((time, mut rest)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let now = Instant::from_millis(u64::from(u32::from_le_bytes(*time)));
    let config = StackConfig { addr6: Some(US6), mtu: MTU, ..StackConfig::default() };
    let mut stack = Stack::new(config);
    for n in 1..=16u64 {
        let Some((len, after)) = rest.split_first_chunk::<2>() else { break };
        let len = usize::from(u16::from_le_bytes(*len)).min(after.len());
        let mut packet = after[..len].to_vec();
        rest = &after[len..];
        fix_up(&mut packet, flags);
        stack.input(now, &packet);
        assert_eq!(stack.counters().ip6_rx_packets + stack.counters().ip_rx_packets, n);
        stack.check_invariants().expect("invariants hold");
        check_sent(&mut stack, now, false);
    }
    stack.handle_timeout(now);
    check_sent(&mut stack, now, false);
    // Reassembly's timeout, then (if a Packet Too Big about one of our echo
    // replies taught the path MTU cache) the cache's aging: two deadlines at most.
    let mut last = now;
    for _ in 0..2 {
        let Some(deadline) = stack.poll_deadline() else { break };
        assert!(deadline > last);
        stack.handle_timeout(deadline);
        check_sent(&mut stack, deadline, true);
        last = deadline;
    }
    assert_eq!(stack.poll_deadline(), None);
    assert!(stack.poll_event().is_none(), "no socket, no event");
});

/// Apply the flags' repairs to one packet.
fn fix_up(packet: &mut [u8], flags: u8) {
    if packet.len() < HEADER_LEN {
        return;
    }
    if flags & 4 != 0 {
        packet[0] = 0x60 | (packet[0] & 0x0f);
        packet[ipv6::field::DST_ADDR].copy_from_slice(&US6.octets());
    }
    if flags & 2 != 0 {
        let len = u16::try_from(packet.len() - HEADER_LEN).unwrap_or(u16::MAX);
        packet[ipv6::field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }
    if flags & 1 != 0 {
        fix_checksum(packet);
    }
}

/// Recompute the ICMPv6 or UDP checksum behind the extension headers, if the
/// packet parses that far.
fn fix_checksum(packet: &mut [u8]) {
    let Ok(ip) = ipv6::parse(packet) else { return };
    let (src, dst, end) = (ip.src, ip.dst, ip.packet.len());
    let Ok(Stop::Upper(cursor)) = walk(ip.packet, Cursor::start(ip.next_header), 16) else { return };
    let at = match cursor.next_header {
        ICMPV6 => 2,
        UDP => 6,
        _ => return,
    };
    let upper = &mut packet[cursor.at..end];
    if upper.len() < at + 2 {
        return;
    }
    upper[at..at + 2].copy_from_slice(&[0, 0]);
    let mut sum = 0u32;
    for chunk in [&src.octets()[..], &dst.octets()[..]] {
        sum += chunk.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
    }
    let len = upper.len() as u32;
    sum += (len >> 16) + (len & 0xffff) + u32::from(cursor.next_header);
    for pair in upper.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    upper[at..at + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Drain what the stack sent and check it (see the module doc); `timers_only`:
/// only Time Exceeded may have been sent.
fn check_sent(stack: &mut Stack, now: Instant, timers_only: bool) {
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| stack.poll_transmit()).collect();
    // A stack at each destination (the timers may answer several sources).
    let mut peers: HashMap<Ipv6Addr, Stack> = HashMap::new();
    for p in &sent {
        assert!(p.len() <= MTU, "{} bytes for a {MTU}-byte MTU", p.len());
        let ip = ipv6::parse(p).expect("we only send valid IPv6");
        assert_eq!(ip.packet.len(), p.len(), "no padding");
        assert_eq!(ip.src, US6);
        assert!(!ip.dst.is_multicast() && !ip.dst.is_unspecified(), "to {}", ip.dst);
        assert!(matches!(ip.next_header, ICMPV6 | FRAGMENT), "next header {}", ip.next_header);
        if ip.next_header == ICMPV6 {
            let icmp_type = ip.payload()[0];
            assert!(icmp_type == 129 || p.len() <= 1280, "error of {} bytes", p.len());
            assert!(!timers_only || icmp_type == 3, "timers sent type {icmp_type}");
        }
        let peer = peers
            .entry(ip.dst)
            .or_insert_with(|| Stack::new(StackConfig { addr6: Some(ip.dst), ..StackConfig::default() }));
        assert_eq!(peer.input(now, p), None, "the destination accepts what we sent");
    }
    for peer in peers.values() {
        let pc = peer.counters();
        assert_eq!(pc.icmp6_rx_bad_checksum + pc.icmp6_rx_truncated, 0, "{pc:?}");
        assert_eq!(peer.poll_deadline(), None, "every fragmented reply reassembles");
        assert!(pc.icmp6_rx > 0);
    }
}
