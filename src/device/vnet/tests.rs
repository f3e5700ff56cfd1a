use super::coalesce::same_except;
use super::*;
use crate::wire::field::Field;
use crate::wire::ipv4::{self, MAX_DATAGRAM};
use crate::wire::tcp::{self, field::FLG_PSH};
use crate::wire::{ip_protocol, ipv4::field as ip_field, ipv6, tcp::field as tcp_field};
use etherparse::PacketBuilder;
use std::net::Ipv4Addr;

const A: [u8; 4] = [198, 18, 0, 2];
const B: [u8; 4] = [198, 18, 0, 1];
/// 2001:2::2 (the stack) and 2001:2::1 (the kernel).
const A6: [u8; 16] = [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const B6: [u8; 16] = [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// The Flow Label our IPv6 segments carry (one per flow, RFC 6437).
const FLOW: u32 = 0x1_2345;

/// A TCP segment as the stack would send it, behind `ip`'s header: `ACK`
/// (+`PSH` if `psh`), timestamps, and `payload` at `seq`.
fn tcp_segment(
    ip: etherparse::PacketBuilderStep<etherparse::IpHeaders>,
    seq: u32,
    payload: &[u8],
    psh: bool,
) -> Vec<u8> {
    let mut b = ip
        .tcp(80, 40000, seq, 4096)
        .ack(777)
        .options(&[
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::Timestamp(5, 6),
        ])
        .expect("options fit");
    if psh {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("writes");
    out
}

/// An IPv4/TCP packet as the stack would send it, with IP ID `id`.
fn segment(seq: u32, payload: &[u8], psh: bool, id: u16) -> Vec<u8> {
    let mut out = tcp_segment(PacketBuilder::ipv4(A, B, 64), seq, payload, psh);
    out[ip_field::IDENT].copy_from_slice(&id.to_be_bytes());
    ipv4::fill_checksum(&mut out).expect("a whole header");
    out
}

/// The same over IPv6, with the flow's label.
fn segment6(seq: u32, payload: &[u8], psh: bool) -> Vec<u8> {
    let mut out = tcp_segment(PacketBuilder::ipv6(A6, B6, 64), seq, payload, psh);
    // Version 6, traffic class 0, the Flow Label (no checksum covers it).
    out[..4].copy_from_slice(&(6 << 28 | FLOW).to_be_bytes());
    out
}

/// What the kernel's TSO does with a merged packet (`tcp_gso_segment`,
/// `inet_gso_segment`, `ipv6_gso_segment`): cut the payload in `gso_size`
/// pieces, each with the headers, its own sequence number and IP length, PSH
/// only on the last, and a complete checksum.
fn kernel_segments(header: &VnetHeader, packet: &[u8]) -> Vec<Vec<u8>> {
    let hdr = usize::from(header.hdr_len);
    let ip_len = usize::from(header.csum_start);
    let tcp_field = |f: Field| ip_len + f.start..ip_len + f.end;
    let seq0 = crate::wire::field::read_u32(packet, tcp_field(tcp_field::SEQ_NUM)).expect("a TCP header");
    let whole = tcp::split(packet).expect("an IP packet carrying TCP");
    let (src, dst) = (whole.src, whole.dst);
    let chunks: Vec<&[u8]> = packet[hdr..].chunks(usize::from(header.gso_size)).collect();
    let mut out = Vec::new();
    let mut offset = 0u32;
    for (i, chunk) in chunks.iter().enumerate() {
        let mut p = packet[..hdr].to_vec();
        p.extend_from_slice(chunk);
        let total = p.len() as u16;
        match header.gso_type {
            GSO_TCPV4 => ipv4::set_total_len(&mut p, total).expect("a whole header"),
            GSO_TCPV6 => ipv6::set_payload_len(&mut p, total - 40).expect("a whole header"),
            other => panic!("gso_type {other}"),
        }
        p[tcp_field(tcp_field::SEQ_NUM)].copy_from_slice(&seq0.wrapping_add(offset).to_be_bytes());
        if i + 1 < chunks.len() {
            p[ip_len + tcp_field::FLAGS] &= !FLG_PSH;
        }
        assert!(tcp::fill_checksum(src, dst, &mut p[ip_len..]));
        offset += chunk.len() as u32;
        out.push(p);
    }
    out
}

/// Equal apart from the IPv4 identification and header checksum, which the
/// kernel assigns per segment.
fn same_but_ip_id(a: &[u8], b: &[u8]) -> bool {
    same_except(a, b, &[ip_field::IDENT, ip_field::CHECKSUM])
}

#[test]
fn a_run_of_full_segments_merges_and_the_kernel_cuts_it_back_exactly() {
    let mss = 1448;
    let data: Vec<u8> = (0..mss * 5 + 100).map(|i| (i * 7) as u8).collect();
    let batch: Vec<Vec<u8>> = data
        .chunks(mss)
        .enumerate()
        .map(|(i, c)| segment(1000 + (i * mss) as u32, c, i == 5, 100 + i as u16))
        .collect();
    let writes = coalesce(&batch);
    assert_eq!(writes.len(), 1, "one write for six segments");
    let Write::Merged { header, .. } = &writes[0] else { panic!("expected a merged write") };
    let packet = &writes[0].merged_packet().expect("merged");
    assert_eq!((header.gso_type, header.gso_size, header.flags), (GSO_TCPV4, mss as u16, F_NEEDS_CSUM));
    let cut = kernel_segments(header, packet);
    assert_eq!(cut.len(), batch.len());
    for (got, want) in cut.iter().zip(&batch) {
        assert!(same_but_ip_id(got, want), "segment differs:\n got {got:?}\nwant {want:?}");
    }
}

#[test]
fn what_tso_would_not_reproduce_is_written_as_it_is() {
    let full = vec![1u8; 1000];
    let gap = [segment(0, &full, false, 1), segment(5000, &full, false, 2)];
    let pushed_early = [segment(0, &full, true, 1), segment(1000, &full, false, 2)];
    let short_first = [segment(0, &full[..10], false, 1), segment(10, &full, false, 2)];
    let mut other_ack = segment(1000, &full, false, 2);
    other_ack[20 + tcp_field::ACK_NUM.start..20 + tcp_field::ACK_NUM.end].copy_from_slice(&778u32.to_be_bytes());
    let different_ack = [segment(0, &full, false, 1), other_ack];
    for batch in [&gap[..], &pushed_early, &short_first, &different_ack] {
        let writes = coalesce(batch);
        assert!(writes.iter().all(|w| matches!(w, Write::Single(_))), "{writes:?}");
        assert_eq!(writes.len(), 2);
    }
}

#[test]
fn merging_stops_at_the_largest_ip_datagram() {
    let full = vec![3u8; 1448];
    let batch: Vec<Vec<u8>> = (0..100).map(|i| segment(i * 1448, &full, false, i as u16)).collect();
    let writes = coalesce(&batch);
    let mut covered = 0;
    for w in &writes {
        let Write::Merged { header, .. } = w else { panic!("full segments merge") };
        let packet = &w.merged_packet().expect("merged");
        assert!(packet.len() <= MAX_DATAGRAM);
        covered += kernel_segments(header, packet).len();
    }
    assert_eq!(covered, 100);
    assert_eq!(writes.len(), 3, "45 + 45 + 10 segments");
}

/// A partial checksum from the kernel is vouched for and left as it is; a copy
/// that needs the real one gets it filled in. A header that points outside the
/// packet, or a segmentation type we did not ask for, is refused.
#[test]
fn a_partial_checksum_from_the_kernel_is_vouched_for_and_can_be_filled_in() {
    let good = segment(9, b"some payload bytes", true, 1);
    let mut partial = good.clone();
    assert!(tcp::set_partial_checksum(Ipv4Addr::from(A).into(), Ipv4Addr::from(B).into(), &mut partial[20..]));
    assert_ne!(partial, good);
    let header = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        csum_start: 20,
        csum_offset: tcp_field::CHECKSUM.start as u16,
        ..PLAIN
    };
    assert_eq!(accept(&header, &mut partial), Ok(RxChecksum::Vouched));
    assert_eq!(accept(&PLAIN, &mut good.clone()), Ok(RxChecksum::Verify), "a complete packet is the stack's to verify");
    assert!(crate::wire::fill_transport_checksum(&mut partial));
    assert_eq!(partial, good);
    let wild = VnetHeader { csum_start: 60_000, ..header };
    assert_eq!(accept(&wild, &mut partial), Err(VnetError::BadChecksumOffsets));
    let udp = VnetHeader { gso_type: 5, ..header };
    assert_eq!(accept(&udp, &mut partial), Err(VnetError::UnsupportedGso(5)));
}

#[test]
fn a_tcpv6_super_segment_from_the_kernel_is_vouched_for_and_taken_whole() {
    let (src, dst) =
        ([0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    let payload = vec![0x6b; 3000];
    let mut good = Vec::new();
    PacketBuilder::ipv6(src, dst, 64).tcp(40000, 80, 1, 4096).ack(9).write(&mut good, &payload).expect("writes");
    // What the kernel hands over: the checksum seeded with the pseudo-header sum.
    let len = (good.len() - 40) as u32;
    let seed = etherparse::checksum::Sum16BitWords::new()
        .add_16bytes(src)
        .add_16bytes(dst)
        .add_4bytes(len.to_be_bytes())
        .add_2bytes([0, ip_protocol::TCP])
        .ones_complement();
    let mut partial = good.clone();
    let at = 40 + tcp_field::CHECKSUM.start;
    partial[at..at + 2].copy_from_slice(&(!seed).to_ne_bytes());
    let header = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV6,
        gso_size: 1428,
        csum_start: 40,
        csum_offset: tcp_field::CHECKSUM.start as u16,
        ..PLAIN
    };
    assert_eq!(accept(&header, &mut partial), Ok(RxChecksum::Vouched));
    assert!(crate::wire::fill_transport_checksum(&mut partial));
    assert_eq!(partial, good);
}

#[test]
fn the_header_round_trips() {
    let h = VnetHeader { flags: 1, gso_type: 1, hdr_len: 52, gso_size: 1448, csum_start: 20, csum_offset: 16 };
    assert_eq!(VnetHeader::parse(h.to_bytes()), h);
}

#[test]
fn packets_that_are_not_whole_unfragmented_ipv4_tcp_pass_through_untouched() {
    let full = vec![5u8; 100];
    let good = [segment(0, &full, false, 1), segment(100, &full, false, 2)];
    assert!(matches!(coalesce(&good)[..], [Write::Merged { .. }]), "the pair itself merges");
    let mut udp = good[1].clone();
    udp[ip_field::PROTOCOL] = ip_protocol::UDP;
    let mut fragment = good[1].clone();
    fragment[ip_field::FLG_OFF].copy_from_slice(&[0x20, 0]);
    let mut syn = good[1].clone();
    syn[20 + tcp_field::FLAGS] |= tcp_field::FLG_SYN;
    let odd = [udp, fragment, syn, vec![0x45; 60], vec![0xff; 3]];
    let cuts = (0..good[1].len()).map(|cut| good[1][..cut].to_vec());
    for second in odd.into_iter().chain(cuts) {
        let batch = [good[0].clone(), second];
        let writes = coalesce(&batch);
        assert_eq!(writes, vec![Write::Single(&batch[0]), Write::Single(&batch[1])]);
    }
}

/// The TCPv6 super-segment of a run, built independently of `coalesce`: one
/// IPv6/TCP packet of all the data at the first sequence number with the last
/// one's PSH, whose checksum holds only the IPv6 pseudo-header's sum (RFC 8200
/// §8.1: addresses, 32-bit length, next header), as the kernel's TSO wants it.
fn expected_super_segment6(seq: u32, data: &[u8], psh: bool) -> Vec<u8> {
    let mut packet = segment6(seq, data, psh);
    let len = (packet.len() - 40) as u32;
    let seed = etherparse::checksum::Sum16BitWords::new()
        .add_16bytes(A6)
        .add_16bytes(B6)
        .add_4bytes(len.to_be_bytes())
        .add_2bytes([0, ip_protocol::TCP])
        .ones_complement();
    let at = 40 + tcp_field::CHECKSUM.start;
    packet[at..at + 2].copy_from_slice(&(!seed).to_ne_bytes());
    packet
}

#[test]
fn a_run_of_ipv6_segments_becomes_one_tcpv6_super_segment_byte_for_byte() {
    // MTU 1500 over IPv6 with timestamps: 1500 − 40 − 20 − 12.
    let mss = 1428;
    let data: Vec<u8> = (0..mss * 3 + 700).map(|i| (i * 13) as u8).collect();
    let batch: Vec<Vec<u8>> =
        data.chunks(mss).enumerate().map(|(i, c)| segment6(5000 + (i * mss) as u32, c, i == 3)).collect();
    let writes = coalesce(&batch);
    let [write @ Write::Merged { header, .. }] = &writes[..] else { panic!("one merged write: {writes:?}") };
    let packet = &write.merged_packet().expect("merged");
    // NEEDS_CSUM, GSO_TCPV6, hdr_len 40 + 32, gso_size = MSS, checksum from the
    // TCP header (40) at its offset 16 — in the machine's byte order.
    let mut bytes = vec![1, 4];
    for word in [72u16, mss as u16, 40, 16] {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    assert_eq!(header.to_bytes()[..], bytes[..]);
    assert_eq!(*packet, expected_super_segment6(5000, &data, true));
    assert_eq!(&packet[ipv6::field::PAYLOAD_LEN], &((32 + data.len()) as u16).to_be_bytes());
    // And the kernel cuts it back into exactly what the stack sent (IPv6 has no
    // IP ID, so nothing differs at all).
    assert_eq!(kernel_segments(header, packet), batch);
}

#[test]
fn ipv6_merging_stops_at_64_kib_and_never_crosses_families_or_flows() {
    let full = vec![3u8; 1428];
    let batch: Vec<Vec<u8>> = (0..100).map(|i| segment6(i * 1428, &full, false)).collect();
    let writes = coalesce(&batch);
    let mut cut = Vec::new();
    for w in &writes {
        let Write::Merged { header, .. } = w else { panic!("full segments merge") };
        let packet = &w.merged_packet().expect("merged");
        assert!(packet.len() <= MAX_DATAGRAM);
        cut.extend(kernel_segments(header, packet));
    }
    assert_eq!(cut, batch);
    assert_eq!(writes.len(), 3, "45 + 45 + 10 segments");

    // An IPv4 run then an IPv6 run: one super-segment of each kind.
    let v4 = vec![1u8; 1448];
    let mixed = [segment(0, &v4, false, 1), segment(1448, &v4, false, 2), batch[0].clone(), batch[1].clone()];
    let kinds: Vec<u8> = coalesce(&mixed)
        .iter()
        .map(|w| match w {
            Write::Merged { header, .. } => header.gso_type,
            Write::Single(_) => GSO_NONE,
        })
        .collect();
    assert_eq!(kinds, [GSO_TCPV4, GSO_TCPV6]);

    // Another flow label, or an extension header before TCP: never merged.
    let mut relabelled = batch[1].clone();
    relabelled[3] ^= 1;
    let mut with_options = batch[1].clone();
    with_options[ipv6::field::NEXT_HEADER] = ip_protocol::DEST_OPTIONS;
    for second in [relabelled, with_options] {
        let pair = [batch[0].clone(), second];
        assert_eq!(coalesce(&pair), vec![Write::Single(&pair[0]), Write::Single(&pair[1])]);
    }
}

/// A partial UDP checksum is not vouched for but finished on the spot: the
/// stack verifies it, and may quote the datagram in an ICMP error.
#[test]
fn a_partial_udp_checksum_from_the_kernel_is_finished() {
    let mut good = Vec::new();
    PacketBuilder::ipv4(A, B, 64).udp(40000, 4444).write(&mut good, b"nobody listens").expect("writes");
    let len = (good.len() - 20) as u16;
    let seed = etherparse::checksum::Sum16BitWords::new()
        .add_4bytes(A)
        .add_4bytes(B)
        .add_2bytes([0, ip_protocol::UDP])
        .add_2bytes(len.to_be_bytes())
        .ones_complement();
    let mut partial = good.clone();
    partial[26..28].copy_from_slice(&(!seed).to_ne_bytes());
    let header = VnetHeader { flags: F_NEEDS_CSUM, csum_start: 20, csum_offset: 6, ..PLAIN };
    assert_eq!(accept(&header, &mut partial), Ok(RxChecksum::Verify));
    assert_eq!(partial, good);
}

/// With the stack's TCP checksums left to the device, a lone TCP segment is
/// written with `NEEDS_CSUM` from its TCP header on; anything else as it is.
#[test]
fn a_lone_tcp_segment_asks_the_kernel_to_finish_its_checksum() {
    let v4 = segment(9, b"data", true, 1);
    assert_eq!(
        lone_header(&v4),
        VnetHeader { flags: F_NEEDS_CSUM, csum_start: 20, csum_offset: tcp_field::CHECKSUM.start as u16, ..PLAIN }
    );
    let mut v6 = Vec::new();
    PacketBuilder::ipv6(A6, [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 64)
        .tcp(1, 2, 3, 4)
        .write(&mut v6, b"x")
        .expect("writes");
    assert_eq!((lone_header(&v6).flags, lone_header(&v6).csum_start), (F_NEEDS_CSUM, 40));
    let mut udp = Vec::new();
    PacketBuilder::ipv4(A, B, 64).udp(1, 2).write(&mut udp, b"x").expect("writes");
    assert_eq!(lone_header(&udp), PLAIN);
    assert_eq!(lone_header(&v4[..30]), PLAIN, "too short to hold a TCP header");
}
