//! End-to-end TCP tests against the real Linux kernel through the TUN, each in its
//! own network namespace: the kernel's curl, socat and Python sockets are the peers.

mod common;

use common::{require_e2e, Netns, Stack};

const STACK_ADDR: &str = "198.18.0.2";

/// SHA-256 of the `/bytes/N` pattern (0, 1, …, 255, 0, …), computed by Python.
fn pattern_sha256(ns: &Netns, n: u64) -> String {
    ns.sh_ok(&format!(
        "python3 -c 'import hashlib; b=bytes(range(256))*({n}//256)+bytes(range({n}%256)); print(hashlib.sha256(b).hexdigest())'"
    ))
    .trim()
    .to_string()
}

#[test]
fn http_index_and_download_are_byte_exact() {
    if !require_e2e(&["curl", "python3", "sha256sum"]) {
        return;
    }
    let ns = Netns::new("http");
    let stack = Stack::start(&ns, &[]);
    let index = ns.sh_ok(&format!("curl -sS --max-time 10 -i http://{STACK_ADDR}/"));
    assert!(index.starts_with("HTTP/1.1 200 OK"), "index response:\n{index}");
    assert!(index.contains("<h1>tunstack</h1>"), "index body:\n{index}");

    const N: u64 = 32 * 1024 * 1024;
    let got = ns.sh_ok(&format!("curl -sS --max-time 60 http://{STACK_ADDR}/bytes/{N} | sha256sum"));
    assert_eq!(got.split_whitespace().next(), Some(pattern_sha256(&ns, N).as_str()), "32 MiB download differs");

    let missing =
        ns.sh_ok(&format!("curl -sS --max-time 10 -o /dev/null -w '%{{http_code}}' http://{STACK_ADDR}/nope"));
    assert_eq!(missing, "404");

    let r = stack.stop();
    assert_eq!(r.counter("tcp_passive_opens"), 3, "{}", r.dump());
    assert_eq!(r.counter("tcp_established"), 3, "{}", r.dump());
    assert!(r.counter("tcp_tx_bytes") >= N, "{}", r.dump());
    assert_eq!(r.counter("tcp_rx_bad_checksum"), 0);
}

#[test]
fn echo_with_eight_concurrent_connections_is_byte_exact() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("techo");
    let stack = Stack::start(&ns, &[]);
    let out = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "8", &(2 * 1024 * 1024).to_string()]);
    assert_eq!(out.lines().filter(|l| l.starts_with("OK conn=")).count(), 8, "{out}");
    let r = stack.stop();
    assert_eq!(r.counter("tcp_rx_bytes"), 8 * 2 * 1024 * 1024, "{}", r.dump());
    assert_eq!(r.counter("tcp_established"), 8);
}

#[test]
fn closed_port_is_refused_and_tcp_and_udp_ports_are_independent() {
    if !require_e2e(&["socat"]) {
        return;
    }
    let ns = Netns::new("trst");
    let stack = Stack::start(&ns, &[]);
    let out = ns.sh_ok(&format!("socat -t 2 - TCP:{STACK_ADDR}:5555 </dev/null 2>&1 || true"));
    assert!(out.contains("Connection refused"), "expected a refusal, got: {out}");
    // TCP 13 and UDP 13 are different ports of different namespaces; both answer.
    let tcp = ns.sh_ok(&format!("socat -t 2 - TCP:{STACK_ADDR}:13 </dev/null"));
    let udp = ns.sh_ok(&format!("printf '\\n' | socat -t 2 - UDP:{STACK_ADDR}:13"));
    assert!(tcp.trim_end().ends_with("-UTC") && udp.trim_end().ends_with("-UTC"), "tcp: {tcp:?} udp: {udp:?}");
    let r = stack.stop();
    assert_eq!(r.counter("tcp_rx_no_socket"), 1, "{}", r.dump());
    assert_eq!(r.counter("tcp_tx_rst"), 1, "{}", r.dump());
}

#[test]
fn echo_survives_loss_reordering_duplication_and_delay() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("tfault");
    let stack = Stack::start(
        &ns,
        &["--loss", "0.05", "--reorder", "0.25", "--duplicate", "0.01", "--delay", "5", "--seed", "11"],
    );
    let out = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "2", &(512 * 1024).to_string()]);
    assert_eq!(out.lines().filter(|l| l.starts_with("OK conn=")).count(), 2, "{out}");
    let r = stack.stop();
    assert!(r.counter("tcp_tx_retransmits") > 0, "faults should force retransmissions\n{}", r.dump());
    assert_eq!(r.counter("tcp_rx_bytes"), 2 * 512 * 1024);
}
