//! End-to-end TCP tests under load and scrutiny, against the real Linux kernel
//! through the TUN, each in its own network namespace:
//!
//! * 500 kernel connections open at once, exchange data, close, and leave no
//!   connection behind once TIME-WAIT has passed;
//! * 2,000 connection attempts against a listener that never accepts: the
//!   backlog bounds the connections, and memory does not grow;
//! * `nmap -sS` sees exactly the TCP ports `serve` says it listens on.
//!
//! Every step is bounded; the counts are fixed and small enough for a debug build.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use common::{helper, require_e2e, Netns, Stack, STACK_ADDR};

/// Reads `child`'s stdout line by line on a thread, so the test can wait for a
/// line with a timeout.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (bounded) for the line `expected` from a helper; panics with the
/// helper's stderr otherwise.
fn expect_line(child: &mut Child, lines: &mpsc::Receiver<String>, expected: &str, timeout: Duration) {
    match lines.recv_timeout(timeout) {
        Ok(line) if line == expected => {}
        other => {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("expected {expected:?} from the helper within {timeout:?}, got {other:?}; its stderr:\n{err}");
        }
    }
}

#[test]
fn five_hundred_concurrent_connections_leave_no_connection_behind() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("tmany");
    // TIME-WAIT lasts 2 × MSL: 4 s here instead of a minute; still longer than
    // the kernel's retransmission timeout, so a lost last ACK is answered by
    // TIME-WAIT re-acknowledging the FIN and not by a RST (see tcp_link.rs).
    let mut stack = Stack::start(&ns, &["--msl-ms", "2000"]);

    // 500 connections to echo, all established before any data moves, 4 KiB of
    // random bytes each way on each, checked byte for byte. The kernel closes
    // first (half-close, then the echo server's FIN): the stack passes through
    // CLOSE-WAIT and LAST-ACK.
    const N: u64 = 500;
    const SIZE: u64 = 4096;
    let out = ns.python("tcp_many.py", &[STACK_ADDR, "7", &N.to_string(), &SIZE.to_string()]);
    assert!(out.contains(&format!("OK connections={N} bytes={}", N * SIZE)), "{out}");

    // 500 connections to daytime, where the stack speaks and closes first: every
    // one of them goes through TIME-WAIT on the stack's side.
    let out = ns.python("tcp_many.py", &[STACK_ADDR, "13", &N.to_string(), "0"]);
    assert!(out.contains(&format!("OK connections={N} bytes=0")), "{out}");

    let first = stack.snapshot();
    eprintln!(
        "right after the clients finished: connections {} time_wait {}",
        first.tcp("connections"),
        first.tcp("time_wait")
    );
    let drained =
        stack.wait_for_snapshot("every connection to be freed after TIME-WAIT", Duration::from_secs(20), |s| {
            s.tcp("connections") == 0
        });
    assert_eq!(drained.tcp("ephemeral_ports"), 0, "{}", drained.text);
    assert_eq!(drained.tcp("listeners"), 5, "{}", drained.text);

    let r = stack.stop();
    assert_eq!(r.tcp("connections"), 0, "{}", r.dump());
    assert_eq!(r.tcp("ephemeral_ports"), 0, "{}", r.dump());
    assert_eq!(r.counter("tcp_established"), 2 * N, "{}", r.dump());
    assert_eq!(r.counter("tcp_closed"), 2 * N, "every connection freed once\n{}", r.dump());
    assert_eq!(r.counter("tcp_rx_bytes"), N * SIZE, "{}", r.dump());
    assert_eq!(r.counter("tcp_resets"), 0, "no connection may end in a reset\n{}", r.dump());
}

#[test]
fn a_listener_that_never_accepts_stays_bounded_under_2000_attempts() {
    if !require_e2e(&["python3"]) {
        return;
    }
    // Bounds of `serve`'s default StackConfig (DESIGN.md, "Bounds").
    const SYN_BACKLOG: u64 = 256;
    const ACCEPT_BACKLOG: u64 = 128;
    /// How much the serve process's RSS may grow during the attempts.
    const RSS_GROWTH_BOUND_KIB: u64 = 16 * 1024;
    const ATTEMPTS: u64 = 2000;
    const PORT: &str = "8000";

    let ns = Netns::new("tbacklog");
    let mut stack = Stack::start(&ns, &["--no-accept", PORT]);
    assert!(stack.listening().iter().any(|l| l == "tcp/8000 no-accept"), "{:?}", stack.listening());
    let rss_before = stack.vm_rss_kib();

    let mut flood = ns.spawn("python3", &[&helper("tcp_syn_flood.py"), STACK_ADDR, PORT, &ATTEMPTS.to_string()]);
    let lines = stdout_lines(&mut flood);
    expect_line(&mut flood, &lines, &format!("opened {ATTEMPTS}"), Duration::from_secs(30));

    // Every attempt's first SYN has arrived once each one either started a
    // half-open connection, was answered with a SYN cookie (the half-open queue
    // full) or was dropped (the accept queue full). A retransmitted SYN of a
    // half-open connection goes to that connection, not to the listener.
    stack.wait_for_snapshot("the stack to see every connection attempt", Duration::from_secs(30), |s| {
        s.counter("tcp_passive_opens") + s.counter("tcp_listen_overflow") + s.counter("tcp_syncookies_sent") >= ATTEMPTS
    });

    // Watch a while longer as the kernel retransmits its SYNs and completes
    // handshakes: at no sample may the stack hold more than the backlogs allow.
    // Half-open: the SYN backlog, plus — since SYN cookies — at most an accept
    // backlog's worth of peers whose valid cookie found the accept queue full and
    // who wait for room there (DESIGN.md, "Bounds").
    let mut peak_connections = 0;
    let mut peak_rss = 0;
    let mut last = None;
    for _ in 0..15 {
        let s = stack.snapshot();
        let rss = stack.vm_rss_kib();
        assert!(s.tcp("syn_received") <= SYN_BACKLOG + ACCEPT_BACKLOG, "half-open beyond the bound:\n{}", s.text);
        assert!(
            s.tcp("connections") <= SYN_BACKLOG + 2 * ACCEPT_BACKLOG,
            "more connections than the backlogs allow:\n{}",
            s.text
        );
        peak_connections = peak_connections.max(s.tcp("connections"));
        peak_rss = peak_rss.max(rss);
        last = Some(s);
        std::thread::sleep(Duration::from_millis(200)); // sampling interval, not a wait for an event
    }
    let last = last.expect("at least one sample");
    assert!(last.counter("tcp_listen_overflow") > 0, "2,000 attempts must overflow the backlog:\n{}", last.text);
    let growth = peak_rss.saturating_sub(rss_before);
    eprintln!(
        "no-accept listener: peak connections {peak_connections}, listen overflows {}, \
         VmRSS {rss_before} KiB before, peak {peak_rss} KiB (+{growth} KiB)",
        last.counter("tcp_listen_overflow")
    );
    assert!(
        growth < RSS_GROWTH_BOUND_KIB,
        "VmRSS grew by {growth} KiB (from {rss_before} to {peak_rss}), bound {RSS_GROWTH_BOUND_KIB} KiB"
    );

    let mut stdin = flood.stdin.take().expect("piped stdin");
    writeln!(stdin, "close").expect("tell the helper to close its sockets");
    expect_line(&mut flood, &lines, "closed", Duration::from_secs(30));
    let status = flood.wait().expect("wait for the helper");
    assert!(status.success(), "tcp_syn_flood.py exited with {status}");

    let r = stack.stop();
    assert!(r.tcp("connections") <= SYN_BACKLOG + 2 * ACCEPT_BACKLOG, "{}", r.dump());
    assert!(r.counter("tcp_listen_overflow") > 0, "{}", r.dump());
}

/// The open ports of nmap's grepable output (`-oG -`): the `Ports:` field lists
/// `port/state/protocol/owner/service/rpc/version` entries separated by `, `.
fn nmap_open_tcp_ports(grepable: &str) -> Vec<u16> {
    let mut open = Vec::new();
    for line in grepable.lines().filter(|l| l.starts_with("Host:")) {
        let Some(ports) = line.split('\t').find_map(|field| field.strip_prefix("Ports: ")) else {
            continue;
        };
        for entry in ports.split(", ") {
            let fields: Vec<&str> = entry.trim().split('/').collect();
            if let [port, "open", "tcp", ..] = fields[..] {
                open.push(port.parse().unwrap_or_else(|e| panic!("bad port in nmap entry {entry:?}: {e}")));
            }
        }
    }
    open.sort_unstable();
    open
}

#[test]
fn parses_nmap_grepable_output() {
    let out = "# Nmap 7.93 scan initiated\n\
        Host: 198.18.0.2 ()\tStatus: Up\n\
        Host: 198.18.0.2 ()\tPorts: 7/open/tcp//echo///, 9/open/tcp//discard///, 22/closed/tcp//ssh///, \
        80/open/tcp//http///\tIgnored State: closed (1020)\n\
        # Nmap done\n";
    assert_eq!(nmap_open_tcp_ports(out), vec![7, 9, 80]);
}

#[test]
fn nmap_syn_scan_finds_exactly_the_listening_ports() {
    if !require_e2e(&["nmap"]) {
        return;
    }
    let ns = Netns::new("tnmap");
    let stack = Stack::start(&ns, &[]);
    let listening = stack.listening_tcp_ports();
    assert_eq!(listening, vec![7, 9, 13, 19, 80], "serve's `listening tcp/…` lines changed: {:?}", stack.listening());

    // -Pn: no host discovery (the stack is there); -n: no DNS. The scan stays in
    // the namespace: 198.18.0.2 is routed into tun0 and nowhere else.
    let out = ns.run_ok("nmap", &["-sS", "-Pn", "-n", "-p", "1-1024", STACK_ADDR, "-oG", "-"]);
    assert_eq!(nmap_open_tcp_ports(&out), listening, "nmap's open ports differ from serve's\n{out}");

    let r = stack.stop();
    // Every closed port among the 1,024 was answered with a RST (nmap may probe
    // a port more than once, never less).
    assert!(r.counter("tcp_rx_no_socket") >= 1024 - 5, "{}", r.dump());
    assert_eq!(r.tcp("connections"), 0, "{}", r.dump());
}
