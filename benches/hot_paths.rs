//! Micro-benchmarks of the per-packet hot paths (criterion):
//!
//! * `tcp_parse` — `wire::tcp::parse` of a data segment: header, options and the
//!   checksum over the whole segment (1460 and 64,960 payload bytes);
//! * `tcp_emit` — `wire::tcp::emit` of the same segment into a reused buffer;
//! * `demux` — `Stack::input` of a bare ACK to one of 1 or 10,000 established
//!   connections: the 4-tuple lookup, and what an ACK that changes nothing costs;
//! * `tcp_reassembly` — the out-of-order assembler taking 32 segments odd ones
//!   first (a lost-every-other-segment window), then delivering them in order;
//! * `ip_reassembly` — a 4,000-byte datagram from three fragments;
//! * `send_buffer` — append one segment's worth and acknowledge as much, on a
//!   buffer that holds 128 KiB in flight (the ring wraps).
//!
//! `cargo bench --bench hot_paths` (add `-- --quick` for a fast pass). Figures
//! are per call; `Throughput` turns the byte-sized ones into bytes/s.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use etherparse::{PacketBuilder, PacketBuilderStep, SlicedPacket, TcpHeader, TcpOptionElement, TransportSlice};

use tunstack::internals::assembler::Assembler;
use tunstack::internals::reassembly::{Fragment, FragmentKey, Reassembler, ReassemblyConfig};
use tunstack::internals::send_buffer::SendBuffer;
use tunstack::internals::seq::SeqNumber;
use tunstack::wire::tcp::{self as wire_tcp, Flags, Options, Segment};
use tunstack::{Instant, Stack, StackConfig};

const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const STACK: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A data segment as the kernel sends it: ACK + PSH, timestamps, `len` bytes.
fn data_segment(payload: &[u8]) -> Segment<'_> {
    Segment {
        src_port: 40_000,
        dst_port: 9,
        seq: 1_000_000,
        ack: 2_000_000,
        flags: Flags { ack: true, psh: true, ..Flags::default() },
        window: 512,
        options: Options { timestamp: Some((123_456, 654_321)), ..Options::default() },
        payload,
    }
}

fn tcp_parse_and_emit(c: &mut Criterion) {
    for len in [1460usize, 64_960] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        wire_tcp::emit(&mut wire, KERNEL, STACK, &data_segment(&payload)).expect("a valid segment");

        let mut group = c.benchmark_group("tcp_parse");
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(len), |b| {
            b.iter(|| wire_tcp::parse(KERNEL, STACK, black_box(&wire)).expect("checksum verifies").payload.len())
        });
        group.finish();

        let mut group = c.benchmark_group("tcp_emit");
        group.throughput(Throughput::Bytes(wire.len() as u64));
        let mut out = Vec::with_capacity(wire.len());
        group.bench_function(BenchmarkId::from_parameter(len), |b| {
            b.iter(|| {
                out.clear();
                wire_tcp::emit(&mut out, KERNEL, STACK, black_box(&data_segment(&payload)))
            })
        });
        group.finish();
    }
}

/// The transport checksum, the largest per-byte cost of input without offloads
/// (`tcp_parse` above is mostly it). etherparse's `add_slice` adds 8 bytes at a
/// time with a carry each (a chain the CPU cannot overlap); the stack's
/// verification (`wire::verifies_with_pseudo_header`) uses etherparse's same
/// 8-byte add in four independent running sums; smoltcp adds 16-bit words into
/// a 32-bit accumulator with no carries to follow, which the compiler vectorises.
fn checksum(c: &mut Criterion) {
    for len in [1460usize, 64_960] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut group = c.benchmark_group("checksum");
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("etherparse", len), |b| {
            b.iter(|| etherparse::checksum::Sum16BitWords::new().add_slice(black_box(&data)).ones_complement())
        });
        group.bench_function(BenchmarkId::new("tunstack", len), |b| {
            b.iter(|| tunstack::wire::verifies_with_pseudo_header(KERNEL, STACK, 6, black_box(&data)))
        });
        group.bench_function(BenchmarkId::new("smoltcp", len), |b| {
            b.iter(|| smoltcp::wire::checksum::data(black_box(&data)))
        });
        group.finish();
    }
}

/// One established connection as the kernel side sees it.
struct Peer {
    port: u16,
    /// Our next sequence number and the stack's (the ACK we send).
    seq: u32,
    ack: u32,
}

/// A stack listening on port 80 with `n` connections established from the
/// kernel's address (ports 10,000 up), each accepted; no options but MSS, so
/// a bare ACK is the whole story.
fn established(n: u16) -> (Stack, Vec<Peer>) {
    let mut stack = Stack::new(StackConfig::default());
    let listener = stack.tcp_listen(SocketAddr::from((STACK, 80)), usize::MAX).expect("listen on 80");
    let now = Instant::from_millis(1);
    let mut peers = Vec::with_capacity(usize::from(n));
    for i in 0..n {
        let port = 10_000 + i;
        let isn = 1000 * u32::from(i);
        let syn = build(
            PacketBuilder::ipv4(KERNEL.octets(), STACK.octets(), 64)
                .tcp(port, 80, isn, 65_535)
                .syn()
                .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
                .expect("MSS fits"),
        );
        stack.input(now, &syn);
        let syn_ack = stack.poll_transmit().expect("a SYN,ACK");
        let server_isn = match SlicedPacket::from_ip(&syn_ack).expect("an IP packet").transport {
            Some(TransportSlice::Tcp(tcp)) => tcp.sequence_number(),
            _ => panic!("the SYN,ACK is not TCP"),
        };
        let peer = Peer { port, seq: isn.wrapping_add(1), ack: server_isn.wrapping_add(1) };
        stack.input(now, &bare_ack(&peer));
        stack.tcp_accept(listener).expect("the connection was established");
        while stack.poll_transmit().is_some() {}
        peers.push(peer);
    }
    assert_eq!(stack.tcp_connection_count(), usize::from(n), "every handshake completed");
    (stack, peers)
}

fn build(builder: PacketBuilderStep<TcpHeader>) -> Vec<u8> {
    let mut packet = Vec::with_capacity(builder.size(0));
    builder.write(&mut packet, &[]).expect("writing to a Vec cannot fail");
    packet
}

fn bare_ack(peer: &Peer) -> Vec<u8> {
    build(PacketBuilder::ipv4(KERNEL.octets(), STACK.octets(), 64).tcp(peer.port, 80, peer.seq, 65_535).ack(peer.ack))
}

fn demux(c: &mut Criterion) {
    let mut group = c.benchmark_group("demux");
    for n in [1u16, 10_000] {
        let (mut stack, peers) = established(n);
        let acks: Vec<Vec<u8>> = peers.iter().map(bare_ack).collect();
        let mut i = 0;
        let now = Instant::from_millis(2);
        group.bench_function(BenchmarkId::new("bare_ack_among", n), |b| {
            b.iter(|| {
                // A different connection each time, so no lookup is cached.
                i = (i + 7919) % acks.len();
                let dropped = stack.input(now, black_box(&acks[i]));
                while stack.poll_transmit().is_some() {}
                dropped
            })
        });
    }
    group.finish();
}

fn tcp_reassembly(c: &mut Criterion) {
    const SEGMENTS: u32 = 32;
    const MSS: u32 = 1460;
    let chunk = Bytes::from(vec![7u8; MSS as usize]);
    let mut group = c.benchmark_group("tcp_reassembly");
    group.throughput(Throughput::Bytes(u64::from(SEGMENTS * MSS)));
    group.bench_function("32_segments_odd_then_even", |b| {
        b.iter_batched(
            || Assembler::new(256 * 1024, 64),
            |mut asm| {
                let rcv_nxt = SeqNumber(1000);
                let order = (1..SEGMENTS).step_by(2).chain((0..SEGMENTS).step_by(2));
                let mut out = Vec::with_capacity(SEGMENTS as usize);
                for k in order {
                    asm.insert(rcv_nxt, SeqNumber(1000 + k * MSS), chunk.clone());
                }
                asm.take_contiguous(rcv_nxt, &mut out)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn ip_reassembly(c: &mut Criterion) {
    let datagram = vec![3u8; 4000];
    let key = FragmentKey { src: KERNEL, dst: STACK, protocol: 17, id: 42 };
    let pieces = [(0usize, 1480usize, true), (1480, 1480, true), (2960, 1040, false)];
    let config = ReassemblyConfig { max_datagrams: 64, max_bytes: 1 << 20, timeout: Duration::from_secs(30) };
    let mut group = c.benchmark_group("ip_reassembly");
    group.throughput(Throughput::Bytes(datagram.len() as u64));
    let mut reassembler = Reassembler::new(config);
    let now = Instant::from_millis(1);
    group.bench_function("4000_bytes_3_fragments", |b| {
        b.iter(|| {
            let mut whole = None;
            for &(offset, len, more_fragments) in &pieces {
                let payload = &datagram[offset..offset + len];
                whole = reassembler.insert(now, Fragment { key, offset, more_fragments, payload }).1;
            }
            whole.expect("the third fragment completes the datagram").len()
        })
    });
    group.finish();
}

fn send_buffer(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_buffer");
    for len in [1460usize, 65_536] {
        let data = vec![1u8; len];
        let mut buffer = SendBuffer::new(256 * 1024);
        buffer.write(&vec![0u8; 128 * 1024]);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("append_then_ack", len), |b| {
            b.iter(|| {
                let n = buffer.write(black_box(&data));
                buffer.ack(n);
                n
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tcp_parse_and_emit, checksum, demux, tcp_reassembly, ip_reassembly, send_buffer);
criterion_main!(benches);
