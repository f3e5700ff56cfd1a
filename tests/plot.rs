//! `tunstack plot` draws what is in the capture (issue 16 item 2).
//!
//! The capture comes from the simulator — a transfer over a lossy link, in
//! virtual time, the same file every run, no TUN — and is drawn twice: as the
//! simulator's pcapng (two interfaces, so the plot can tell which packets the
//! link lost) and rewritten by this test as a classic pcap with Ethernet headers,
//! as tcpdump writes. The SVG is checked against the capture, read here on its
//! own with pcap-file and etherparse: one bar per data segment, a red bar for
//! each retransmission at the sequence number retransmitted, a cross for each
//! packet lost, and the ladder's flags, relative numbers and states. Then
//! `rsvg-convert` (Debian's librsvg2-bin) renders it to PNG, which must succeed.
//! The SVG and PNG stay in `target/plot/` for a person to look at.

mod common;

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use etherparse::{SlicedPacket, TransportSlice};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use tunstack::sim::{LinkConfig, Sim, ADDR_B};

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/plot");
    std::fs::create_dir_all(&dir).expect("create target/plot");
    dir
}

/// 60 kB from A to B over a link that loses 3 % of packets (seed fixed), both
/// sides closing afterwards, captured to `path`.
fn lossy_transfer(path: &Path) {
    let link = LinkConfig { latency: Duration::from_millis(20), loss: 0.08, seed: 2, ..LinkConfig::default() };
    let mut sim = Sim::new(link);
    sim.capture(path).expect("start the capture");
    let server = SocketAddr::from((ADDR_B, 80));
    let listener = sim.b.tcp_listen(server, 1).expect("listen");
    let client = sim.a.tcp_connect(sim.now(), server).expect("connect");
    let data: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut received, mut peer, mut closed) = (0, 0, None, (false, false));
    let done = sim.run_until(Duration::from_secs(300), |sim| {
        let now = sim.now();
        sent += sim.a.tcp_send(now, client, &data[sent..]).unwrap_or(0);
        if sent == data.len() && !closed.0 && sim.a.tcp_state(client).is_some_and(|s| s.name() == "ESTABLISHED") {
            sim.a.tcp_shutdown(now, client, Shutdown::Write).expect("shutdown");
            closed.0 = true;
        }
        peer = peer.or_else(|| sim.b.tcp_accept(listener).ok().map(|(h, _)| h));
        let mut buf = [0; 8192];
        while let Some(Ok(n)) = peer.map(|b| sim.b.tcp_recv(now, b, &mut buf)) {
            if n == 0 {
                if !closed.1 {
                    sim.b.tcp_close(now, peer.expect("accepted"));
                    closed.1 = true;
                }
                break;
            }
            received += n;
        }
        // Until B's side is gone and A waits in TIME-WAIT (the whole close).
        closed.1
            && peer.is_some_and(|b| sim.b.tcp_state(b).is_none())
            && sim.a.tcp_state(client).is_none_or(|s| s.name() == "TIME-WAIT")
    });
    assert!(
        done && received == data.len(),
        "transfer finished: {received} of {} bytes, sent {sent}, A {:?}, closed {closed:?}, peer {peer:?}",
        data.len(),
        sim.a.tcp_state(client)
    );
    sim.flush_capture().expect("write the capture");
}

/// A TCP packet as the test reads it: interface, source, seq, payload length,
/// flags (SYN, FIN).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Tcp {
    src: SocketAddr,
    seq: u32,
    ack: u32,
    len: usize,
    syn: bool,
    fin: bool,
    window: u16,
}

/// A packet of a pcapng file: interface, timestamp, bytes.
type Packet = (u32, Duration, Vec<u8>);

fn read_pcapng(path: &Path) -> Vec<Packet> {
    let bytes = std::fs::read(path).expect("read capture");
    let mut reader = PcapNgReader::new(&bytes[..]).expect("pcapng");
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        if let Block::EnhancedPacket(epb) = block.expect("block") {
            out.push((epb.interface_id, epb.timestamp, epb.data.to_vec()));
        }
    }
    out
}

fn tcp(ip: &[u8]) -> Tcp {
    let packet = SlicedPacket::from_ip(ip).expect("an IP packet");
    let Some(etherparse::NetSlice::Ipv4(v4)) = packet.net else { panic!("IPv4") };
    let Some(TransportSlice::Tcp(t)) = packet.transport else { panic!("TCP") };
    Tcp {
        src: SocketAddr::from((v4.header().source_addr(), t.source_port())),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        len: t.payload().len(),
        syn: t.syn(),
        fin: t.fin(),
        window: t.window_size(),
    }
}

/// What the plot should show of host A's view: per data segment its relative
/// seq and whether it is a retransmission, and how many of A's packets never
/// reached B.
struct Expected {
    data: Vec<(u32, bool)>,
    lost: usize,
}

fn expected(frames: &[Packet]) -> Expected {
    let on = |i: u32| frames.iter().filter(move |f| f.0 == i).map(|f| tcp(&f.2));
    let mut isn: HashMap<SocketAddr, u32> = HashMap::new();
    let mut highest: HashMap<SocketAddr, u32> = HashMap::new();
    let mut data = Vec::new();
    for p in on(0) {
        if p.syn {
            isn.entry(p.src).or_insert(p.seq);
        }
        let rel = p.seq.wrapping_sub(isn[&p.src]);
        let space = p.len as u32 + u32::from(p.syn) + u32::from(p.fin);
        let rexmit = space > 0 && highest.get(&p.src).is_some_and(|&h| rel < h);
        if space > 0 {
            let h = highest.entry(p.src).or_insert(0);
            *h = (*h).max(rel + space);
        }
        if p.len > 0 {
            data.push((rel, rexmit));
        }
    }
    let mut on_b: HashMap<Tcp, usize> = HashMap::new();
    for p in on(1) {
        *on_b.entry(p).or_default() += 1;
    }
    let mut lost = 0;
    for p in on(0) {
        match on_b.get_mut(&p) {
            Some(n) if *n > 0 => *n -= 1,
            _ => lost += 1,
        }
    }
    Expected { data, lost }
}

/// The lossy transfer captured to `target/plot/NAME`: the directory, the
/// capture's path and its packets.
fn simulated(name: &str) -> (PathBuf, PathBuf, Vec<Packet>) {
    let dir = out_dir();
    let capture = dir.join(name);
    lossy_transfer(&capture);
    let frames = read_pcapng(&capture);
    (dir, capture, frames)
}

fn plot(capture: &Path, svg: &Path) -> String {
    let out = Command::new(common::tunstack_bin())
        .args(["plot", &capture.display().to_string(), "-o", &svg.display().to_string()])
        .output()
        .expect("run tunstack plot");
    assert!(out.status.success(), "tunstack plot failed: {}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("1 connection,"), "{report}");
    std::fs::read_to_string(svg).expect("read svg")
}

/// The `data-seq` of every bar of `class`.
fn bars(svg: &str, class: &str) -> Vec<u32> {
    let marker = format!(r#"<line class="{class}" "#);
    svg.lines()
        .filter(|l| l.starts_with(&marker) && l.contains("data-seq="))
        .map(|l| {
            let at = l.find("data-seq=\"").expect("data-seq") + 10;
            l[at..].split('"').next().and_then(|v| v.parse().ok()).expect("a number")
        })
        .collect()
}

fn render_png(svg: &Path) {
    if !common::require_tools(&["rsvg-convert"]) {
        return;
    }
    let png = svg.with_extension("png");
    let _ = std::fs::remove_file(&png);
    let out = Command::new("rsvg-convert")
        .args(["--background-color", "white", "-o", &png.display().to_string(), &svg.display().to_string()])
        .output()
        .expect("run rsvg-convert");
    assert!(out.status.success(), "rsvg-convert: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("png written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000, "a real PNG: {} bytes", bytes.len());
}

#[test]
fn plot_of_a_lossy_transfer_shows_every_segment_retransmission_and_loss() {
    let (dir, capture, frames) = simulated("lossy.pcapng");
    let want = expected(&frames);
    let svg_path = dir.join("lossy.svg");
    let svg = plot(&capture, &svg_path);

    let plain = bars(&svg, "seg");
    let rexmit = bars(&svg, "seg rexmit");
    assert_eq!(plain.len() + rexmit.len(), want.data.len(), "one bar per data segment");
    let want_rexmit: Vec<u32> = want.data.iter().filter(|d| d.1).map(|d| d.0).collect();
    assert!(!want_rexmit.is_empty(), "seed 7 loses data; pick a seed that does");
    assert_eq!(rexmit, want_rexmit, "red bars exactly at the retransmitted sequence numbers");
    assert!(want.lost > 0, "seed 7 loses packets on the link");
    // Every packet A sent that never reached B is a cross on A's graph (what B
    // sent and lost never reached A's interface).
    assert_eq!(svg.matches(r#"<path class="drop" "#).count(), want.lost, "one cross per lost packet");
    for element in [r#"<polyline class="ack""#, r#"<polyline class="rwnd""#] {
        assert!(svg.contains(element), "{element} drawn");
    }

    // The ladder: the handshake in relative numbers, and the close.
    for text in [
        ">[SYN] seq=0 win=",
        ">[SYN, ACK] seq=0 ack=1 win=",
        ">[ACK] seq=1 ack=1 win=",
        // A's FIN rides on its last 632 bytes: 59369 + 632 = 60001, one past the
        // 60000 bytes (seed 2's segmentation).
        ">[FIN, PSH, ACK] seq=59369 ack=1 win=262144 len=632<",
        ">[FIN, ACK] seq=1 ack=60002 ",
        ">[ACK] seq=60002 ack=2 ",
        ">SYN-SENT<",
        ">SYN-RECEIVED<",
        ">ESTABLISHED<",
        ">FIN-WAIT-1<",
        ">CLOSE-WAIT<",
        ">LAST-ACK<",
        ">TIME-WAIT<",
        ">CLOSED<",
    ] {
        assert!(svg.contains(text), "the ladder shows {text:?}");
    }
    render_png(&svg_path);
}

#[test]
fn plot_reads_a_classic_pcap_with_ethernet_headers() {
    let (dir, _, frames) = simulated("lossy-eth-source.pcapng");
    // Host A's view as tcpdump on an Ethernet interface would write it.
    let pcap = dir.join("lossy-eth.pcap");
    let header = PcapHeader { datalink: DataLink::ETHERNET, ..PcapHeader::default() };
    let mut writer = PcapWriter::with_header(Vec::new(), header).expect("pcap writer");
    for (_, timestamp, ip) in frames.iter().filter(|f| f.0 == 0) {
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend_from_slice(ip);
        let len = frame.len() as u32;
        writer.write_packet(&PcapPacket::new(*timestamp, len, &frame)).expect("write packet");
    }
    std::fs::write(&pcap, writer.into_writer()).expect("write pcap");
    let svg = plot(&pcap, &dir.join("lossy-eth.svg"));
    let want = expected(&frames);
    assert_eq!(bars(&svg, "seg").len() + bars(&svg, "seg rexmit").len(), want.data.len());
    assert_eq!(bars(&svg, "seg rexmit").len(), want.data.iter().filter(|d| d.1).count());
    assert!(!svg.contains("<title>lost"), "one interface: no loss can be seen");
    assert!(svg.contains(">[SYN, ACK] seq=0 ack=1 win="), "ladder in relative numbers");
}

#[test]
fn plot_to_a_closed_pipe_or_of_a_bad_file_fails_cleanly() {
    let (dir, capture, _) = simulated("pipe.pcapng");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(common::tunstack_bin())
        .args(["plot", &capture.display().to_string(), "-o", "-"])
        .stdout(writer)
        .output()
        .expect("run tunstack plot");
    assert_eq!(out.status.code(), Some(0), "a closed pipe ends it quietly: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // Not a capture: a failure (exit 1) that says so; a missing file likewise.
    let bogus = dir.join("not-a-capture.pcap");
    std::fs::write(&bogus, b"hello, world\n").expect("write");
    for path in [bogus, dir.join("missing.pcapng")] {
        let out =
            Command::new(common::tunstack_bin()).args(["plot", &path.display().to_string()]).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with("tunstack: ") && stderr.contains(&path.display().to_string()), "{stderr}");
    }
}

/// A real connection with the kernel: `serve --pcap` in a namespace, the
/// kernel's client echoing 100 kB through tcp/7. The bars' relative sequence
/// numbers are tshark's own (`tcp.seq`, relative by default), direction by
/// direction, and the ladder opens with the kernel's SYN.
#[test]
fn plot_of_a_kernel_connection_matches_tshark() {
    if !common::require_e2e(&["python3", "tshark"]) {
        return;
    }
    let dir = out_dir();
    let capture = dir.join("kernel.pcapng");
    let _ = std::fs::remove_file(&capture);
    let ns = common::Netns::new("plot");
    let stack = common::Stack::start(&ns, &["--pcap", &capture.display().to_string()]);
    let echoed = ns.python("tcp_echo.py", &[common::STACK_ADDR, "7", "1", "100000"]);
    assert!(echoed.contains("OK conn=0 bytes=100000"), "{echoed}");
    // The last ACK of the close reaches the stack at once; wait until the
    // stack has no connection with the kernel left, so the capture holds it.
    common::poll_until("the close in the capture", Duration::from_secs(5), || {
        let out = ns.run(&common::tunstack_bin(), &["ss", "--tun", common::TUN]);
        let table = String::from_utf8_lossy(&out.stdout).into_owned();
        if table.lines().any(|l| l.starts_with("tcp") && l.contains(&format!("{}:", common::KERNEL_ADDR))) {
            Err(table)
        } else {
            Ok(())
        }
    });
    stack.stop();
    let svg = plot(&capture, &dir.join("kernel.svg"));
    let tshark_seqs = |src: &str| -> Vec<u32> {
        let out = Command::new("tshark")
            .args(["-r", &capture.display().to_string(), "-n", "-Y", &format!("tcp.len > 0 && ip.src == {src}")])
            .args(["-T", "fields", "-e", "tcp.seq"])
            .output()
            .expect("tshark");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse().expect("a number")).collect()
    };
    // Document order: the client's (the kernel's) graph, then the server's.
    let mut drawn: Vec<(usize, u32)> = Vec::new();
    for (i, line) in svg.lines().enumerate() {
        if line.starts_with("<line class=\"seg") && line.contains("data-seq=") {
            let at = line.find("data-seq=\"").expect("data-seq") + 10;
            drawn.push((i, line[at..].split('"').next().and_then(|v| v.parse().ok()).expect("number")));
        }
    }
    let (kernel, ours) = (tshark_seqs(common::KERNEL_ADDR), tshark_seqs(common::STACK_ADDR));
    // Enough segments each way for the comparison to mean something. With TUN
    // offloads the kernel hands over GSO super-segments (100 kB in about 7).
    assert!(kernel.len() >= 5 && ours.len() >= 5, "{} and {} data segments", kernel.len(), ours.len());
    let seqs: Vec<u32> = drawn.iter().map(|d| d.1).collect();
    assert_eq!(seqs, [kernel, ours].concat(), "bars at tshark's relative sequence numbers");
    assert!(svg.contains(">[SYN] seq=0 win="), "the ladder opens with the kernel's SYN");
    assert!(svg.contains(">SYN-RECEIVED<") && svg.contains(">ESTABLISHED<"), "states named");
    render_png(&dir.join("kernel.svg"));
}
