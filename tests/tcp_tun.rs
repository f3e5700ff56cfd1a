//! End-to-end TCP tests against the real Linux kernel through the TUN, each in its
//! own network namespace: the kernel's curl, socat and Python sockets are the peers,
//! and for `tunstack connect` the kernel is the server.
//!
//! The many-connection and overload tests are in `tcp_load.rs`.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{helper, require_e2e, tunstack_bin, Netns, Stack, KERNEL_ADDR, KERNEL_CIDR, STACK_ADDR, TUN};

/// The size of the large transfers: 100 MiB.
const MIB_100: u64 = 100 * 1024 * 1024;

/// `LENGTH SHA256` as printed by `tests/helpers/hash_stdin.py`.
fn length_and_hash(out: &str) -> (u64, String) {
    let mut it = out.split_whitespace();
    match (it.next().map(str::parse::<u64>), it.next(), it.next()) {
        (Some(Ok(n)), Some(hash), None) => (n, hash.to_string()),
        _ => panic!("expected `LENGTH SHA256` from hash_stdin.py, got {out:?}"),
    }
}

/// Prints how long a transfer took (visible with `--nocapture`); a report, never
/// an assertion.
fn report_rate(what: &str, bytes: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    eprintln!("{what}: {bytes} bytes in {secs:.2} s = {:.1} MB/s", bytes as f64 / secs / 1e6);
}

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

    // 100 MiB: the length and the SHA-256 of what curl received must both match
    // the /bytes/N pattern (pipefail: a failed curl fails the test).
    const N: u64 = MIB_100;
    let started = Instant::now();
    let got = ns.run_ok(
        "bash",
        &[
            "-c",
            &format!(
                "set -o pipefail; curl -sS --max-time 55 http://{STACK_ADDR}/bytes/{N} | python3 {}",
                helper("hash_stdin.py")
            ),
        ],
    );
    report_rate("curl /bytes/100MiB", N, started);
    assert_eq!(length_and_hash(&got), (N, pattern_sha256(&ns, N)), "the 100 MiB download differs");

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
    // 100 MiB of random bytes in 8 connections at once, 12.5 MiB each; the helper
    // sends and reads concurrently on each and compares SHA-256 per connection.
    const PER_CONN: u64 = MIB_100 / 8;
    let started = Instant::now();
    let out = ns.python("tcp_echo.py", &[STACK_ADDR, "7", "8", &PER_CONN.to_string()]);
    report_rate("echo 8 x 12.5 MiB (each way)", MIB_100, started);
    assert_eq!(out.lines().filter(|l| l.starts_with("OK conn=")).count(), 8, "{out}");
    let r = stack.stop();
    assert_eq!(r.counter("tcp_rx_bytes"), MIB_100, "{}", r.dump());
    assert!(r.counter("tcp_tx_bytes") >= MIB_100, "{}", r.dump());
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

/// `tunstack connect HOST PORT` with the link options of the test namespace.
fn connect_args(port: u16) -> Vec<String> {
    let port = port.to_string();
    let args = ["connect", KERNEL_ADDR, &port, "--tun", TUN, "--addr", STACK_ADDR, "--peer", KERNEL_CIDR];
    args.iter().map(|s| s.to_string()).collect()
}

/// A file of `len` random bytes that is deleted on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn random(tag: &str, len: u64) -> TempFile {
        let path = std::env::temp_dir().join(format!("tunstack-{}-{tag}", std::process::id()));
        let file = TempFile(path);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("head -c {len} /dev/urandom > '{}'", file.path()))
            .output()
            .expect("run head");
        assert!(out.status.success(), "cannot write {}: {}", file.path(), String::from_utf8_lossy(&out.stderr));
        file
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn connect_downloads_100_mib_from_a_kernel_server() {
    if !require_e2e(&["socat", "python3", "ss", "bash"]) {
        return;
    }
    // The stack is the client here: `tunstack connect` makes its own TUN (no
    // `serve` in this namespace) and the kernel serves a file with socat.
    let ns = Netns::new("tconn");
    let file = TempFile::random("connect-download", MIB_100);
    let expected = length_and_hash(&ns.sh_ok(&format!("python3 {} < '{}'", helper("hash_stdin.py"), file.path())));
    assert_eq!(expected.0, MIB_100);

    const PORT: u16 = 5000;
    // -u: one direction only, file → socket; socat exits after sending it all.
    let mut server =
        ns.spawn("socat", &["-u", &format!("OPEN:{}", file.path()), &format!("TCP-LISTEN:{PORT},reuseaddr")]);
    ns.wait_tcp_listening(PORT, Duration::from_secs(10));

    // stdin is empty: connect half-closes at once and keeps reading until the
    // server's FIN; it must exit 0 (pipefail) after all 100 MiB.
    let script = format!(
        "set -o pipefail; {} {} </dev/null | python3 {}",
        tunstack_bin(),
        connect_args(PORT).join(" "),
        helper("hash_stdin.py")
    );
    let started = Instant::now();
    let got = ns.run_ok("bash", &["-c", &script]);
    report_rate("tunstack connect download", MIB_100, started);
    assert_eq!(length_and_hash(&got), expected, "what tunstack connect wrote differs from the file");

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match server.try_wait().expect("wait for socat") {
            Some(status) => break status,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("socat still running 10 s after the download"),
        }
    };
    let mut err = String::new();
    if let Some(mut e) = server.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "socat exited with {status}: {err}");
}

#[test]
fn connect_to_a_port_without_listener_fails_with_refused() {
    if !require_e2e(&[]) {
        return;
    }
    let ns = Netns::new("tconnrst");
    let args = connect_args(5001);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ns.run(&tunstack_bin(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "connect to a closed port exited 0; stderr: {stderr}");
    assert_ne!(out.status.code(), Some(124), "connect hung until `timeout` killed it; stderr: {stderr}");
    assert!(
        stderr.contains("refused") && stderr.contains(&format!("{KERNEL_ADDR}:5001")),
        "expected a clear `refused` message naming {KERNEL_ADDR}:5001, got: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing should reach stdout: {:?}", String::from_utf8_lossy(&out.stdout));
}
