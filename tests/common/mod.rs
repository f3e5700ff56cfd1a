//! Harness for the end-to-end tests: real Linux kernel on one side of a TUN,
//! `tunstack serve` on the other, each test in a network namespace of its own.
//!
//! Safety: nothing here opens a TUN or sends a packet in the host namespace.
//! Every [`Netns`] is created by the test run itself and deleted in `Drop`
//! (processes inside it are killed first), and only 198.18.0.0/15 addresses
//! are used inside it.
//!
//! Prerequisites (root, `/dev/net/tun`, working `ip netns add`, external
//! tools): when missing, a test is SKIPPED loudly, unless `CI=true`, where it
//! fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Kernel side of the TUN.
pub const KERNEL_ADDR: &str = "198.18.0.1";
/// `--peer` given to the stack: the kernel side's address and prefix.
pub const KERNEL_CIDR: &str = "198.18.0.1/24";
/// The stack's own address.
pub const STACK_ADDR: &str = "198.18.0.2";
/// TUN name inside each namespace (namespaces keep them apart).
pub const TUN: &str = "tun0";

/// How long `tunstack serve` may take to print `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long it may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on every helper command run in a namespace.
pub const HELPER_TIMEOUT_SECS: u64 = 60;

/// A file in the temporary directory for one test (a capture, a trace), removed on
/// drop; the name carries the test process id.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn new(name: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("tunstack-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempFile(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Path of the binary under test (`TUNSTACK_BIN` overrides, e.g. for a release build).
pub fn tunstack_bin() -> String {
    std::env::var("TUNSTACK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tunstack").to_string())
}

/// Build the example `name` with the cargo running this test (same profile,
/// same target directory) and return its path: `cargo test --test X` alone
/// does not build examples.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--example", name, "--manifest-path", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]);
    // The features this test was built with (the async example needs tokio).
    if cfg!(feature = "tokio") {
        build.args(["--features", "tokio"]);
    }
    if profile_dir.file_name().is_some_and(|dir| dir == "release") {
        build.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        build.arg("--target-dir").arg(target);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    profile_dir.join("examples").join(name)
}

/// Absolute path of a kernel-side client in `tests/helpers/`.
pub fn helper(name: &str) -> String {
    format!("{}/tests/helpers/{}", env!("CARGO_MANIFEST_DIR"), name)
}

fn in_ci() -> bool {
    std::env::var("CI").map(|v| v.eq_ignore_ascii_case("true") || v == "1").unwrap_or(false)
}

/// Writes straight to the process's stderr: unlike `eprintln!`, this is not
/// swallowed by the test harness's output capture, so a skip is always seen.
fn loud(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n==================================================================");
    let _ = writeln!(err, "{msg}");
    let _ = writeln!(err, "==================================================================\n");
}

/// A prerequisite is missing: fail under `CI=true`, otherwise skip loudly.
/// Returns `false` (the test must return early) when it does not panic.
fn missing(what: &str) -> bool {
    if in_ci() {
        panic!("end-to-end prerequisite missing (and CI=true, so this is a failure, not a skip): {what}");
    }
    loud(&format!(
        "SKIPPED: {what}\n(end-to-end TUN tests need root, /dev/net/tun and `ip netns`; \
         with CI=true this is a failure)"
    ));
    false
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved fs
    line.split_whitespace().nth(2)?.parse().ok()
}

fn probe_root_and_tun() -> Result<(), String> {
    match effective_uid() {
        Some(0) => {}
        Some(uid) => return Err(format!("not running as root (effective uid {uid})")),
        None => return Err("cannot read the effective uid from /proc/self/status".into()),
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun does not exist".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("`ip -V` failed: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => return Err(format!("cannot run `ip` (iproute2 missing?): {e}")),
    }
    // Creating (and deleting) a namespace is the real test of permissions.
    Netns::try_new("probe").map(drop)
}

/// `true` if the test may go on; see the module docs for what happens otherwise.
pub fn require_root_and_tun() -> bool {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    match PROBE.get_or_init(probe_root_and_tun) {
        Ok(()) => true,
        Err(why) => missing(why),
    }
}

/// `true` if every program in `tools` is on PATH; same skip/fail rule.
pub fn require_tools(tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool} >/dev/null 2>&1"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            return missing(&format!("required program `{tool}` is not installed"));
        }
    }
    true
}

/// Both checks at once; the usual first line of an end-to-end test:
/// `if !common::require_e2e(&["python3"]) { return; }`
pub fn require_e2e(tools: &[&str]) -> bool {
    require_root_and_tun() && require_tools(tools)
}

fn describe(out: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A network namespace owned by this test run; deleted (with everything in
/// it) on drop.
pub struct Netns {
    name: String,
}

static NETNS_COUNTER: AtomicUsize = AtomicUsize::new(0);
/// `ip netns add` run concurrently for the first time on a host races on
/// making /run/netns a shared mount point; serialise creation.
static NETNS_CREATE: Mutex<()> = Mutex::new(());

impl Netns {
    /// Creates `tunstack-t-<pid>-<n>-<tag>`, brings `lo` up inside and turns
    /// IPv6 off (so the kernel sends no IPv6 chatter into the TUN, which would
    /// muddle exact packet counts). Panics with `ip`'s message on failure.
    pub fn new(tag: &str) -> Netns {
        Netns::try_new(tag).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_new(tag: &str) -> Result<Netns, String> {
        let n = NETNS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("tunstack-t-{}-{}-{}", std::process::id(), n, tag);
        {
            let _guard = NETNS_CREATE.lock().unwrap_or_else(|p| p.into_inner());
            let out = Command::new("ip")
                .args(["netns", "add", &name])
                .output()
                .map_err(|e| format!("cannot run `ip netns add {name}`: {e}"))?;
            if !out.status.success() {
                return Err(format!("`ip netns add {name}` failed:\n{}", describe(&out)));
            }
        }
        let ns = Netns { name }; // from here on, Drop cleans up
        let out = ns
            .command("ip")
            .args(["link", "set", "lo", "up"])
            .output()
            .map_err(|e| format!("cannot run ip netns exec: {e}"))?;
        if !out.status.success() {
            return Err(format!("`ip link set lo up` in {} failed:\n{}", ns.name, describe(&out)));
        }
        // Best effort: the files are absent on a kernel without IPv6.
        let _ = ns
            .command("sh")
            .arg("-c")
            .arg(
                "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 \
                          /proc/sys/net/ipv6/conf/default/disable_ipv6; do \
                   [ -w \"$f\" ] && echo 1 > \"$f\"; done; true",
            )
            .output();
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME program`; add arguments with `.args(..)`.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program args` in the namespace under `timeout`, unchecked.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let secs = HELPER_TIMEOUT_SECS.to_string();
        self.command("timeout")
            .args(["-k", "5", &secs, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot spawn `{program}` in {}: {e}", self.name))
    }

    /// Like [`Netns::run`], but panics (with stdout and stderr) unless it
    /// exits 0; returns stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        if !out.status.success() {
            let hint = if out.status.code() == Some(124) {
                format!(" (killed by `timeout` after {HELPER_TIMEOUT_SECS}s)")
            } else {
                String::new()
            };
            panic!("`{program} {}` in namespace {} failed{hint}\n{}", args.join(" "), self.name, describe(&out));
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `sh -c script` in the namespace (bounded); panics unless it exits 0.
    pub fn sh_ok(&self, script: &str) -> String {
        self.run_ok("sh", &["-c", script])
    }

    /// Runs the kernel-side client `tests/helpers/<script>` with python3
    /// (bounded by `timeout`); panics with its stderr unless it exits 0.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let path = helper(script);
        let mut all = vec![path.as_str()];
        all.extend_from_slice(args);
        self.run_ok("python3", &all)
    }

    /// Starts `program args` in the namespace in the background under `timeout`
    /// (so it cannot outlive [`HELPER_TIMEOUT_SECS`]), with stdin and stdout
    /// piped and stderr captured; for helpers the test talks to while they run.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Child {
        let secs = HELPER_TIMEOUT_SECS.to_string();
        self.command("timeout")
            .args(["-k", "5", &secs, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{program}` in {}: {e}", self.name))
    }

    /// [`spawn`](Netns::spawn) a server that prints `ready` when it is, and wait
    /// (20 s at most) for that line; the rest of its stdout comes through the
    /// returned channel, a line at a time.
    pub fn spawn_ready(&self, program: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = self.spawn(program, args);
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines.recv_timeout(Duration::from_secs(20));
        assert_eq!(ready.as_deref(), Ok("ready"), "`{program}` did not start");
        (child, lines)
    }

    /// Waits (bounded by `timeout`) until a kernel socket in this namespace
    /// listens on TCP `port` (`ss -Hltn`), so a client can start only once its
    /// server is ready.
    pub fn wait_tcp_listening(&self, port: u16, timeout: Duration) {
        let pattern = format!(":{port}");
        poll_until(&format!("a kernel listener on tcp/{port}"), timeout, || {
            let out = self.run_ok("ss", &["-Hltn"]);
            let found = out.lines().any(|l| l.split_whitespace().nth(3).is_some_and(|local| local.ends_with(&pattern)));
            if found {
                Ok(())
            } else {
                Err(format!("ss -Hltn:\n{out}"))
            }
        })
    }

    /// The kernel's statistics of a device in this namespace. `ip netns exec`
    /// remounts /sys for the namespace, so these are tun0's own counters.
    pub fn link_stats(&self, dev: &str) -> LinkStats {
        let files = ["tx_packets", "tx_dropped", "rx_packets", "rx_dropped"];
        let paths: Vec<String> = files.iter().map(|f| format!("/sys/class/net/{dev}/statistics/{f}")).collect();
        let args: Vec<&str> = paths.iter().map(String::as_str).collect();
        let out = self.run_ok("cat", &args);
        let v: Vec<u64> = out
            .lines()
            .map(|l| l.trim().parse().unwrap_or_else(|e| panic!("bad statistics line {l:?}: {e}")))
            .collect();
        assert_eq!(v.len(), 4, "expected 4 statistics lines for {dev}, got {out:?}");
        LinkStats { tx_packets: v[0], tx_dropped: v[1], rx_packets: v[2], rx_dropped: v[3] }
    }
}

/// Calls `cond` every 50 ms until it returns `Ok`, or panics after `timeout`
/// naming `what` and the last state `cond` reported in its `Err`.
pub fn poll_until<T, F>(what: &str, timeout: Duration, mut cond: F) -> T
where
    F: FnMut() -> Result<T, String>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match cond() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last state: {last}")
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill whatever still runs inside, then delete the namespace.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if pid.chars().all(|c| c.is_ascii_digit()) {
                    let _ = Command::new("kill").args(["-9", pid]).stderr(Stdio::null()).status();
                }
            }
        }
        for _ in 0..20 {
            match Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status() {
                Ok(s) if s.success() => return,
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
        loud(&format!("WARNING: could not delete network namespace {}", self.name));
    }
}

/// Kernel-side device counters (`/sys/class/net/DEV/statistics`). For a TUN,
/// `tx_*` is kernel → stack: `tx_packets` counts packets the stack read,
/// `tx_dropped` packets the kernel dropped because the stack's queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    pub tx_packets: u64,
    pub tx_dropped: u64,
    pub rx_packets: u64,
    pub rx_dropped: u64,
}

/// One `sockets:` line: `  udp/9 discard received=N dropped=N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketStats {
    pub name: String,
    pub received: u64,
    pub dropped: u64,
}

/// What `tunstack serve` printed, parsed, after it exited on SIGTERM.
#[derive(Debug)]
pub struct StopReport {
    pub counters: Counters,
    /// The `tcp:` gauges (`connections`, `time_wait`, `ephemeral_ports`, …).
    pub tcp: Counters,
    /// Keyed by `udp/9` etc.
    pub sockets: Sockets,
    pub stdout: String,
    pub stderr: String,
}

impl StopReport {
    /// A counter's value; panics (listing them all) if it was not printed.
    pub fn counter(&self, name: &str) -> u64 {
        match self.counters.get(name) {
            Some(v) => *v,
            None => panic!("counter {name:?} missing from the stack's output:\n{}", self.stdout),
        }
    }

    /// A gauge of the `tcp:` block; panics if it was not printed.
    pub fn tcp(&self, name: &str) -> u64 {
        match self.tcp.get(name) {
            Some(v) => *v,
            None => panic!("tcp gauge {name:?} missing from the stack's output:\n{}", self.stdout),
        }
    }

    pub fn socket(&self, key: &str) -> &SocketStats {
        match self.sockets.get(key) {
            Some(s) => s,
            None => panic!("socket {key:?} missing from the stack's `sockets:` output:\n{}", self.stdout),
        }
    }

    /// All counters as `name value` lines, for assertion messages.
    pub fn dump(&self) -> String {
        format!("--- stdout of tunstack ---\n{}--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// Counter name → value.
pub type Counters = HashMap<String, u64>;

/// The `name value` lines of the block that starts with the line `header`
/// (e.g. `tcp:`) in `text`; `Ok(None)` if there is no such block.
pub fn parse_block(text: &str, header: &str) -> Result<Option<Counters>, String> {
    let mut lines = text.lines().skip_while(|l| *l != header);
    if lines.next().is_none() {
        return Ok(None);
    }
    let mut block = HashMap::new();
    for line in lines {
        let Some(item) = line.strip_prefix("  ") else { break };
        let mut it = item.split_whitespace();
        let (Some(name), Some(value), None) = (it.next(), it.next(), it.next()) else {
            return Err(format!("bad line {line:?} in the {header} block"));
        };
        let value: u64 = value.parse().map_err(|e| format!("bad value in {line:?}: {e}"))?;
        if block.insert(name.to_string(), value).is_some() {
            return Err(format!("{name} printed twice in the {header} block"));
        }
    }
    Ok(Some(block))
}

/// What `tunstack serve` printed on SIGUSR1: its counters and `tcp:` gauges at
/// that moment (see [`Stack::snapshot`]).
#[derive(Debug)]
pub struct Snapshot {
    pub counters: Counters,
    pub tcp: Counters,
    pub text: String,
}

impl Snapshot {
    pub fn counter(&self, name: &str) -> u64 {
        *self.counters.get(name).unwrap_or_else(|| panic!("counter {name:?} missing from snapshot:\n{}", self.text))
    }

    pub fn tcp(&self, name: &str) -> u64 {
        *self.tcp.get(name).unwrap_or_else(|| panic!("tcp gauge {name:?} missing from snapshot:\n{}", self.text))
    }
}
/// `udp/9` → its stats.
pub type Sockets = HashMap<String, SocketStats>;

/// Parses everything `tunstack serve` printed after `ready`.
pub fn parse_stop_output(stdout: &str) -> Result<(Counters, Sockets), String> {
    #[derive(PartialEq)]
    enum Block {
        None,
        Counters,
        Sockets,
    }
    let mut block = Block::None;
    let mut counters = HashMap::new();
    let mut sockets = HashMap::new();
    let mut saw_counters = false;
    let mut saw_sockets = false;
    for line in stdout.lines() {
        if line == "counters:" {
            block = Block::Counters;
            saw_counters = true;
            continue;
        }
        if line == "sockets:" {
            block = Block::Sockets;
            saw_sockets = true;
            continue;
        }
        let Some(item) = line.strip_prefix("  ") else {
            // Any other unindented line ends a block.
            block = Block::None;
            continue;
        };
        match block {
            Block::None => {}
            Block::Counters => {
                let mut it = item.split_whitespace();
                let (Some(name), Some(value), None) = (it.next(), it.next(), it.next()) else {
                    return Err(format!("bad counter line {line:?}"));
                };
                let value: u64 = value.parse().map_err(|e| format!("bad counter value in {line:?}: {e}"))?;
                if counters.insert(name.to_string(), value).is_some() {
                    return Err(format!("counter {name} printed twice"));
                }
            }
            Block::Sockets => {
                let fields: Vec<&str> = item.split_whitespace().collect();
                let [key, name, received, dropped] = fields[..] else {
                    return Err(format!("bad socket line {line:?}"));
                };
                let num = |field: &str, prefix: &str| -> Result<u64, String> {
                    field
                        .strip_prefix(prefix)
                        .ok_or_else(|| format!("expected {prefix}N in {line:?}"))?
                        .parse()
                        .map_err(|e| format!("bad number in {line:?}: {e}"))
                };
                let stats = SocketStats {
                    name: name.to_string(),
                    received: num(received, "received=")?,
                    dropped: num(dropped, "dropped=")?,
                };
                if sockets.insert(key.to_string(), stats).is_some() {
                    return Err(format!("socket {key} printed twice"));
                }
            }
        }
    }
    if !saw_counters {
        return Err("no `counters:` line".into());
    }
    if !saw_sockets {
        return Err("no `sockets:` line".into());
    }
    Ok((counters, sockets))
}

/// Whether this run asks `tunstack` for TUN offloads (`TUNSTACK_OFFLOAD`, read by
/// the binary itself; clap's boolish values).
pub fn offload_requested() -> bool {
    std::env::var("TUNSTACK_OFFLOAD")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on" | "y" | "t"))
}

/// A running `tunstack serve` inside a [`Netns`]; killed on drop if still running.
pub struct Stack<'a> {
    ns: &'a Netns,
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Lines printed before `ready` (the `listening ...` lines and anything else).
    pub startup: Vec<String>,
}

impl<'a> Stack<'a> {
    /// Starts `tunstack serve --tun tun0 --addr 198.18.0.2 --peer 198.18.0.1/24
    /// EXTRA...` in `ns` and waits (bounded) for its `ready` line.
    pub fn start(ns: &'a Netns, extra: &[&str]) -> Stack<'a> {
        let bin = tunstack_bin();
        let mut cmd = ns.command(&bin);
        cmd.args(["serve", "--tun", TUN, "--addr", STACK_ADDR, "--peer", KERNEL_CIDR])
            .args(extra)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cmdline =
            format!("tunstack serve --tun {TUN} --addr {STACK_ADDR} --peer {KERNEL_CIDR} {}", extra.join(" "));
        let cmdline = cmdline.trim_end();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {bin} in namespace {}: {e}", ns.name()));

        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_sink = Arc::clone(&stderr);
        let child_stderr = child.stderr.take().expect("piped stderr");
        thread::spawn(move || {
            for line in BufReader::new(child_stderr).lines() {
                let Ok(l) = line else { break };
                let mut s = err_sink.lock().unwrap_or_else(|p| p.into_inner());
                s.push_str(&l);
                s.push('\n');
            }
        });

        // Constructed before waiting, so that a panic below still kills it.
        let mut stack = Stack { ns, child: Some(child), lines: rx, stderr, startup: Vec::new() };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stack.lines.recv_timeout(left) {
                Ok(line) if line.trim_end() == "ready" => break,
                Ok(line) => stack.startup.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "`{cmdline}` did not print `ready` within {READY_TIMEOUT:?}\n\
                     --- stdout so far ---\n{}\n--- stderr ---\n{}",
                    stack.startup.join("\n"),
                    stack.stderr_now()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = stack.wait_exit(Duration::from_secs(5));
                    thread::sleep(Duration::from_millis(100)); // let the stderr reader finish
                    panic!(
                        "`{cmdline}` exited ({status}) before printing `ready`\n\
                         --- stdout ---\n{}\n--- stderr ---\n{}",
                        stack.startup.join("\n"),
                        stack.stderr_now()
                    );
                }
            }
        }
        // scripts/test.sh runs the TUN tests a second time with TUNSTACK_OFFLOAD=1,
        // which `tunstack` reads: make sure that run really used the offload path.
        let banner = stack.startup.first().map(String::as_str).unwrap_or_default();
        assert_eq!(
            banner.ends_with(", offloads on"),
            offload_requested(),
            "TUNSTACK_OFFLOAD={:?} but the banner says: {banner}",
            std::env::var("TUNSTACK_OFFLOAD").ok()
        );
        stack
    }

    /// The `name`s of the `listening udp/7 echo` lines, as `udp/7 echo`.
    pub fn listening(&self) -> Vec<String> {
        self.startup.iter().filter_map(|l| l.strip_prefix("listening ")).map(|s| s.trim().to_string()).collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the stack wrote to stderr so far.
    pub fn stderr_now(&self) -> String {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Panics with stderr if the stack has exited (e.g. crashed mid-test).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            panic!("tunstack exited unexpectedly ({status})\n--- stderr ---\n{}", self.stderr_now());
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> String {
        let Some(child) = self.child.as_mut() else {
            return "already reaped".into();
        };
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return status.to_string();
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => return "still running".into(),
                Err(e) => return format!("wait failed: {e}"),
            }
        }
    }

    /// SIGTERM, wait (bounded) for a clean exit 0, parse the `counters:` and
    /// `sockets:` blocks.
    pub fn stop(mut self) -> StopReport {
        self.assert_running();
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(matches!(sent, Ok(s) if s.success()), "could not send SIGTERM to tunstack (pid {pid}): {sent:?}");
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            let child = self.child.as_mut().expect("running");
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    let rest: Vec<String> = self.lines.try_iter().collect();
                    panic!(
                        "tunstack did not exit within {STOP_TIMEOUT:?} after SIGTERM\n\
                         --- stdout after ready ---\n{}\n--- stderr ---\n{}",
                        rest.join("\n"),
                        self.stderr_now()
                    );
                }
                Err(e) => panic!("waiting for tunstack failed: {e}"),
            }
        };
        self.child = None;
        // The reader threads end at EOF; bounded all the same.
        let mut out = String::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    out.push_str(&line);
                    out.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("tunstack's stdout was not closed 5 s after it exited; got so far:\n{out}")
                }
            }
        }
        thread::sleep(Duration::from_millis(50)); // let the stderr reader drain
        let stderr = self.stderr_now();
        assert!(
            status.success(),
            "tunstack exited with {status} after SIGTERM (expected exit 0)\n--- stdout ---\n{out}--- stderr ---\n{stderr}"
        );
        let (counters, sockets) = parse_stop_output(&out).unwrap_or_else(|e| {
            panic!("cannot parse tunstack's shutdown report: {e}\n--- stdout ---\n{out}--- stderr ---\n{stderr}")
        });
        let tcp = match parse_block(&out, "tcp:") {
            Ok(Some(tcp)) => tcp,
            Ok(None) => panic!("no `tcp:` block in tunstack's shutdown report\n--- stdout ---\n{out}"),
            Err(e) => panic!("cannot parse the `tcp:` block: {e}\n--- stdout ---\n{out}"),
        };
        StopReport { counters, tcp, sockets, stdout: out, stderr }
    }

    /// Sends SIGUSR1 and reads (bounded) the report it prints, up to its
    /// `snapshot done` line: the stack's counters and `tcp:` gauges right now,
    /// while it keeps running.
    pub fn snapshot(&mut self) -> Snapshot {
        self.assert_running();
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-USR1", &pid]).status();
        assert!(matches!(sent, Ok(s) if s.success()), "could not send SIGUSR1 to tunstack (pid {pid}): {sent:?}");
        let mut text = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "snapshot done" => break,
                Ok(line) => {
                    text.push_str(&line);
                    text.push('\n');
                }
                Err(e) => panic!(
                    "no `snapshot done` from tunstack within 10 s of SIGUSR1 ({e:?}); got:\n{text}\n--- stderr ---\n{}",
                    self.stderr_now()
                ),
            }
        }
        let block = |header: &str| match parse_block(&text, header) {
            Ok(Some(b)) => b,
            Ok(None) => panic!("no `{header}` block in the snapshot:\n{text}"),
            Err(e) => panic!("cannot parse the snapshot: {e}\n{text}"),
        };
        Snapshot { counters: block("counters:"), tcp: block("tcp:"), text }
    }

    /// Polls [`snapshot`](Stack::snapshot) every 100 ms until `cond` accepts one
    /// (returned), or panics after `timeout` with the last one.
    pub fn wait_for_snapshot(
        &mut self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        let deadline = Instant::now() + timeout;
        loop {
            let snap = self.snapshot();
            if cond(&snap) {
                return snap;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last snapshot:\n{}", snap.text);
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The serve process's resident set size in KiB (`VmRSS` of /proc/PID/status;
    /// `ip netns exec` execs the program, so the child's pid is tunstack's).
    pub fn vm_rss_kib(&mut self) -> u64 {
        self.assert_running();
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or_else(|| panic!("no VmRSS line in {path}:\n{status}"));
        // "VmRSS:	    5120 kB"
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cannot parse {line:?} from {path}"))
    }

    /// The TCP ports of the `listening tcp/N …` lines.
    pub fn listening_tcp_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .listening()
            .iter()
            .filter_map(|l| l.strip_prefix("tcp/"))
            .filter_map(|l| l.split_whitespace().next())
            .map(|p| p.parse().unwrap_or_else(|e| panic!("bad port in a listening line {p:?}: {e}")))
            .collect();
        ports.sort_unstable();
        ports
    }

    pub fn netns(&self) -> &Netns {
        self.ns
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            // Killed, it could not remove its control socket (`control PATH`).
            if let Some(path) = self.startup.iter().find_map(|l| l.strip_prefix("control ")) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shutdown_report() {
        let out = "counters:\n  ip_rx_packets 12\n  udp_rx 0\nsockets:\n  udp/7 echo received=3 dropped=0\n  udp/9 discard received=10 dropped=2\n";
        let (c, s) = parse_stop_output(out).unwrap();
        assert_eq!(c["ip_rx_packets"], 12);
        assert_eq!(c["udp_rx"], 0);
        assert_eq!(s["udp/9"], SocketStats { name: "discard".into(), received: 10, dropped: 2 });
        assert!(parse_stop_output("counters:\n  x y\nsockets:\n").is_err());
        assert!(parse_stop_output("counters:\n  x 1\n").is_err());
    }
}

/// A `Write` (and `tracing_subscriber` `MakeWriter`) that keeps what is written,
/// for a test to read back: a trace captured in memory.
#[derive(Clone, Default)]
pub struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Lines {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lines lock")).into_owned()
    }
}

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lines lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}
