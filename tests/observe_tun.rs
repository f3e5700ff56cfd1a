//! Seeing inside the stack, end to end against the kernel: `--pcap` writes a
//! capture that `tshark` decodes without a single malformed packet or bad
//! checksum, and `--trace-json` writes every TCP state transition of a connection.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{poll_until, require_e2e, Netns, Stack, TempFile, STACK_ADDR};

/// `tshark -r FILE` with every checksum verified, plus `args`; panics unless it
/// exits 0. Only reads the file: it runs in the host namespace and opens no
/// interface.
fn tshark(file: &str, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-r", file, "-n"])
        .args(["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "tshark {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `-T fields` rows: one `Vec` of fields per packet matching `filter`.
fn fields(file: &str, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-Y", filter, "-T", "fields", "-E", "separator=|"];
    for name in names {
        args.extend(["-e", name]);
    }
    tshark(file, &args).lines().map(|l| l.split('|').map(str::to_string).collect()).collect()
}

/// One TCP packet of the capture, as the test reads it.
#[derive(Debug)]
struct Tcp {
    inbound: bool,
    flags: String,
    len: usize,
}

impl Tcp {
    fn has(&self, flag: &str) -> bool {
        self.flags.split(',').any(|f| f == flag)
    }
}

/// `tcp.flags.str` looks like `·······A··S·`; name the set flags.
fn flag_names(s: &str) -> String {
    let names = ["NS", "CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"];
    let chars: Vec<char> = s.chars().collect();
    let skip = chars.len().saturating_sub(names.len());
    names
        .iter()
        .zip(&chars[skip..])
        .filter(|(_, c)| !matches!(c, '·' | '.' | '*'))
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn pcap_of_tcp_and_udp_decodes_cleanly() {
    if !require_e2e(&["python3", "socat", "tshark"]) {
        return;
    }
    let file = TempFile::new("capture.pcapng");
    let ns = Netns::new("pcap");
    let stack = Stack::start(&ns, &["--pcap", file.path()]);

    // TCP: handshake, 1 MiB each way through echo, both sides close.
    let echoed = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "1", "1048576"]);
    assert!(echoed.contains("OK conn=0 bytes=1048576"), "{echoed}");
    // UDP: one datagram echoed, one to a closed port (dropped with a reason,
    // answered with ICMP port unreachable).
    let reply = ns.sh_ok(&format!("echo hello-udp | socat -t 2 - UDP:{STACK_ADDR}:7"));
    assert_eq!(reply.trim(), "hello-udp");
    ns.sh_ok(&format!("echo nobody | socat -u - UDP:{STACK_ADDR}:4444"));
    // The final ACK of the TCP close reaches the stack promptly; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let report = stack.stop();

    // Nothing malformed, no bad checksum, no expert error anywhere.
    let problems = tshark(
        file.path(),
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608 || ip.checksum.status == 0 || \
             tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0",
        ],
    );
    assert!(problems.trim().is_empty(), "tshark flags these packets:\n{problems}");
    let everything = tshark(file.path(), &["-V"]);
    for bad in ["Malformed", "Bad checksum", "[Checksum Status: Bad]", "incorrect"] {
        assert!(!everything.contains(bad), "tshark's full decode mentions {bad:?}");
    }

    // Every packet in and out, and only those: the capture matches the counters.
    let directions = fields(file.path(), "frame", &["frame.packet_flags_direction"]);
    let inbound = directions.iter().filter(|d| d[0] == "1" || d[0] == "0x00000001").count() as u64;
    let outbound = directions.iter().filter(|d| d[0] == "2" || d[0] == "0x00000002").count() as u64;
    assert_eq!(inbound + outbound, directions.len() as u64, "every packet has a direction: {directions:?}");
    assert_eq!(inbound, report.counter("ip_rx_packets"), "{}", report.dump());
    assert_eq!(outbound, report.counter("ip_tx_packets"), "{}", report.dump());

    // The TCP conversation: the handshake first, the FIN exchange last.
    let tcp: Vec<Tcp> = fields(file.path(), "tcp", &["frame.packet_flags_direction", "tcp.flags.str", "tcp.len"])
        .into_iter()
        .map(|f| Tcp {
            inbound: f[0] == "1" || f[0] == "0x00000001",
            flags: flag_names(&f[1]),
            len: f[2].parse().unwrap_or(usize::MAX),
        })
        .collect();
    assert!(tcp.len() > 700, "1 MiB each way should take hundreds of segments, got {}", tcp.len());
    let first: Vec<_> = tcp.iter().take(3).map(|t| (t.inbound, t.flags.as_str())).collect();
    assert_eq!(first, [(true, "SYN"), (false, "ACK,SYN"), (true, "ACK")], "the handshake");
    assert!(tcp.iter().all(|t| !t.has("RST")), "no reset in a clean close");
    let fins: Vec<usize> = (0..tcp.len()).filter(|&i| tcp[i].has("FIN")).collect();
    assert_eq!(fins.len(), 2, "one FIN each way: {:?}", fins.iter().map(|&i| &tcp[i]).collect::<Vec<_>>());
    assert_ne!(tcp[fins[0]].inbound, tcp[fins[1]].inbound, "the FINs go both ways");
    // The client half-closes first (its FIN goes in while the echo still flows
    // out); the stack's FIN ends the data, and only its ACK follows.
    assert!(tcp[fins[0]].inbound, "the client closes first: {:?}", tcp[fins[0]]);
    let after = &tcp[fins[1] + 1..];
    assert!(
        !after.is_empty() && after.iter().all(|t| t.flags == "ACK" && t.len == 0 && t.inbound),
        "only the kernel's ACK follows the stack's FIN: {after:?}"
    );
    assert!(tcp[fins[0] + 1..].iter().all(|t| !t.inbound || t.len == 0), "no data in after the client's FIN");

    // UDP: the echoed datagram both ways, and the dropped one with its reason.
    let udp = fields(file.path(), "udp && !icmp", &["frame.packet_flags_direction", "udp.srcport", "udp.dstport"]);
    assert_eq!(udp.len(), 3, "{udp:?}");
    let comments = fields(file.path(), "frame.comment", &["udp.dstport", "frame.comment"]);
    assert_eq!(comments, [vec!["4444".to_string(), "dropped: udp no port".to_string()]]);
    assert_eq!(fields(file.path(), "icmp.type == 3 && icmp.code == 3", &["icmp.type"]).len(), 1);
}

/// `serve --trace-json`: one connection's transitions, in order, as JSON lines.
#[test]
fn trace_json_has_every_state_transition_of_a_connection() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let file = TempFile::new("trace.jsonl");
    let ns = Netns::new("trace");
    let stack = Stack::start(&ns, &["--trace-json", file.path()]);
    let echoed = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "1", "1000"]);
    assert!(echoed.contains("OK conn=0 bytes=1000"), "{echoed}");

    let states = |text: &str| -> Vec<(String, String, String, String)> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|v| v["target"] == "tunstack::tcp::state")
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_string();
                (s("local"), s("remote"), s("from"), s("to"))
            })
            .collect()
    };
    // The last ACK of the close comes a moment after the client is done.
    poll_until("the connection to reach CLOSED", Duration::from_secs(5), || {
        let text = std::fs::read_to_string(file.path()).map_err(|e| e.to_string())?;
        if states(&text).iter().any(|(_, _, _, to)| to == "CLOSED") {
            Ok(())
        } else {
            Err(text)
        }
    });
    drop(stack.stop());

    let text = std::fs::read_to_string(file.path()).expect("the trace file");
    let all = states(&text);
    let (local, remote) = match all.first() {
        Some((l, r, _, _)) => (l.clone(), r.clone()),
        None => panic!("no tunstack::tcp::state events in:\n{text}"),
    };
    assert_eq!(local, format!("{STACK_ADDR}:7"));
    let path: Vec<_> = all
        .iter()
        .filter(|(l, r, _, _)| *l == local && *r == remote)
        .map(|(_, _, from, to)| format!("{from}→{to}"))
        .collect();
    assert_eq!(
        path,
        [
            "LISTEN→SYN-RECEIVED",
            "SYN-RECEIVED→ESTABLISHED",
            "ESTABLISHED→CLOSE-WAIT",
            "CLOSE-WAIT→LAST-ACK",
            "LAST-ACK→CLOSED"
        ],
        "transitions of {local} ↔ {remote}:\n{text}"
    );
    assert!(text.lines().any(|l| l.contains("\"cause\"")), "each transition names its cause:\n{text}");
}
