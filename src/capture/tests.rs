//! The capture read back with `pcap-file`'s reader: header, direction flags,
//! timestamps, and the drop reason on a dropped packet.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

use super::*;
use crate::device::link;
use crate::testutil::{stack, udp_packet, PEER, US};
use crate::time::Instant;

/// A `Write` whose bytes the test can still read after handing it to a capture.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One packet as read back: direction flags, comment, bytes, timestamp.
#[derive(Debug)]
struct Record {
    flags: Option<u32>,
    comment: Option<String>,
    data: Vec<u8>,
    timestamp: Duration,
}

/// Parse a whole capture: the interface options, then every packet.
fn read_back(bytes: &[u8]) -> (DataLink, Vec<InterfaceDescriptionOption<'static>>, Vec<Record>) {
    let mut reader = PcapNgReader::new(bytes).expect("a pcapng section header");
    let mut interface = None;
    let mut records = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.expect("a well-formed block") {
            Block::InterfaceDescription(idb) => interface = Some((idb.linktype, idb.into_owned().options)),
            Block::EnhancedPacket(epb) => {
                let mut record =
                    Record { flags: None, comment: None, data: epb.data.to_vec(), timestamp: epb.timestamp };
                for option in &epb.options {
                    match option {
                        EnhancedPacketOption::Flags(f) => record.flags = Some(*f),
                        EnhancedPacketOption::Comment(c) => record.comment = Some(c.to_string()),
                        _ => {}
                    }
                }
                records.push(record);
            }
            other => panic!("unexpected block {other:?}"),
        }
    }
    let (linktype, options) = interface.expect("an interface description block");
    (linktype, options, records)
}

#[test]
fn writer_api_records_direction_timestamp_and_comment() {
    let out = Shared::default();
    let capture = Capture::new(out.clone(), "sim0").expect("header");
    let t = Duration::from_micros(1_500_123);
    capture.record(t, Direction::Outbound, b"\x45 out", None).expect("record");
    capture.record(t + Duration::from_nanos(7), Direction::Inbound, b"\x45 in", Some("dropped: test")).expect("record");
    capture.flush().expect("flush");
    drop(capture);

    let (linktype, options, records) = read_back(&out.0.lock());
    assert_eq!(linktype, DataLink::RAW);
    assert!(options.contains(&InterfaceDescriptionOption::IfTsResol(9)), "{options:?}");
    assert!(options.contains(&InterfaceDescriptionOption::IfName("sim0".into())), "{options:?}");
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].flags, records[0].comment.as_deref()), (Some(0b10), None));
    assert_eq!(records[0].timestamp, t);
    assert_eq!(records[0].data, b"\x45 out");
    assert_eq!((records[1].flags, records[1].comment.as_deref()), (Some(0b01), Some("dropped: test")));
    assert_eq!(records[1].timestamp, t + Duration::from_nanos(7));
}

/// Through the device wrapper, as the runtime drives it: a datagram with a bad
/// checksum and one for a closed port are written with their drop reasons, the
/// accepted one and the stack's ICMP answer without, each once, in order.
#[test]
fn dropped_packet_gets_its_reason_as_comment() {
    let (ours, kernel) = link::pair(1500).expect("link pair");
    let out = Shared::default();
    let capture = Arc::new(Capture::new(out.clone(), "link0").expect("header"));
    let device = CaptureDevice::new(ours, Arc::clone(&capture));
    let mut stack = stack();
    stack.udp_bind("0.0.0.0:7".parse().expect("addr")).expect("bind");

    let mut bad = udp_packet(PEER, US, 4000, 7, b"hello");
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // the payload changes, the UDP checksum no longer matches
    let closed = udp_packet(PEER, US, 4000, 9, b"anyone?");
    let good = udp_packet(PEER, US, 4000, 7, b"hello");
    let started = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    let mut verdicts = Vec::new();
    for packet in [&bad, &closed, &good] {
        kernel.send(packet).expect("send");
        let mut buf = [0u8; 2048];
        let n = device.recv(&mut buf).expect("recv").expect("a packet waiting");
        let dropped = stack.input(Instant::from_millis(1), &buf[..n]);
        device.processed(&buf[..n], dropped);
        verdicts.push(dropped.map(DropReason::as_str));
        while let Some(reply) = stack.poll_transmit() {
            device.send(&reply).expect("send reply");
        }
    }
    assert_eq!(verdicts, [Some("udp bad checksum"), Some("udp no port"), None]);
    drop(device);

    let (_, _, records) = read_back(&out.0.lock());
    let summary: Vec<_> = records.iter().map(|r| (r.flags, r.comment.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (Some(0b01), Some("dropped: udp bad checksum")),
            (Some(0b01), Some("dropped: udp no port")),
            (Some(0b10), None), // ICMP port unreachable
            (Some(0b01), None),
        ]
    );
    assert_eq!(records[0].data, bad);
    assert_eq!(records[1].data, closed);
    assert_eq!(records[3].data, good);
    assert_eq!(records[2].data[9], 1, "the outbound packet is ICMP");
    for r in &records {
        assert!(r.timestamp >= started && r.timestamp < started + Duration::from_secs(60), "{:?}", r.timestamp);
    }
    assert!(records.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "timestamps go forward");
}

/// A device user that never reports verdicts still gets every packet recorded.
#[test]
fn packets_without_a_verdict_are_still_recorded() {
    let (ours, kernel) = link::pair(1500).expect("link pair");
    let out = Shared::default();
    let device = CaptureDevice::new(ours, Arc::new(Capture::new(out.clone(), "link0").expect("header")));
    let mut buf = [0u8; 64];
    for payload in [&b"one"[..], b"two"] {
        kernel.send(payload).expect("send");
        assert!(device.recv(&mut buf).expect("recv").is_some());
    }
    drop(device);
    let (_, _, records) = read_back(&out.0.lock());
    let data: Vec<_> = records.iter().map(|r| (r.flags, r.data.clone())).collect();
    assert_eq!(data, [(Some(1), b"one".to_vec()), (Some(1), b"two".to_vec())]);
}
