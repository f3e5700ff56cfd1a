//! Fuzz `Stack::input` with one arbitrary IP packet.
//!
//! Input layout: byte 0 holds flags, bytes 1..5 a time in milliseconds (little
//! endian), the rest is the packet. Before the packet goes in, flag bit 2 sets its
//! destination to our address, bit 1 recomputes the ICMP, UDP or TCP checksum and bit 0
//! the IPv4 header checksum, so the fuzzer reaches the layers behind those checks
//! instead of being stopped by them. `fuzz/seeds/ip_input/` holds a few valid
//! packets of each kind to start from.
//!
//! The stack has a UDP socket bound on port 7 and a connected one on port 5000
//! (which can receive ICMP errors). After the packet, every output is drained, the
//! timers are run, and these invariants are checked:
//!
//! * the packet is accounted for by exactly one IP-level outcome counter;
//! * every packet sent parses as valid IPv4 from our address, fits the MTU, and has
//!   a total length equal to its size;
//! * what we send in answer is ICMP (an echo reply, or a destination unreachable of
//!   at most 576 bytes) or a TCP reset (there is no TCP listener), and a stack at
//!   the destination accepts it whole;
//! * events only name our sockets; after the timers ran nothing is left pending.
#![no_main]

#[path = "common/checksum.rs"]
mod checksum;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use tunstack::wire::ipv4;
use tunstack::{Event, Instant, Stack, StackConfig};

use checksum::{fix_ip_checksum, fix_transport_checksum, header_len};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MTU: usize = 1500;
const ICMP: u8 = 1;
const TCP: u8 = 6;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((time, packet)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let now = Instant::from_millis(u64::from(u32::from_le_bytes(*time)));
    let mut packet = packet.to_vec();
    if flags & 4 != 0 && header_len(&packet).is_some() {
        packet[16..20].copy_from_slice(&US.octets());
    }
    if flags & 2 != 0 {
        fix_transport_checksum(&mut packet);
    }
    if flags & 1 != 0 {
        fix_ip_checksum(&mut packet);
    }

    let config = StackConfig { addr: US, mtu: MTU, ..StackConfig::default() };
    let mut stack = Stack::new(config);
    let echo = stack.udp_bind(sa(US, 7)).expect("port 7 is free");
    let client = stack.udp_bind(sa(US, 5000)).expect("port 5000 is free");
    stack.udp_connect(client, sa(Ipv4Addr::new(198, 18, 0, 1), 6000)).expect("connect");

    stack.input(now, &packet);

    // Exactly one IP-level outcome per packet.
    let c = stack.counters().clone();
    assert_eq!(c.ip_rx_packets + c.ip6_rx_packets, 1);
    // Version 6 goes to IPv6, which is off here (`ipv6_input` fuzzes it).
    let outcomes = c.ip6_rx_disabled
        + c.ip_rx_bad_version
        + c.ip_rx_truncated
        + c.ip_rx_bad_header_len
        + c.ip_rx_bad_total_len
        + c.ip_rx_bad_checksum
        + c.ip_rx_bad_source
        + c.ip_rx_not_for_us
        + c.ip_rx_unknown_protocol
        + c.ip_rx_delivered
        + c.ip_frag_rx;
    assert_eq!(outcomes, 1, "{c:?}");
    // A lone fragment never completes a datagram.
    assert_eq!(c.ip_frag_reassembled, 0);

    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| stack.poll_transmit()).collect();
    // One packet in causes at most one datagram out: 65,535 bytes in ≤ 45 fragments.
    assert!(sent.len() <= 45, "{} packets", sent.len());
    let mut peer: Option<Stack> = None;
    for p in &sent {
        assert!(p.len() <= MTU, "{} bytes for a {MTU}-byte MTU", p.len());
        let ip = ipv4::parse(p).expect("we only send valid IPv4");
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_eq!(ip.src, US);
        assert!(matches!(ip.protocol, ICMP | TCP), "we answered with protocol {}", ip.protocol);
        assert_ne!(ip.dst, US);
        let peer = peer.get_or_insert_with(|| Stack::new(StackConfig { addr: ip.dst, ..StackConfig::default() }));
        peer.input(now, p);
    }
    if let Some(peer) = peer {
        // The destination accepts what we sent: one whole, valid message.
        let pc = peer.counters();
        assert_eq!(pc.ip_rx_delivered, 1, "{pc:?}");
        assert_eq!(pc.icmp_rx_bad_checksum + pc.icmp_rx_truncated, 0, "{pc:?}");
        assert_eq!(pc.tcp_rx_bad_checksum + pc.tcp_rx_bad_header, 0, "{pc:?}");
        if pc.tcp_rx_segments == 1 {
            // RFC 9293 §3.10.7.1: a segment for no connection gets one RST.
            assert_eq!((sent.len(), c.tcp_tx_rst), (1, 1), "{c:?}");
        } else if c.icmp_tx_dest_unreachable == 1 {
            assert_eq!(pc.icmp_rx, 1);
            assert_eq!(sent.len(), 1);
            assert!(sent[0].len() <= 576, "ICMP error of {} bytes", sent[0].len());
        } else {
            assert_eq!((pc.icmp_rx, c.icmp_tx_echo_reply), (1, 1));
        }
    }

    // Events only name our sockets.
    let events: Vec<Event> = std::iter::from_fn(|| stack.poll_event()).collect();
    assert!(
        events.iter().all(|e| matches!(e,
            Event::UdpReadable(h) | Event::UdpError(h) if *h == echo || *h == client)),
        "{events:?}"
    );
    for handle in [echo, client] {
        while stack.udp_recv(handle).is_ok() {}
    }

    // Run the timers: at `now` nothing can have expired yet; at the deadline, a
    // held fragment is discarded and nothing is left pending.
    stack.handle_timeout(now);
    assert_eq!(stack.counters().ip_frag_timeout, 0);
    if let Some(deadline) = stack.poll_deadline() {
        assert!(deadline > now);
        stack.handle_timeout(deadline);
        assert_eq!(stack.counters().ip_frag_timeout, 1);
    }
    assert_eq!(stack.poll_deadline(), None);
    assert!(stack.poll_transmit().is_none(), "timers send nothing");
});

fn sa(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}
