use super::*;
use crate::wire::tcp::{Flags, Options, Segment};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

fn ip(protocol: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let repr = ipv4::Ipv4Repr { src, dst, protocol, ttl: 64, id: 1, dont_fragment: true };
    let mut out = Vec::new();
    ipv4::emit(&mut out, &repr, 0, false, payload).expect("fits");
    out
}

fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, options: Options, payload: &[u8]) -> Vec<u8> {
    let segment = Segment {
        src_port: 40000,
        dst_port: 80,
        seq: 1,
        ack: 0,
        flags: Flags { syn: true, ..Flags::default() },
        window: 1000,
        options,
        payload,
    };
    let mut bytes = Vec::new();
    tcp::emit(&mut bytes, src, dst, &segment).expect("fits");
    ip(ip_protocol::TCP, src, dst, &bytes)
}

fn all_options() -> Options {
    Options {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((5, 0)),
        ..Options::default()
    }
}

/// The TCP segment of `packet`, parsed and checksum-verified.
fn segment(packet: &[u8]) -> Result<Segment<'_>, tcp::TcpError> {
    let p = ipv4::parse(packet).expect("the IPv4 header still verifies");
    tcp::parse(p.src, p.dst, p.payload)
}

#[test]
fn source_nat_and_back_keeps_both_checksums_valid() {
    let mut packet = tcp_packet(A, B, all_options(), b"data");
    let original = packet.clone();
    let public = SocketAddrV4::new(PUBLIC, 61000);
    set_source(&mut packet, public).expect("TCP");
    assert_eq!(flow(&packet), Ok(Flow { protocol: ip_protocol::TCP, src: public, dst: SocketAddrV4::new(B, 80) }));
    let s = segment(&packet).expect("the TCP checksum verifies with the new pseudo-header");
    assert_eq!((s.src_port, s.payload), (61000, &b"data"[..]));
    set_source(&mut packet, SocketAddrV4::new(A, 40000)).expect("TCP");
    assert_eq!(packet, original, "rewriting back restores every byte");
    set_destination(&mut packet, public).expect("TCP");
    assert_eq!(segment(&packet).expect("verifies").dst_port, 61000);
}

#[test]
fn udp_checksums_are_updated_and_an_absent_one_stays_absent() {
    let mut datagram = Vec::new();
    udp::emit(&mut datagram, A, B, 5353, 53, b"query").expect("fits");
    let mut packet = ip(ip_protocol::UDP, A, B, &datagram);
    set_source(&mut packet, SocketAddrV4::new(PUBLIC, 1024)).expect("UDP");
    let p = ipv4::parse(&packet).expect("valid");
    assert_eq!(udp::parse(p.src, p.dst, p.payload).expect("verifies").src_port, 1024);

    datagram[udp::field::CHECKSUM].copy_from_slice(&[0, 0]);
    let mut packet = ip(ip_protocol::UDP, A, B, &datagram);
    set_source(&mut packet, SocketAddrV4::new(PUBLIC, 1024)).expect("UDP");
    let p = ipv4::parse(&packet).expect("valid");
    assert_eq!(&p.payload[udp::field::CHECKSUM], &[0, 0], "no checksum is made up");
}

#[test]
fn a_corrupt_packet_stays_corrupt() {
    let mut packet = tcp_packet(A, B, Options::default(), b"payload");
    let last = packet.len() - 1;
    packet[last] ^= 0x10;
    set_source(&mut packet, SocketAddrV4::new(PUBLIC, 2000)).expect("TCP");
    assert_eq!(segment(&packet).err(), Some(tcp::TcpError::BadChecksum));
}

#[test]
fn incremental_update_matches_a_recomputed_checksum() {
    let mut rng = crate::rng::SplitMix64::new(9);
    for _ in 0..200 {
        let mut data: Vec<u8> = (0..32).map(|_| rng.next_u64() as u8).collect();
        data[2..4].copy_from_slice(&[0, 0]);
        let sum = |d: &[u8]| Sum16BitWords::new().add_slice(d).ones_complement().to_ne_bytes();
        let checksum = sum(&data);
        let at = 2 * (rng.next_u64() as usize % 13) + 4;
        let old = data[at..at + 4].to_vec();
        let new: Vec<u8> = (0..4).map(|_| rng.next_u64() as u8).collect();
        data[at..at + 4].copy_from_slice(&new);
        let adjusted = adjust_checksum(checksum, &old, &new);
        data[2..4].copy_from_slice(&adjusted);
        assert_eq!(Sum16BitWords::new().add_slice(&data).ones_complement(), 0, "the adjusted sum verifies");
    }
}

#[test]
fn mss_is_clamped_only_when_larger() {
    let mut packet = tcp_packet(A, B, all_options(), &[]);
    assert_eq!(clamp_mss(&mut packet, 1500), Ok(false), "1460 is below the clamp");
    assert_eq!(clamp_mss(&mut packet, 1000), Ok(true));
    let s = segment(&packet).expect("checksum updated");
    assert_eq!(s.options, Options { mss: Some(1000), ..all_options() });
}

#[test]
fn options_become_nops_except_those_kept() {
    let mut packet = tcp_packet(A, B, all_options(), b"x");
    let len = packet.len();
    assert_eq!(nop_tcp_options(&mut packet, |kind| kind == OPTION_MSS), Ok(true));
    assert_eq!(packet.len(), len, "nothing moves");
    let s = segment(&packet).expect("checksum updated");
    assert_eq!((s.options, s.payload), (Options { mss: Some(1460), ..Options::default() }, &b"x"[..]));
    assert_eq!(nop_tcp_options(&mut packet, |_| false), Ok(true));
    assert_eq!(segment(&packet).expect("verifies").options, Options::default());
    assert!(is_tcp_syn(&packet));
}

#[test]
fn what_cannot_be_rewritten_is_refused_untouched() {
    let mut icmp = ip(ip_protocol::ICMP, A, B, &[8, 0, 0, 0, 0, 0, 0, 0]);
    let before = icmp.clone();
    let to = SocketAddrV4::new(PUBLIC, 1);
    assert_eq!(set_source(&mut icmp, to), Err(RewriteError::Protocol(ip_protocol::ICMP)));
    assert_eq!(icmp, before);
    let mut udp = Vec::new();
    udp::emit(&mut udp, A, B, 1, 2, b"x").expect("fits");
    let mut udp = ip(ip_protocol::UDP, A, B, &udp);
    assert_eq!(clamp_mss(&mut udp, 500), Err(RewriteError::Protocol(ip_protocol::UDP)));
    let mut fragment = tcp_packet(A, B, Options::default(), b"abc");
    fragment[ipv4::field::FLG_OFF].copy_from_slice(&0x2000u16.to_be_bytes());
    assert_eq!(set_destination(&mut fragment, to), Err(RewriteError::Fragment));
    let mut short = tcp_packet(A, B, Options::default(), &[]);
    short.truncate(30);
    assert_eq!(flow(&short), Err(RewriteError::BadIpv4));
    assert_eq!(edit_tcp_options(&mut [0x45], |_, _| ()), Err(RewriteError::BadIpv4));
}
