//! End-to-end IPv6: the kernel pings `tunstack serve --addr6 2001:2::2` through
//! the TUN, in a network namespace of its own (kernel side 2001:2::1/64, the
//! benchmarking range of RFC 5180). 56-byte pings travel whole; 4,000-byte pings
//! are fragmented by the kernel, reassembled by the stack, and the replies
//! fragmented by the stack at the source (RFC 8200 §4.5). A UDP datagram to a
//! closed port is answered with ICMPv6 port unreachable, which the kernel turns
//! into `ConnectionRefused` for the connected socket. The `--pcap` capture of it
//! all decodes in `tshark` with no malformed packet and no bad checksum.
//!
//! UDP over IPv6 (`udp_echo.py` with an IPv6 address): the echo service's one
//! dual-stack `[::]:7` socket returns 0, 1, 1,452 and 4,000 bytes byte-exact to
//! an IPv6 client and serves an IPv4 client too; with `--bindv6only` (Linux's
//! `net.ipv6.bindv6only`) that socket is IPv6-only and the IPv4 client is
//! refused.
//!
//! A kernel IPv6 client and a kernel IPv4 client both connect to one dual-stack
//! TCP listener (`serve --no-accept 9000` listens on `[::]:9000` with
//! `--addr6`), and `tunstack ss --json` lists both connections under it; with
//! `--bindv6only` the IPv4 connect is refused.
//!
//! `tunstack connect 2001:2::1 PORT --udp` sends stdin to a kernel UDP echo
//! over IPv6 and prints what comes back; without `--udp`, 1 MiB goes through a
//! TCP connection over IPv6 to a kernel echo server and comes back byte-exact,
//! and its capture has no bad TCP checksum in `tshark`'s eyes.
//!
//! With `TUNSTACK_OFFLOAD=1` (scripts/test.sh's second pass) the same tests run
//! over the TUN's offloads, and the curl download proves that the stack's IPv6
//! segments reached the kernel as TSO super-segments: the kernel's own
//! `Ip6InOctets / Ip6InReceives` exceeds the link MTU many times over.
//!
//! Malformed IPv6 injected through AF_PACKET (`helpers/raw_inject6.py`) raises
//! one counter per kind, the kernel receives the Parameter Problem RFC 8200 asks
//! for (read from its own `/proc/net/snmp6`), and the stack keeps answering.
//!
//! Raw sockets over IPv6: `serve --raw-echo 253` echoes Next Header 253 to a
//! kernel `AF_INET6` `SOCK_RAW` socket, whole and fragmented, byte-exact.
//!
//! Without root / `/dev/net/tun` / `ip netns` / `ping` / `tshark` / `python3` this
//! is SKIPPED loudly, or fails when CI=true (see tests/common/mod.rs).

mod common;

use common::{offload_requested, poll_until, require_e2e, Netns, Stack, TempFile, STACK_ADDR, TUN};
use std::process::Command;
use std::time::Duration;

const STACK_ADDR6: &str = "2001:2::2";
const KERNEL_CIDR6: &str = "2001:2::1/64";

/// `ping -6` of `size` bytes, `count` times; the line that sums it up.
fn ping(ns: &Netns, size: usize, count: usize) -> Result<String, String> {
    let out = ns.run(
        "ping",
        &["-6", "-n", "-c", &count.to_string(), "-i", "0.2", "-W", "2", "-s", &size.to_string(), STACK_ADDR6],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = text.lines().find(|l| l.contains("packets transmitted")).unwrap_or_default().to_string();
    let all = format!("{count} packets transmitted, {count} received");
    if out.status.success() && summary.starts_with(&all) {
        Ok(summary)
    } else {
        Err(format!("{summary}\n{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// `tshark -r FILE -n` plus `args`; panics unless it exits 0. Only reads the
/// file: it runs in the host namespace and opens no interface.
fn tshark(file: &str, args: &[&str]) -> String {
    let out = Command::new("tshark").args(["-r", file, "-n"]).args(args).output().expect("tshark runs");
    assert!(out.status.success(), "tshark {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kernel's connected UDP socket sends to a closed port and reads the
/// ICMPv6 port unreachable as `ConnectionRefusedError`.
const UDP_CLOSED_PORT: &str = "\
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(('2001:2::2', 4444))
s.send(b'anyone?')
try:
    s.recv(100)
    print('FAIL got an answer')
except ConnectionRefusedError:
    print('OK refused')
";

/// Turn IPv6 on for the TUN (the namespace starts with it off, tests/common) and
/// give the kernel side its address, without duplicate address detection so it
/// is usable at once; then wait (bounded) for a first ping to be answered.
fn enable_ipv6(ns: &Netns) {
    ns.sh_ok(&format!(
        "echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
         echo 0 > /proc/sys/net/ipv6/conf/{TUN}/disable_ipv6 && \
         ip -6 addr add {KERNEL_CIDR6} dev {TUN} nodad"
    ));
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(ns, 56, 1));
}

/// A counter of the kernel's IPv6 MIBs (IPv6, ICMPv6, UDPv6) in the namespace
/// (`/proc/net/snmp6`).
fn kernel_snmp6(ns: &Netns, name: &str) -> u64 {
    let snmp = ns.sh_ok("cat /proc/net/snmp6");
    snmp.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /proc/net/snmp6:\n{snmp}"))
}

#[test]
fn malformed_ipv6_is_counted_answered_as_rfc_8200_asks_and_survived() {
    if !require_e2e(&["ping", "python3"]) {
        return;
    }
    let ns = Netns::new("malformed6");
    let stack = Stack::start(&ns, &["--addr6", STACK_ADDR6]);
    enable_ipv6(&ns);
    let before = kernel_snmp6(&ns, "Icmp6InParmProblems");

    let out = ns.python("raw_inject6.py", &["--dev", TUN, "all"]);
    let sent: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(sent.len(), 9, "raw_inject6.py output:\n{out}");
    // Six kinds earn a Parameter Problem: routing type 0, unknown next header,
    // unknown option (10), too many headers, incomplete chain, fragment length.
    let problems = poll_until("the kernel to receive 6 Parameter Problems", Duration::from_secs(10), || {
        let n = kernel_snmp6(&ns, "Icmp6InParmProblems") - before;
        if n >= 6 {
            Ok(n)
        } else {
            Err(format!("{n} so far"))
        }
    });
    assert_eq!(problems, 6);
    // Still answering, and (the stack working in order) done with every injected packet.
    ping(&ns, 56, 1).unwrap_or_else(|e| panic!("ping after the injection: {e}"));

    let r = stack.stop();
    for counter in [
        "ip6_rx_bad_payload_len",
        "ip6_rx_ext_truncated",
        "ip6_rx_routing_type0",
        "ip6_rx_unknown_next_header",
        "ip6_rx_option_unrecognized",
        "ip6_rx_too_many_headers",
        "ip6_frag_overlap",
        "ip6_frag_incomplete_chain",
        "ip6_frag_bad_length",
    ] {
        assert_eq!(r.counter(counter), 1, "{counter}\n{}", r.dump());
    }
    assert_eq!(r.counter("icmp6_tx_param_problem"), 6, "{}", r.dump());
}

#[test]
fn ping6_of_56_and_4000_bytes_is_answered() {
    if !require_e2e(&["ping", "tshark", "python3"]) {
        return;
    }
    let file = TempFile::new("ipv6.pcapng");
    let ns = Netns::new("ping6");
    // Here tunstack gives the kernel side its address (--peer6); the other test
    // does it by hand.
    let stack = Stack::start(&ns, &["--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6, "--pcap", file.path()]);
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));
    ping(&ns, 56, 3).unwrap_or_else(|e| panic!("56-byte pings: {e}"));
    ping(&ns, 4000, 3).unwrap_or_else(|e| panic!("4000-byte pings: {e}"));
    let refused = ns.run_ok("python3", &["-c", UDP_CLOSED_PORT]);
    assert_eq!(refused.trim(), "OK refused");

    let r = stack.stop();
    let c = |name: &str| r.counter(name);
    assert!(c("icmp6_tx_echo_reply") >= 7, "{}", r.dump());
    assert_eq!(c("icmp6_tx_echo_reply"), c("icmp6_rx_echo_request"), "every request answered\n{}", r.dump());
    // Three 4,000-byte requests came in fragments and went back in fragments.
    assert_eq!(c("ip6_frag_reassembled"), 3, "{}", r.dump());
    assert_eq!(c("ip6_tx_fragmented"), 3, "{}", r.dump());
    assert_eq!(c("ip6_tx_fragments"), 9, "1448 + 1448 + 1112 bytes each\n{}", r.dump());
    assert_eq!((c("udp_rx_no_port"), c("icmp6_tx_dest_unreachable")), (1, 1), "{}", r.dump());
    // Nothing the kernel sent was refused — its router solicitations and MLD
    // reports included (counted as `icmp6_rx_nd_mld`, not as bad packets).
    let refused = ["icmp6_rx_bad_checksum", "icmp6_rx_truncated", "ip6_rx_bad_payload_len", "ip6_rx_disabled"];
    for bad in refused.into_iter().chain(["ip6_rx_not_for_us", "ip6_rx_bad_source", "ip6_rx_ext_truncated"]) {
        assert_eq!(c(bad), 0, "{bad}\n{}", r.dump());
    }

    // The capture: every packet in and out, none malformed, no bad checksum.
    let problems = tshark(
        file.path(),
        &["-Y", "_ws.malformed || _ws.expert.severity >= 8388608 || icmpv6.checksum.status == 0 || udp.checksum.status == 0"],
    );
    assert!(problems.trim().is_empty(), "tshark flags these packets:\n{problems}");
    let versions = tshark(file.path(), &["-T", "fields", "-E", "occurrence=f", "-e", "ipv6.version"]);
    assert!(versions.lines().all(|l| l.trim() == "6"), "only IPv6 on this link: {versions}");
    assert_eq!(versions.lines().count() as u64, c("ip6_rx_packets") + c("ip6_tx_packets"), "{}", r.dump());
}

/// The helper's `OK` lines.
fn ok_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("OK")).collect()
}

#[test]
fn udp_echo_over_ipv6_is_byte_exact_and_one_dual_stack_socket_serves_both_families() {
    if !require_e2e(&["ping", "python3"]) {
        return;
    }
    let ns = Netns::new("udp6");
    let stack = Stack::start(&ns, &["--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6]);
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));
    // 1,452 bytes fill a 1,500-byte packet exactly; 4,000 are fragmented by the
    // kernel, reassembled by the stack, and fragmented again by the stack.
    let out = ns.python("udp_echo.py", &[STACK_ADDR6, "7", "0", "1", "1452", "4000"]);
    assert_eq!(ok_lines(&out), ["OK size=0", "OK size=1", "OK size=1452", "OK size=4000"], "{out}");
    let out = ns.python("udp_echo.py", &[STACK_ADDR, "7", "100"]);
    assert_eq!(ok_lines(&out), ["OK size=100"], "IPv4 to the same socket: {out}");
    assert_eq!(ns.python("udp_refused.py", &[STACK_ADDR6, "4444"]).trim(), "REFUSED");

    let r = stack.stop();
    let c = |name: &str| r.counter(name);
    // One socket on UDP port 7 took both families' datagrams.
    assert_eq!(r.socket("udp/7").received, 5, "{}", r.dump());
    assert_eq!((c("udp_rx_delivered"), c("udp_tx")), (5, 5), "{}", r.dump());
    assert_eq!((c("udp_rx_no_port"), c("icmp6_tx_dest_unreachable")), (1, 1), "{}", r.dump());
    assert_eq!((c("ip6_frag_reassembled"), c("ip6_tx_fragmented")), (1, 1), "the 4,000 bytes\n{}", r.dump());
    for bad in ["udp_rx_bad_checksum", "udp_rx_bad_length", "ip6_rx_unknown_next_header"] {
        assert_eq!(c(bad), 0, "{bad}\n{}", r.dump());
    }
}

/// The kernel connects to port 9000 over IPv6, then over IPv4 (refused or
/// not), says how it went, and holds what it got until its stdin closes.
const KERNEL_TCP_BOTH: &str = "\
import socket, sys
six = socket.create_connection(('2001:2::2', 9000), timeout=10)
try:
    four = socket.create_connection(('198.18.0.2', 9000), timeout=10)
    print('both', six.getsockname()[1], four.getsockname()[1], flush=True)
except ConnectionRefusedError:
    print('ipv4 refused', six.getsockname()[1], flush=True)
sys.stdin.read()
";

/// Run [`KERNEL_TCP_BOTH`]: its first line, and the process (to end it).
fn kernel_tcp_both(ns: &Netns) -> (String, std::process::Child) {
    let mut client = ns.spawn("python3", &["-c", KERNEL_TCP_BOTH]);
    let mut line = String::new();
    let stdout = client.stdout.as_mut().expect("piped stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("the client reports");
    (line.trim().to_string(), client)
}

#[test]
fn an_ipv6_and_an_ipv4_client_reach_one_dual_stack_tcp_listener() {
    if !require_e2e(&["ping", "python3"]) {
        return;
    }
    let ns = Netns::new("tcp-dual");
    let stack = Stack::start(&ns, &["--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6, "--no-accept", "9000"]);
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));
    let (line, mut client) = kernel_tcp_both(&ns);
    let ports: Vec<&str> =
        line.strip_prefix("both ").unwrap_or_else(|| panic!("client said {line:?}")).split(' ').collect();
    let json = ns.run_ok(&common::tunstack_bin(), &["ss", "--json"]);
    let _ = client.kill();
    let _ = client.wait();
    // One listener, two connections waiting in its accept queue, one per family:
    // the IPv4 peer named as IPv4-mapped, as Linux names it to an IPv6 socket.
    let expected = [
        "\"local\":\"[::]:9000\"".to_string(),
        format!("\"peer\":\"[2001:2::1]:{}\"", ports[0]),
        format!("\"peer\":\"[::ffff:198.18.0.1]:{}\"", ports[1]),
    ];
    for needle in &expected {
        assert!(json.contains(needle.as_str()), "no {needle} in `ss --json`: {json}");
    }
    let r = stack.stop();
    assert_eq!(r.counter("tcp_passive_opens"), 2, "{}", r.dump());
}

#[test]
fn with_bindv6only_the_ipv4_client_is_refused() {
    if !require_e2e(&["ping", "python3"]) {
        return;
    }
    let ns = Netns::new("v6only");
    let args = ["--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6, "--bindv6only", "--no-accept", "9000"];
    let stack = Stack::start(&ns, &args);
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));
    let out = ns.python("udp_echo.py", &[STACK_ADDR6, "7", "1000"]);
    assert_eq!(ok_lines(&out), ["OK size=1000"], "{out}");
    assert_eq!(ns.python("udp_refused.py", &[STACK_ADDR, "7"]).trim(), "REFUSED", "[::]:7 is IPv6-only");
    let (line, mut client) = kernel_tcp_both(&ns);
    let _ = client.kill();
    let _ = client.wait();
    assert!(line.starts_with("ipv4 refused "), "[::]:9000 is IPv6-only: the client said {line:?}");

    let r = stack.stop();
    assert_eq!(r.socket("udp/7").received, 1, "{}", r.dump());
    assert_eq!((r.counter("udp_rx_no_port"), r.counter("icmp_tx_dest_unreachable")), (1, 1), "{}", r.dump());
    assert_eq!((r.counter("tcp_passive_opens"), r.counter("tcp_rx_no_socket")), (1, 1), "{}", r.dump());
}

/// The kernel answers one UDP datagram on `[::]:5555` with the same bytes.
const KERNEL_UDP6_ECHO_ONCE: &str = "\
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('::', 5555))
s.settimeout(30)
print('ready', flush=True)
data, peer = s.recvfrom(65535)
s.sendto(data, peer)
";

#[test]
fn connect_udp_to_a_kernel_echo_over_ipv6() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("connect6");
    let mut server = ns.spawn("python3", &["-c", KERNEL_UDP6_ECHO_ONCE]);
    let mut ready = String::new();
    let stdout = server.stdout.as_mut().expect("piped stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready).expect("the server starts");
    assert_eq!(ready.trim(), "ready");
    let bin = common::tunstack_bin();
    // The line goes in once the TUN is up with the kernel's address usable (not
    // tentative): before that the kernel would drop the one datagram. Bounded:
    // 400 polls of 50 ms.
    let usable = format!(
        "ip -6 addr show dev {TUN} up | grep -q '{KERNEL_CIDR6}' && ! ip -6 addr show dev {TUN} | grep -q tentative"
    );
    let out = ns.run(
        "sh",
        &[
            "-c",
            &format!(
                "(for i in $(seq 400); do {usable} && break; sleep 0.05; done; printf 'hello over IPv6\\n') | \
             timeout -k 2 30 {bin} connect 2001:2::1 5555 --udp --linger-ms 3000 \
             --stats --tun {TUN} --addr6 {STACK_ADDR6} --peer6 {KERNEL_CIDR6}"
            ),
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out, "hello over IPv6\n", "{stderr}");
}

/// The kernel echoes one TCP connection on `[::]:5000` and says who it came from.
const KERNEL_TCP6_ECHO_ONCE: &str = "\
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 5000))
s.listen(1)
s.settimeout(60)
print('ready', flush=True)
c, peer = s.accept()
c.settimeout(60)
while True:
    data = c.recv(65536)
    if not data:
        break
    c.sendall(data)
c.close()
print(peer[0], flush=True)
";

#[test]
fn connect_tcp_over_ipv6_to_a_kernel_echo_is_byte_exact() {
    if !require_e2e(&["python3", "cmp", "tshark"]) {
        return;
    }
    let ns = Netns::new("tcp6");
    let mut server = ns.spawn("python3", &["-c", KERNEL_TCP6_ECHO_ONCE]);
    let mut lines = std::io::BufReader::new(server.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).expect("the server starts");
    assert_eq!(line.trim(), "ready");
    let (sent, back) = (TempFile::new("tcp6-sent"), TempFile::new("tcp6-back"));
    let capture = TempFile::new("tcp6.pcapng");
    let bin = common::tunstack_bin();
    let out = ns.run(
        "sh",
        &[
            "-c",
            &format!(
                "head -c 1048576 /dev/urandom > {sent} && \
             timeout -k 2 60 {bin} connect 2001:2::1 5000 --stats --tun {TUN} --addr6 {STACK_ADDR6} \
             --peer6 {KERNEL_CIDR6} --pcap {pcap} < {sent} > {back} && cmp {sent} {back} && echo SAME",
                sent = sent.path(),
                back = back.path(),
                pcap = capture.path()
            ),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "SAME", "{stderr}");
    line.clear();
    std::io::BufRead::read_line(&mut lines, &mut line).expect("the server reports its peer");
    assert_eq!(line.trim(), STACK_ADDR6, "the kernel saw the stack's IPv6 address");
    let _ = server.wait();
    // The stack's own account (--stats): TCP over IPv6, nothing refused.
    let counter =
        |name: &str| stderr.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0);
    // 1 MiB came back in more than 100 packets — or, with offloads, in the
    // kernel's TSO segments of up to 64 KiB: at least 16.
    let fewest = if offload_requested() { 16 } else { 100 };
    assert!(counter("ip6_rx_delivered ") >= fewest, "{stderr}");
    assert_eq!((counter("tcp_rx_bytes "), counter("tcp_tx_bytes ")), (1 << 20, 1 << 20), "{stderr}");
    assert_eq!((counter("tcp_rx_bad_checksum "), counter("tcp_rx_bad_header ")), (0, 0), "{stderr}");
    // The capture (what the stack sent and received, whole segments either
    // way): tshark checks every TCP checksum and finds nothing wrong.
    let problems = tshark(
        capture.path(),
        // Port 5000's random bytes are data, not what a heuristic guesses.
        &[
            "-o",
            "tcp.check_checksum:TRUE",
            "-d",
            "tcp.port==5000,data",
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608 || tcp.checksum.status == 0",
        ],
    );
    assert!(problems.trim().is_empty(), "tshark flags these packets:\n{problems}");
    let sent = tshark(capture.path(), &["-Y", "ipv6.src == 2001:2::2 && tcp.len > 0", "-T", "fields", "-e", "tcp.len"]);
    let bytes: u64 = sent.lines().map(|l| l.trim().parse::<u64>().expect("a length")).sum();
    assert!(bytes >= 1 << 20, "the stack's 1 MiB (and any retransmission) in the capture: {bytes}");
}

/// The open ports of nmap's grepable output (`-oG -`) for `protocol`, with the
/// state nmap gave each.
fn nmap_ports(grepable: &str, protocol: &str) -> Vec<(u16, String)> {
    let mut ports = Vec::new();
    for line in grepable.lines().filter(|l| l.starts_with("Host:")) {
        let Some(list) = line.split('\t').find_map(|field| field.strip_prefix("Ports: ")) else { continue };
        for entry in list.split(", ") {
            let fields: Vec<&str> = entry.trim().split('/').collect();
            if let [port, state, proto, ..] = fields[..] {
                if proto == protocol {
                    ports.push((port.parse().expect("a port number"), state.to_string()));
                }
            }
        }
    }
    ports.sort();
    ports
}

/// `serve`'s TCP services over IPv6 (one dual-stack `[::]` listener each):
/// curl -6 downloads 100 MiB byte-exact, eight Python echo connections at once
/// come back byte for byte, and nmap -6 sees exactly the served TCP ports open
/// and, over UDP, the services that answer open, discard open|filtered (it
/// answers nothing), the rest closed (ICMPv6 port unreachable).
#[test]
fn tcp_services_over_ipv6_curl_echo_and_nmap() {
    if !require_e2e(&["ping", "python3", "curl", "nmap"]) {
        return;
    }
    let ns = Netns::new("tcp6");
    let stack = Stack::start(&ns, &["--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6]);
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));

    const N: u64 = 100 << 20;
    let received = |ns: &Netns| (kernel_snmp6(ns, "Ip6InReceives"), kernel_snmp6(ns, "Ip6InOctets"));
    let before = received(&ns);
    let got = ns.run_ok(
        "bash",
        &[
            "-c",
            &format!(
                "set -o pipefail; curl -6 -g -sS --max-time 55 'http://[{STACK_ADDR6}]/bytes/{N}' | python3 {}",
                common::helper("hash_stdin.py")
            ),
        ],
    );
    let expected = ns.sh_ok(&format!(
        "python3 -c 'import hashlib; b=bytes(range(256))*({N}//256)+bytes(range({N}%256)); print({N}, hashlib.sha256(b).hexdigest())'"
    ));
    assert_eq!(got.split_whitespace().collect::<Vec<_>>(), expected.split_whitespace().collect::<Vec<_>>());
    // What the kernel's IPv6 layer received meanwhile (packets as they crossed
    // the TUN, before any segmentation): on a 1,500-byte link no packet is
    // larger, unless the stack's segments arrive merged into TSO super-segments
    // (--offload), which the kernel's TCP takes whole.
    let after = received(&ns);
    let (packets, octets) = (after.0 - before.0, after.1 - before.1);
    assert!(octets >= N, "the download crossed IPv6: {octets} bytes in {packets} packets");
    if offload_requested() {
        assert!(octets / packets > 8 * 1500, "super-segments: {octets} bytes in {packets} packets");
    } else {
        assert!(octets / packets <= 1500, "{octets} bytes in {packets} packets");
    }

    let out = ns.python("tcp_many.py", &[STACK_ADDR6, "7", "8", "1048576"]);
    assert!(out.contains("OK connections=8 bytes=8388608"), "{out}");

    let tcp = ns.run_ok("nmap", &["-6", "-sS", "-Pn", "-n", "-p", "1-1024", STACK_ADDR6, "-oG", "-"]);
    let open: Vec<u16> = nmap_ports(&tcp, "tcp").into_iter().filter(|(_, s)| s == "open").map(|(p, _)| p).collect();
    assert_eq!(open, [7, 9, 13, 19, 80], "{tcp}");
    let udp = ns.run_ok("nmap", &["-6", "-sU", "-Pn", "-n", "-p", "5-20", STACK_ADDR6, "-oG", "-"]);
    let states = nmap_ports(&udp, "udp");
    let named: Vec<(u16, &str)> = states.iter().filter(|(_, s)| s != "closed").map(|(p, s)| (*p, s.as_str())).collect();
    assert_eq!(named, [(7, "open"), (9, "open|filtered"), (13, "open"), (19, "open")], "{udp}");

    let r = stack.stop();
    // Every closed TCP port among the 1,024 was answered with a RST (nmap may
    // probe a port more than once, never less), and nothing is left open but
    // TIME-WAIT (the HTTP connection, which the stack closed first).
    assert!(r.counter("tcp_rx_no_socket") >= 1024 - 5, "{}", r.dump());
    assert_eq!(r.tcp("connections"), r.tcp("time_wait"), "{}", r.dump());
}

/// Raw sockets over IPv6 (`src/raw/`): `serve --raw-echo 253` with an IPv6
/// address serves the protocol over both families. A kernel `AF_INET6`
/// `SOCK_RAW` socket on Next Header 253 (`raw_proto.py` with an IPv6 host)
/// sends 0, 1, 1,460 (a full 1,500-byte packet) and 4,000 bytes (fragmented by
/// the kernel, reassembled by the stack, echoed back in fragments by the stack
/// at the source) and reads back exactly its bytes — the payload alone, as an
/// IPv6 raw socket reads on both sides. An IPv4 datagram on 253 is echoed by
/// the IPv4 socket beside it, and Next Header 254, which nobody serves, earns
/// the Parameter Problem the kernel counts.
#[test]
fn raw_sockets_echo_protocol_253_over_ipv6_whole_and_fragmented() {
    if !require_e2e(&["ping", "python3"]) {
        return;
    }
    let ns = Netns::new("raw6");
    let stack = Stack::start(&ns, &["--raw-echo", "253", "--addr6", STACK_ADDR6, "--peer6", KERNEL_CIDR6]);
    assert!(stack.listening().iter().any(|l| l == "raw/253 echo"), "{:?}", stack.listening());
    poll_until("a first ping -6 answered", Duration::from_secs(20), || ping(&ns, 56, 1));
    let before = kernel_snmp6(&ns, "Icmp6InParmProblems");

    let out = ns.python("raw_proto.py", &["echo", STACK_ADDR6, "253", "0", "1", "1460", "4000"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["echo 0 ok", "echo 1 ok", "echo 1460 ok", "echo 4000 ok"]);
    let out = ns.python("raw_proto.py", &["echo", STACK_ADDR, "253", "100"]);
    assert_eq!(out.trim(), "echo 100 ok", "IPv4 beside it");
    assert_eq!(ns.python("raw_proto.py", &["flood", STACK_ADDR6, "254", "1"]).trim(), "sent 1");
    let problems = poll_until("the kernel to receive a Parameter Problem", Duration::from_secs(10), || {
        match kernel_snmp6(&ns, "Icmp6InParmProblems") - before {
            0 => Err("none yet".to_string()),
            n => Ok(n),
        }
    });
    assert_eq!(problems, 1);

    let r = stack.stop();
    let c = |name: &str| r.counter(name);
    // Four IPv6 datagrams and one IPv4 one, in and back out.
    assert_eq!((c("raw_rx_delivered"), c("raw_tx"), c("raw_rx_queue_full")), (5, 5, 0), "{}", r.dump());
    assert_eq!((c("ip6_frag_reassembled"), c("ip6_tx_fragmented"), c("ip6_tx_fragments")), (1, 1, 3), "{}", r.dump());
    assert_eq!((c("ip6_rx_unknown_next_header"), c("icmp6_tx_param_problem")), (1, 1), "{}", r.dump());
}
