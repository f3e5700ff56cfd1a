//! The example transport against the real kernel: `examples/rdp` (tunstack on a
//! TUN with RDP registered on IP protocol 253, echoing) in a network namespace,
//! and `tests/helpers/rdp_client.py`, RDP written again in Python over the
//! kernel's `socket(AF_INET, SOCK_RAW, 253)`. Both sides lose 10 % of what they
//! receive, so both retransmit; every message comes back once and in order,
//! including ones the kernel and the stack fragment. The example's `--pcap`
//! capture decodes in tshark.

mod common;

use std::process::Command;

use common::{require_e2e, Netns, STACK_ADDR};

#[test]
fn the_python_client_and_the_example_exchange_every_message_once_in_order() {
    if !require_e2e(&["python3", "tshark"]) {
        return;
    }
    let binary = common::example_binary("rdp");
    let pcap = std::env::temp_dir().join(format!("tunstack-rdp-tun-{}.pcapng", std::process::id()));
    let ns = Netns::new("rdp");
    let bin = binary.to_str().expect("a UTF-8 path");
    let pcap_path = pcap.to_str().expect("a UTF-8 path");
    let (mut server, lines) = ns.spawn_ready(bin, &["--pcap", pcap_path, "--loss", "0.1", "--seed", "7"]);

    // 60 messages of 1 to 3,000 bytes: the 3,000-byte ones travel in fragments.
    let out =
        ns.python("rdp_client.py", &[STACK_ADDR, "60", "1", "100", "1400", "3000", "--drop", "0.1", "--seed", "5"]);
    let mut out_lines = out.lines();
    assert_eq!(out_lines.next(), Some("echoed 60 messages in order"), "{out}");
    let client = out_lines.next().unwrap_or_default();
    assert!(!client.ends_with("dropped=0"), "the client dropped nothing: {client}");

    let sent = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert!(sent.is_ok_and(|s| s.success()), "SIGTERM to the example");
    let status = server.wait().expect("the example exits");
    let report: Vec<String> = lines.try_iter().collect();
    assert!(status.success(), "the example exited with {status}: {report:?}");
    let stats = report.iter().find(|l| l.starts_with("rdp: ")).expect("the example prints its statistics");
    for expected in ["delivered: 60,", "gave_up: 0 "] {
        assert!(stats.contains(expected), "{stats}");
    }
    assert!(!stats.contains("retransmitted: 0,"), "the stack's side retransmitted: {stats}");
    let counter = |name: &str| {
        let line = report.iter().find_map(|l| l.trim().strip_prefix(&format!("{name} ")).map(str::to_string));
        line.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    assert!(counter("ip_frag_reassembled") > 0 && counter("ip_tx_fragmented") > 0, "{report:?}");
    assert!(counter("proto_rx") > 0 && counter("proto_tx") > 0, "{report:?}");

    // The capture: every packet decodes, and protocol 253 flows both ways.
    let tshark = |filter: &str| {
        let out = Command::new("tshark")
            .args(["-r", pcap_path, "-n", "-o", "ip.check_checksum:TRUE", "-Y", filter, "-T", "fields", "-e", "ip.src"])
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let problems = tshark("_ws.malformed || _ws.expert.severity >= 8388608 || ip.checksum.status == 0");
    let rdp = tshark("ip.proto == 253");
    let _ = std::fs::remove_file(&pcap);
    assert!(problems.trim().is_empty(), "tshark flags: {problems}");
    let from = |addr: &str| rdp.lines().filter(|l| *l == addr).count();
    assert!(from("198.18.0.1") >= 120 && from(STACK_ADDR) >= 120, "60 messages and ACKs each way: {rdp}");
}
