//! TCP for hostile and long-lived networks, against the real Linux kernel through
//! the TUN, each test in its own network namespace:
//!
//! * a SYN flood from spoofed sources is answered with SYN cookies while four
//!   kernel clients move 32 MiB each through echo, byte-exact, and curl gets the
//!   index page during and after the flood;
//! * keepalive notices a kernel peer that vanished (iptables drops its packets)
//!   `idle + count × interval` after it last spoke, and the user timeout ends a
//!   busy connection to one;
//! * path MTU discovery: a router (the namespace's kernel) with a 1280-byte route
//!   to the client makes the stack lower its MSS from the ICMP, and with that
//!   ICMP dropped, black-hole detection still completes a 32 MiB download;
//! * ICMP errors: `tunstack connect` to an address the router calls unreachable
//!   reports it at once; an unknown IP protocol gets protocol unreachable.
//!
//! Every step is bounded: floods by packet count, waits by deadlines.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{helper, require_e2e, tunstack_bin, Netns, Stack, STACK_ADDR, TUN};

/// Waits (bounded) for `child`'s first stdout line and checks it.
fn first_line(child: &mut Child, expected: &str) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
    });
    let got = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    assert_eq!(got.trim(), expected, "the helper's first line");
}

/// Drop every packet between the namespace's kernel and the TUN, both ways: the
/// stack's peer vanishes without a word.
fn vanish(ns: &Netns) {
    ns.sh_ok(&format!("iptables -A INPUT -i {TUN} -j DROP && iptables -A OUTPUT -o {TUN} -j DROP"));
}

/// SHA-256 and length of the `/bytes/N` pattern, as `hash_stdin.py` prints them.
fn pattern(ns: &Netns, n: u64) -> String {
    ns.sh_ok(&format!(
        "python3 -c 'import hashlib; b=bytes(range(256))*({n}//256)+bytes(range({n}%256)); print(len(b), hashlib.sha256(b).hexdigest())'"
    ))
    .trim()
    .to_string()
}

#[test]
fn keepalive_notices_a_vanished_peer_after_idle_plus_count_times_interval() {
    if !require_e2e(&["python3", "iptables"]) {
        return;
    }
    let ns = Netns::new("kalive");
    // Idle 3 s, then 3 probes 1 s apart: given up 6 s after the peer last spoke.
    let mut stack = Stack::start(&ns, &["--keepalive", "3,1,3"]);
    let mut client = ns.spawn("python3", &[&helper("tcp_reader.py"), STACK_ADDR, "9"]);
    first_line(&mut client, "connected");
    stack.wait_for_snapshot("the discard connection", Duration::from_secs(10), |s| s.tcp("established") == 1);
    // The handshake's last ACK was the peer's last word: vanish right after it.
    vanish(&ns);
    let vanished = Instant::now();
    stack.wait_for_snapshot("keepalive to give up", Duration::from_secs(20), |s| s.counter("tcp_timeouts") >= 1);
    let took = vanished.elapsed();
    let snap = stack.snapshot();
    assert_eq!(snap.counter("tcp_keepalive_probes"), 3, "{}", snap.text);
    // Stated tolerance: the 6 s run from the handshake's ACK (just before the
    // vanishing), plus the snapshot polling (100 ms) and a busy machine's slack.
    assert!(took >= Duration::from_millis(5_500) && took <= Duration::from_secs(8), "gave up after {took:?}");
    let _ = client.kill();
    let _ = client.wait();
}

#[test]
fn the_user_timeout_ends_a_busy_connection_to_a_vanished_peer() {
    if !require_e2e(&["python3", "iptables"]) {
        return;
    }
    let ns = Netns::new("utime");
    let mut stack = Stack::start(&ns, &["--user-timeout-ms", "3000"]);
    // chargen (19) sends without pause: data is always in flight.
    let mut client = ns.spawn("python3", &[&helper("tcp_reader.py"), STACK_ADDR, "19"]);
    first_line(&mut client, "connected");
    stack.wait_for_snapshot("the chargen connection", Duration::from_secs(10), |s| s.counter("tcp_tx_bytes") > 100_000);
    vanish(&ns);
    let vanished = Instant::now();
    stack.wait_for_snapshot("the user timeout", Duration::from_secs(20), |s| s.counter("tcp_timeouts") >= 1);
    let took = vanished.elapsed();
    // 3 s after the last acknowledged data, which is at most a round trip (well
    // under 100 ms here) before the vanishing; plus polling and slack.
    assert!(took >= Duration::from_millis(2_800) && took <= Duration::from_secs(5), "gave up after {took:?}");
    let _ = client.kill();
    let _ = client.wait();
}

#[test]
fn a_syn_flood_is_answered_with_cookies_while_real_clients_carry_on() {
    if !require_e2e(&["python3", "hping3", "curl", "iptables"]) {
        return;
    }
    let ns = Netns::new("synflood");
    let mut stack = Stack::start(&ns, &[]);
    let rss_before = stack.vm_rss_kib();
    // The kernel would answer our SYN,ACKs to the spoofed sources with RST if it
    // could route them; make sure none interferes (the clients below close with FIN).
    ns.sh_ok(&format!("iptables -A OUTPUT -o {TUN} -p tcp --tcp-flags RST RST -j DROP"));
    // 40,000 spoofed SYNs at port 80, 25 µs apart (about 1 s plus hping3's start).
    let mut flood =
        ns.spawn("hping3", &["-q", "-S", "-p", "80", "--rand-source", "-c", "40000", "-i", "u25", STACK_ADDR]);
    stack.wait_for_snapshot("the flood to fill the half-open queue", Duration::from_secs(20), |s| {
        s.counter("tcp_syncookies_sent") > 0
    });
    // During the flood: the index page, and four echo transfers of 32 MiB each.
    let index = ns.sh_ok(&format!("curl -sS --max-time 20 http://{STACK_ADDR}/"));
    assert!(index.contains("<h1>tunstack</h1>"), "index during the flood:\n{index}");
    let echoed = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "4", &(32 << 20).to_string()]);
    assert_eq!(echoed.lines().filter(|l| l.starts_with("OK ")).count(), 4, "{echoed}");
    let status = flood.wait().expect("hping3 ends by itself");
    assert!(status.success() || status.code() == Some(1), "hping3: {status}");
    // After it: still served.
    let index = ns.sh_ok(&format!("curl -sS --max-time 20 http://{STACK_ADDR}/"));
    assert!(index.contains("<h1>tunstack</h1>"), "index after the flood:\n{index}");
    let snap = stack.snapshot();
    assert!(snap.counter("tcp_syncookies_sent") > 1000, "{}", snap.text);
    let rss_after = stack.vm_rss_kib();
    // Bounded memory: a flood costs no state per SYN beyond the half-open queue.
    assert!(rss_after < rss_before + 96 * 1024, "resident {rss_before} KiB → {rss_after} KiB");
    let text = ns.run_ok(&tunstack_bin(), &["stats"]);
    assert!(text.lines().any(|l| l.trim_start().starts_with("tcp_syncookies_sent")), "{text}");
}

/// A second namespace for the client, routed through the first one's kernel
/// over a veth pair whose route to the client has MTU 1280: the kernel is a
/// router that must refuse our 1500-byte segments (DF set).
fn routed_client(router: &Netns, tag: &str) -> Netns {
    let client = Netns::new(tag);
    let veth = format!("v{}", std::process::id() % 100_000);
    router.sh_ok(&format!(
        "ip link add {veth}a type veth peer name {veth}b netns {client} && \
         ip addr add 198.19.0.1/24 dev {veth}a && ip link set {veth}a up && \
         ip route replace 198.19.0.0/24 dev {veth}a mtu 1280 && \
         sysctl -qw net.ipv4.ip_forward=1",
        client = client.name()
    ));
    client.sh_ok(&format!(
        "ip addr add 198.19.0.2/24 dev {veth}b && ip link set {veth}b up && ip route add default via 198.19.0.1"
    ));
    client
}

fn download_through_the_small_link(drop_icmp: bool) {
    let router = Netns::new(if drop_icmp { "pmbh" } else { "pmtu" });
    let mut stack = Stack::start(&router, &[]);
    let client = routed_client(&router, if drop_icmp { "pmbhc" } else { "pmtuc" });
    if drop_icmp {
        router.sh_ok("iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP");
    }
    const N: u64 = 32 << 20;
    let got = client.run_ok(
        "bash",
        &[
            "-c",
            &format!(
                "set -o pipefail; curl -sS --max-time 55 http://{STACK_ADDR}/bytes/{N} | python3 {}",
                helper("hash_stdin.py")
            ),
        ],
    );
    assert_eq!(got.trim(), pattern(&client, N), "the 32 MiB download differs");
    let snap = stack.snapshot();
    if drop_icmp {
        assert!(snap.counter("tcp_pmtu_blackholes") >= 1, "{}", snap.text);
    } else {
        assert!(snap.counter("tcp_pmtu_reductions") >= 1, "{}", snap.text);
    }
}

#[test]
fn path_mtu_discovery_lowers_the_mss_from_the_routers_icmp() {
    if require_e2e(&["python3", "curl", "bash"]) {
        download_through_the_small_link(false);
    }
}

#[test]
fn black_hole_detection_completes_the_download_when_that_icmp_is_dropped() {
    if require_e2e(&["python3", "curl", "bash", "iptables"]) {
        download_through_the_small_link(true);
    }
}

#[test]
fn icmp_errors_reach_tcp_and_unknown_protocols_are_refused() {
    if !require_e2e(&["python3"]) {
        return;
    }
    // `tunstack connect` to an address the namespace's kernel (a router) has an
    // "unreachable" route for: its ICMP host unreachable ends the connect at once
    // (RFC 5461), long before the SYN retries would.
    let ns = Netns::new("icmptcp");
    ns.sh_ok("sysctl -qw net.ipv4.ip_forward=1 && ip route add unreachable 198.19.99.1");
    let started = Instant::now();
    let out = ns.run(&tunstack_bin(), &["connect", "--tun", TUN, "198.19.99.1", "80"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "connect must fail");
    assert!(stderr.contains("unreachable"), "the error names the cause: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "at once, not after the SYN retries: {:?}", started.elapsed());

    // Protocol 253 (RFC 3692, experimental): answered with protocol unreachable.
    let ns = Netns::new("icmpproto");
    let stack = Stack::start(&ns, &[]);
    let answer = ns.python("ip_proto.py", &[STACK_ADDR, "253"]);
    assert_eq!(answer.trim(), "icmp 3 2 253", "type 3 code 2 quoting our datagram");
    let report = stack.stop();
    assert_eq!(report.counter("ip_rx_unknown_protocol"), 1, "{}", report.dump());
}
