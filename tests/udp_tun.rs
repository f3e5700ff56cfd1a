//! End-to-end tests: the real Linux kernel talks to `tunstack serve` through a
//! TUN, each test in a network namespace of its own (so they run in
//! parallel). Kernel side 198.18.0.1/24 on tun0, stack 198.18.0.2.
//!
//! Without root / `/dev/net/tun` / `ip netns` these are SKIPPED loudly, or
//! fail when CI=true (see tests/common/mod.rs).

mod common;

use common::{poll_until, require_e2e, Netns, Stack, StopReport, STACK_ADDR, TUN};
use std::time::Duration;

/// Every counter the tests (and the README) rely on.
const CONTRACT_COUNTERS: &[&str] = &[
    "ip_rx_packets",
    "ip_rx_bad_checksum",
    "ip_rx_truncated",
    "ip_rx_bad_total_len",
    "ip_rx_bad_version",
    "ip_frag_reassembled",
    "icmp_tx_echo_reply",
    "icmp_tx_dest_unreachable",
    "udp_rx",
    "udp_rx_bad_checksum",
    "udp_rx_no_port",
    "udp_rx_queue_full",
    "udp_rx_delivered",
    "udp_tx",
];

/// Asserts `counter == expected` with the whole report on failure.
fn assert_counter(r: &StopReport, name: &str, expected: u64) {
    let got = r.counter(name);
    assert_eq!(got, expected, "counter {name}: expected {expected}, got {got}\n{}", r.dump());
}

fn assert_socket(r: &StopReport, key: &str, received: u64, dropped: u64) {
    let s = r.socket(key);
    assert_eq!(
        (s.received, s.dropped),
        (received, dropped),
        "socket {key}: expected received={received} dropped={dropped}\n{}",
        r.dump()
    );
}

fn assert_ok_lines(out: &str, expected: &[&str]) {
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("OK")).collect();
    assert_eq!(got, expected, "helper output:\n{out}");
}

#[test]
fn udp_echo_is_byte_exact_including_fragmented_datagrams() {
    if !require_e2e(&["python3", "socat"]) {
        return;
    }
    let ns = Netns::new("echo");
    let stack = Stack::start(&ns, &[]);

    let mut listening: Vec<_> = stack.listening().into_iter().filter(|l| l.starts_with("udp/")).collect();
    listening.sort();
    assert_eq!(
        listening,
        ["udp/13 daytime", "udp/19 chargen", "udp/7 echo", "udp/9 discard"],
        "the `listening {{proto}}/{{port}} {{name}}` lines before `ready`: {:?}",
        stack.startup
    );

    // 4000 bytes is fragmented by the kernel (MTU 1500) and must be
    // reassembled by the stack, and the echo fragmented by the stack.
    let out = ns.python("udp_echo.py", &[STACK_ADDR, "7", "0", "1", "1472", "4000"]);
    assert_ok_lines(&out, &["OK size=0", "OK size=1", "OK size=1472", "OK size=4000"]);

    // The acceptance criterion, verbatim.
    let out = ns.sh_ok("printf 'hello tunstack\\n' | socat -t 2 - UDP:198.18.0.2:7");
    assert_eq!(out, "hello tunstack\n", "socat - UDP:198.18.0.2:7 did not echo the line");

    let r = stack.stop();
    for name in CONTRACT_COUNTERS {
        r.counter(name);
    }
    for (key, name) in [("udp/7", "echo"), ("udp/9", "discard"), ("udp/13", "daytime"), ("udp/19", "chargen")] {
        assert_eq!(r.socket(key).name, name, "{}", r.dump());
    }
    // Five datagrams to port 7 (four from Python, one from socat), no other
    // UDP in this namespace.
    assert_socket(&r, "udp/7", 5, 0);
    assert_socket(&r, "udp/9", 0, 0);
    assert_counter(&r, "udp_rx", 5);
    assert_counter(&r, "udp_rx_delivered", 5);
    assert_counter(&r, "udp_tx", 5);
    assert_counter(&r, "ip_frag_reassembled", 1);
    assert_counter(&r, "udp_rx_bad_checksum", 0);
    assert_counter(&r, "udp_rx_no_port", 0);
    assert_counter(&r, "udp_rx_queue_full", 0);
    assert_counter(&r, "ip_rx_bad_checksum", 0);
    assert_counter(&r, "ip_rx_truncated", 0);
    assert_counter(&r, "ip_rx_bad_total_len", 0);
}

#[test]
fn udp_discard_flood_every_datagram_is_accounted_for() {
    if !require_e2e(&["python3"]) {
        return;
    }
    const COUNT: u64 = 10_000;
    let ns = Netns::new("flood");
    let stack = Stack::start(&ns, &["--udp-queue", "64"]);

    let before = ns.link_stats(TUN);
    let out = ns.python(
        "udp_flood.py",
        &[STACK_ADDR, "9", "--count", &COUNT.to_string(), "--size", "512", "--max-seconds", "30"],
    );
    assert!(out.starts_with(&format!("sent={COUNT} ")), "flood sender: {out}");

    // Every flood packet either was read by the stack (tx_packets) or was
    // dropped by the kernel because the TUN's queue was full (tx_dropped).
    let after =
        poll_until("the kernel to hand all flood packets to the stack or drop them", Duration::from_secs(30), || {
            let s = ns.link_stats(TUN);
            let handled = (s.tx_packets - before.tx_packets) + (s.tx_dropped - before.tx_dropped);
            if handled >= COUNT {
                Ok(s)
            } else {
                Err(format!("{handled}/{COUNT} handled; before {before:?}, now {s:?}"))
            }
        });
    let kernel_dropped = after.tx_dropped - before.tx_dropped;
    let read_by_stack = after.tx_packets - before.tx_packets;
    assert_eq!(
        read_by_stack + kernel_dropped,
        COUNT,
        "tun0 carried traffic other than the flood: before {before:?}, after {after:?}"
    );
    let reached = COUNT - kernel_dropped;

    // An echo round trip after the flood: the stack has processed all it read
    // before it.
    let out = ns.python("udp_echo.py", &[STACK_ADDR, "7", "32"]);
    assert_ok_lines(&out, &["OK size=32"]);

    let r = stack.stop();
    let discard = r.socket("udp/9").clone();
    eprintln!(
        "flood: sent {COUNT}, kernel tun0 tx_dropped {kernel_dropped}, reached the stack {reached}, \
         discard received {} dropped {}",
        discard.received, discard.dropped
    );
    if discard.dropped == 0 {
        eprintln!("note: the discard socket's queue never overflowed in this run");
    }
    assert_eq!(
        discard.received + discard.dropped,
        reached,
        "udp/9 received ({}) + dropped ({}) must equal the datagrams that reached the stack \
         ({COUNT} sent - {kernel_dropped} dropped by the kernel): some vanished uncounted\n{}",
        discard.received,
        discard.dropped,
        r.dump()
    );
    assert_counter(&r, "udp_rx_queue_full", discard.dropped);
    assert_socket(&r, "udp/7", 1, 0);
    assert_counter(&r, "udp_rx", reached + 1);
    assert_counter(&r, "udp_rx_delivered", discard.received + 1);
    assert_counter(&r, "udp_rx_no_port", 0);
    assert_counter(&r, "udp_rx_bad_checksum", 0);
}

#[test]
fn icmp_echo_replies_including_fragmented() {
    if !require_e2e(&["ping"]) {
        return;
    }
    let ns = Netns::new("ping");
    let stack = Stack::start(&ns, &[]);

    let out = ns.run_ok("ping", &["-c", "3", "-W", "2", STACK_ADDR]);
    assert!(out.contains("3 packets transmitted, 3 received"), "ping -c 3:\n{out}");

    // 4000 bytes of ICMP data: fragmented by the kernel, reassembled by the
    // stack, and the reply fragmented by the stack.
    let out = ns.run_ok("ping", &["-c", "1", "-W", "5", "-s", "4000", STACK_ADDR]);
    assert!(out.contains("1 packets transmitted, 1 received"), "ping -s 4000:\n{out}");
    assert!(out.contains("4008 bytes from 198.18.0.2"), "ping -s 4000 reply size:\n{out}");

    let r = stack.stop();
    assert_counter(&r, "icmp_tx_echo_reply", 4);
    assert_counter(&r, "ip_frag_reassembled", 1);
}

#[test]
fn udp_to_closed_port_is_refused_with_icmp_port_unreachable() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("refused");
    let stack = Stack::start(&ns, &[]);

    let out = ns.python("udp_refused.py", &[STACK_ADDR, "9999"]);
    assert_eq!(out.trim(), "REFUSED");

    let r = stack.stop();
    assert_counter(&r, "udp_rx_no_port", 1);
    assert_counter(&r, "icmp_tx_dest_unreachable", 1);
    assert_counter(&r, "udp_rx_delivered", 0);
}

#[test]
fn malformed_packets_are_counted_and_dropped_and_the_stack_survives() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("malformed");
    let stack = Stack::start(&ns, &[]);

    let out = ns.python("raw_inject.py", &["--dev", TUN, "all"]);
    let sent: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(
        sent,
        ["bad_ip_checksum", "truncated", "bad_udp_checksum", "bad_total_len", "bad_version"],
        "raw_inject.py output:\n{out}"
    );

    // Still alive and well (and, the stack processing in order, it has
    // looked at every injected packet by the time this echo comes back).
    let out = ns.python("udp_echo.py", &[STACK_ADDR, "7", "1", "100"]);
    assert_ok_lines(&out, &["OK size=1", "OK size=100"]);

    let r = stack.stop();
    // The kernel itself never sends any of these, so each is exactly one.
    assert_counter(&r, "ip_rx_bad_checksum", 1);
    assert_counter(&r, "ip_rx_truncated", 1);
    assert_counter(&r, "udp_rx_bad_checksum", 1);
    assert_counter(&r, "ip_rx_bad_total_len", 1);
    assert_counter(&r, "ip_rx_bad_version", 1);
    // None of the bad datagrams to port 7 was delivered or answered.
    assert_socket(&r, "udp/7", 2, 0);
    assert_counter(&r, "udp_rx", 2);
    assert_counter(&r, "udp_tx", 2);
    assert_counter(&r, "icmp_tx_dest_unreachable", 0);
}

#[test]
fn daytime_and_chargen_answer() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("svc");
    let stack = Stack::start(&ns, &[]);

    let out = ns.python("udp_services.py", &["daytime", STACK_ADDR]);
    assert!(out.starts_with("OK daytime "), "daytime: {out}");

    let out = ns.python("udp_services.py", &["chargen", STACK_ADDR]);
    assert!(out.starts_with("OK chargen "), "chargen: {out}");
    let body: String = out.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        !body.is_empty() && body.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\r'),
        "chargen body is not printable ASCII: {body:?}"
    );

    let r = stack.stop();
    assert_socket(&r, "udp/13", 1, 0);
    assert_socket(&r, "udp/19", 1, 0);
    assert_counter(&r, "udp_tx", 2);
}
