//! TCP over a bad link, against the real Linux kernel: the stack's seeded fault
//! injector loses, reorders, duplicates and delays packets in both directions, and
//! the kernel itself drops 5 % of what it sends into the TUN (iptables
//! `statistic`). This kernel has no netem; these two are the faults we have.

mod common;

use common::{require_e2e, Netns, Stack};

const STACK_ADDR: &str = "198.18.0.2";

/// The acceptance: 100 MiB of random bytes echoed through port 7 over 8
/// connections at once, every byte back and the hashes equal, on a link with 5 %
/// loss, 25 % reordering, 1 % duplication and 5 ms delay (netem's vocabulary),
/// plus the kernel-side drops.
#[test]
fn echo_100_mib_survives_loss_reordering_duplication_delay_and_kernel_drops() {
    if !require_e2e(&["python3", "iptables"]) {
        return;
    }
    let ns = Netns::new("tfault");
    let stack = Stack::start(
        &ns,
        &["--loss", "0.05", "--reorder", "0.25", "--duplicate", "0.01", "--delay", "5", "--seed", "11"],
    );
    ns.sh_ok("iptables -A OUTPUT -o tun0 -m statistic --mode random --probability 0.05 -j DROP");

    const CONNS: u64 = 8;
    const TOTAL: u64 = 100 * 1024 * 1024;
    let out = ns.python("tcp_echo.py", &[STACK_ADDR, "7", &CONNS.to_string(), &(TOTAL / CONNS).to_string()]);
    assert_eq!(out.lines().filter(|l| l.starts_with("OK conn=")).count(), CONNS as usize, "{out}");

    // The kernel really dropped packets: the rule's packet counter is the first field.
    let rule = ns.sh_ok("iptables -L OUTPUT -v -n -x | grep DROP");
    let kernel_drops: u64 = rule.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(kernel_drops > 1000, "the iptables rule should have dropped thousands of packets: {rule}");

    let r = stack.stop();
    assert_eq!(r.counter("tcp_rx_bytes"), TOTAL, "{}", r.dump());
    assert_eq!(r.counter("tcp_tx_bytes"), TOTAL, "{}", r.dump());
    assert_eq!(r.counter("tcp_established"), CONNS, "{}", r.dump());
    assert_eq!(r.counter("tcp_resets") + r.counter("tcp_timeouts"), 0, "no connection may fail\n{}", r.dump());
    // Loss recovery did the work, and mostly without waiting for timeouts.
    assert!(r.counter("tcp_segments_lost") > 1000, "{}", r.dump());
    assert!(r.counter("tcp_tx_retransmits") > 1000, "{}", r.dump());
    assert!(r.counter("tcp_rx_dsack") > 0 && r.counter("tcp_tx_dsack") > 0, "{}", r.dump());
    assert!(r.counter("tcp_rto_expired") < r.counter("tcp_segments_lost") / 2, "{}", r.dump());
}
