//! Fuzz the header and option parsers on arbitrary bytes.
//!
//! The same input is offered as an IPv4 packet, a TCP segment, a UDP datagram, an
//! ICMP message and a bare TCP option list: none of the parsers may panic. Then
//! the round trip: a TCP segment that parses is written again with our emitter
//! and parsed back, and every field must survive (`parse(emit(x)) = x`), except
//! what the emitter deliberately normalises — unknown options are dropped, and
//! SACK blocks beyond what fits in 40 option bytes are trimmed.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tunstack::wire::{icmp, ipv4, tcp, udp};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fuzz_target!(|data: &[u8]| {
    let _ = ipv4::parse(data);
    let _ = udp::parse(A, B, data);
    let _ = icmp::parse(data);
    let _ = tcp::parse_options(data);

    let Ok(seg) = tcp::parse(A, B, data) else {
        return;
    };
    let mut out = Vec::new();
    if tcp::emit(&mut out, A, B, &seg).is_none() {
        // The decoded options need more than 40 bytes in our layout (e.g. MSS,
        // window scale, timestamps and four SACK blocks at once): refused, fine.
        return;
    }
    let again = tcp::parse(A, B, &out).expect("what we emit parses, checksum included");
    assert_eq!(
        (again.src_port, again.dst_port, again.seq, again.ack, again.flags, again.window),
        (seg.src_port, seg.dst_port, seg.seq, seg.ack, seg.flags, seg.window)
    );
    assert_eq!(again.payload, seg.payload);
    let (o, p) = (&seg.options, &again.options);
    assert_eq!((p.mss, p.window_scale, p.sack_permitted, p.timestamp), (o.mss, o.window_scale, o.sack_permitted, o.timestamp));
    let sent: Vec<_> = o.sacks().collect();
    let back: Vec<_> = p.sacks().collect();
    assert!(!back.is_empty() || sent.is_empty(), "SACK blocks lost: {sent:?}");
    assert_eq!(back[..], sent[..back.len()], "SACK blocks are kept in order, the last ones trimmed");
});
