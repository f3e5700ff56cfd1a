//! `--explain`, the narrated trace (issue 16 item 3): a script from tests/pkt
//! run under `tunstack script --explain` tells each event in plain words, at the
//! script's virtual time, with relative sequence numbers and the rule behind it.
//! Standard error is a pipe here, so the lines carry no colour codes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

fn explain(script: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkt").join(script);
    let out = Command::new(common::tunstack_bin())
        .args(["script", "--explain", &path.display().to_string()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run tunstack script --explain");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{script}: {}\n{stderr}", out.status);
    assert!(!stderr.contains('\u{1b}'), "no ANSI codes into a pipe:\n{stderr}");
    stderr.lines().map(str::to_string).collect()
}

const CONN: &str = "192.168.0.1:8080 ↔ 192.0.2.1:48271";

#[test]
fn handshake_and_retransmission_timeouts_are_narrated() {
    let lines = explain("rto_backoff.pkt");
    let mut want = vec![
        format!("0.000000s {CONN}: LISTEN → SYN-RECEIVED: a SYN arrived at our listener: we answer with SYN,ACK (RFC 9293 §3.5)"),
        format!("0.100000s {CONN}: SYN-RECEIVED → ESTABLISHED: the ACK of our SYN arrived (RFC 9293 §3.5)"),
    ];
    // The script's RTOs: 300 ms from the write at 0.100, then doubling.
    for (at, next) in [("0.400000s", 600), ("1.000000s", 1200), ("2.200000s", 2400)] {
        want.push(format!(
            "{at} {CONN}: the retransmission timer expired with 1000 bytes unacknowledged: cwnd falls to one \
             segment (RFC 5681 §3.1)"
        ));
        want.push(format!(
            "{at} {CONN}: retransmitted seq=1 len=1000: the oldest unacknowledged segment again, after the \
             timeout; the timer now waits {next} ms, double (RFC 6298 §5.4–5.5)"
        ));
    }
    assert_eq!(lines, want);
}

#[test]
fn the_close_and_a_drop_are_narrated() {
    let lines = explain("fin_states.pkt");
    let tail: Vec<&str> = lines.iter().skip(5).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            format!("0.400000s {CONN}: LISTEN → SYN-RECEIVED: a SYN arrived at our listener: we answer with SYN,ACK (RFC 9293 §3.5)"),
            format!("0.500000s {CONN}: SYN-RECEIVED → ESTABLISHED: the ACK of our SYN arrived (RFC 9293 §3.5)"),
            format!("0.500000s {CONN}: ESTABLISHED → FIN-WAIT-1: our program closed: we send a FIN (RFC 9293 §3.6)"),
            format!("0.600000s {CONN}: FIN-WAIT-1 → CLOSING: the peer's FIN crossed ours (simultaneous close) (RFC 9293 §3.6)"),
            format!("0.700000s {CONN}: CLOSING → TIME-WAIT: the ACK of our FIN arrived: both FINs are acknowledged (RFC 9293 §3.6)"),
        ]
    );
    let lines = explain("out_of_window.pkt");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            "0.100000s dropped (tcp out of window): no byte of it falls in the receive window: we answer with an \
             ACK (RFC 9293 §3.10.7.4) [local=192.168.0.1:8080 remote=192.0.2.1:48271]"
        )
    );
    let lines = explain("udp_port_unreachable.pkt");
    assert_eq!(
        lines,
        ["0.200000s dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable \
          (RFC 1122 §4.1.3.1) [port=8080]"]
    );
}

/// In the simulator the narrator stamps events with virtual time: a handshake
/// over a link of 20 ms each way completes at 40 ms for the client and 60 ms
/// for the server, however fast the test runs.
#[test]
fn the_simulator_is_narrated_in_virtual_time() {
    use std::net::SocketAddr;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{EnvFilter, Layer};
    use tunstack::explain::{Explain, TARGETS};
    use tunstack::sim::{LinkConfig, Sim, ADDR_B};

    let buffer = common::Lines::default();
    let narrator = Explain::new(buffer.clone(), false).with_filter(EnvFilter::new(TARGETS));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(narrator));
    let mut sim = Sim::new(LinkConfig { latency: Duration::from_millis(20), ..LinkConfig::default() });
    let server = SocketAddr::from((ADDR_B, 80));
    let listener = sim.b.tcp_listen(server, 1).expect("listen");
    sim.a.tcp_connect(sim.now(), server).expect("connect");
    let accepted = sim.run_until(Duration::from_secs(5), |sim| sim.b.tcp_accept(listener).is_ok());
    assert!(accepted);
    let text = buffer.text();
    let said: Vec<(&str, &str)> =
        text.lines().map(|l| (l.split(' ').next().unwrap_or(""), l.split(": ").nth(1).unwrap_or(""))).collect();
    assert_eq!(
        said,
        [
            ("0.000000s", "CLOSED → SYN-SENT"),
            ("0.020000s", "LISTEN → SYN-RECEIVED"),
            ("0.040000s", "SYN-SENT → ESTABLISHED"),
            ("0.060000s", "SYN-RECEIVED → ESTABLISHED"),
        ],
        "{text}"
    );
}

/// `serve --explain` against the kernel: a connection's life told in words,
/// stamped with seconds since `serve` started, plain text into a pipe; a UDP
/// datagram to a closed port explained as the ICMP answer it gets.
#[test]
fn serve_explains_a_kernel_connection() {
    if !common::require_e2e(&["python3", "socat"]) {
        return;
    }
    let ns = common::Netns::new("explain");
    let stack = common::Stack::start(&ns, &["--explain"]);
    let echoed = ns.python("tcp_echo.py", &[common::STACK_ADDR, "7", "1", "1000"]);
    assert!(echoed.contains("OK conn=0 bytes=1000"), "{echoed}");
    ns.sh_ok(&format!("echo nobody | socat -u - UDP:{}:4444", common::STACK_ADDR));
    let said = common::poll_until("the close and the drop narrated", std::time::Duration::from_secs(10), || {
        let text = stack.stderr_now();
        if text.contains("LAST-ACK → CLOSED") && text.contains("dropped (udp no port)") {
            Ok(text)
        } else {
            Err(text)
        }
    });
    assert!(!said.contains('\u{1b}'), "no ANSI codes into a pipe:\n{said}");
    for words in [
        "LISTEN → SYN-RECEIVED: a SYN arrived at our listener: we answer with SYN,ACK (RFC 9293 §3.5)",
        "SYN-RECEIVED → ESTABLISHED: the ACK of our SYN arrived (RFC 9293 §3.5)",
        "ESTABLISHED → CLOSE-WAIT: the peer's FIN arrived: it sends no more, we still may (RFC 9293 §3.6)",
        "dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable",
    ] {
        let line = said.lines().find(|l| l.contains(words)).unwrap_or_else(|| panic!("{words:?} in\n{said}"));
        let stamp = line.split(' ').next().unwrap_or_default();
        let seconds = stamp.strip_suffix('s').and_then(|s| s.parse::<f64>().ok());
        assert!(seconds.is_some_and(|s| s < 600.0), "seconds since serve started: {line}");
    }
    stack.stop();
}
