//! The control socket end to end: `tunstack serve` in a namespace of its own,
//! kernel clients holding connections open, and `tunstack ss` / `tunstack stats`
//! reading the live stack — exactly the sockets that exist, with their queues.
//! The socket file is mode 0600, other users are refused (by the file mode, and
//! by SO_PEERCRED when the mode is loosened), and bad requests get an error reply
//! while the server keeps serving.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddrV4;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use common::{helper, poll_until, require_e2e, tunstack_bin, Netns, Stack, STACK_ADDR};
use serde::Deserialize;
use tunstack::control::SocketRow;
use tunstack::ports::Protocol;
use tunstack::Counters;

/// How long the table may take to settle (handshakes, the echo, ACKs).
const SETTLE: Duration = Duration::from_secs(15);
/// The `--udp-queue` of this test: the never-read UDP port holds 16 datagrams.
const UDP_QUEUE: usize = 16;
/// Both TCP buffers' default size.
const TCP_BUFFER: usize = 256 * 1024;

#[derive(Deserialize)]
struct SsJson {
    sockets: Vec<SocketRow>,
}

#[derive(Deserialize)]
struct StatsJson {
    counters: Counters,
}

fn addr(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(STACK_ADDR.parse().expect("stack address"), port)
}

fn kernel(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(common::KERNEL_ADDR.parse().expect("kernel address"), port)
}

fn row(netid: Protocol, state: &str, local: u16, peer: Option<SocketAddrV4>, service: Option<&str>) -> SocketRow {
    SocketRow {
        netid,
        state: state.to_string(),
        recv_q: 0,
        recv_q_max: 0,
        send_q: 0,
        send_q_max: 0,
        local: addr(local).into(),
        peer: peer.map(Into::into),
        service: service.map(str::to_string),
        drops: 0,
        datagrams: None,
        half_open: None,
        path_mtu: None,
    }
}

fn listener(port: u16, service: Option<&str>, waiting: usize) -> SocketRow {
    SocketRow {
        recv_q: waiting,
        recv_q_max: 128,
        half_open: Some(0),
        ..row(Protocol::Tcp, "LISTEN", port, None, service)
    }
}

fn connection(port: u16, peer: u16, service: Option<&str>, unread: usize) -> SocketRow {
    SocketRow {
        recv_q: unread,
        recv_q_max: TCP_BUFFER,
        send_q_max: TCP_BUFFER,
        path_mtu: Some(1500),
        ..row(Protocol::Tcp, "ESTABLISHED", port, Some(kernel(peer)), service)
    }
}

fn udp(port: u16, service: Option<&str>, datagrams: usize, bytes: usize, drops: u64) -> SocketRow {
    SocketRow {
        recv_q: bytes,
        recv_q_max: UDP_QUEUE * 65_536,
        drops,
        datagrams: Some((datagrams, UDP_QUEUE)),
        ..row(Protocol::Udp, "UNCONN", port, None, service)
    }
}

/// `tunstack ARGS` in the namespace, as root; panics unless it exits 0.
fn tunstack(ns: &Netns, args: &[&str]) -> String {
    let bin = tunstack_bin();
    ns.run_ok(&bin, args)
}

fn ss(ns: &Netns) -> Vec<SocketRow> {
    let json = tunstack(ns, &["ss", "--json"]);
    serde_json::from_str::<SsJson>(&json).unwrap_or_else(|e| panic!("bad `ss --json` output {json:?}: {e}")).sockets
}

fn stats(ns: &Netns) -> Counters {
    let json = tunstack(ns, &["stats", "--json"]);
    serde_json::from_str::<StatsJson>(&json)
        .unwrap_or_else(|e| panic!("bad `stats --json` output {json:?}: {e}"))
        .counters
}

/// The first line `child` prints, within `timeout`.
fn first_line(child: &mut Child, timeout: Duration) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| panic!("no line from the helper within {timeout:?}"))
}

/// `tunstack ss --control PATH` as user `nobody`; returns its stderr (it must fail).
fn ss_as_nobody(ns: &Netns, path: &str) -> String {
    let bin = tunstack_bin();
    let out = ns.run("setpriv", &["--reuid=65534", "--regid=65534", "--clear-groups", &bin, "ss", "--control", path]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "ss as nobody must fail; stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "nobody saw the table:\n{}", String::from_utf8_lossy(&out.stdout));
    stderr
}

/// Raw request bytes on a fresh connection, then end of input: the first reply.
fn raw_request(path: &str, bytes: &[u8]) -> serde_json::Value {
    let mut stream = UnixStream::connect(path).expect("connect to the control socket");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // An oversize request is cut short by the server: a broken pipe is expected.
    let _ = stream.write_all(bytes);
    // End of input ends a request that has no newline.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("a reply line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply {line:?} is not JSON: {e}"))
}

fn error_of(reply: &serde_json::Value) -> &str {
    assert_eq!(reply["reply"], "error", "{reply}");
    reply["error"].as_str().expect("error text")
}

#[test]
fn ss_lists_exactly_the_live_sockets_and_only_for_its_owner() {
    if !require_e2e(&["python3", "setpriv", "curl", "stat"]) {
        return;
    }
    let ns = Netns::new("control");
    let queue = UDP_QUEUE.to_string();
    let mut stack = Stack::start(
        &ns,
        &["--services", "echo,http", "--no-accept", "5000", "--udp-no-read", "5001", "--udp-queue", &queue],
    );
    let path = stack
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("control "))
        .unwrap_or_else(|| panic!("no `control PATH` line before ready: {:?}", stack.startup))
        .to_string();
    let netns = ns.run_ok("stat", &["-L", "-c", "%i", "/proc/self/ns/net"]);
    assert_eq!(path, format!("/run/tunstack/{}.{}.sock", common::TUN, netns.trim()), "the default path");
    let meta = std::fs::metadata(&path).expect("the control socket exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "mode {:o}", meta.permissions().mode());
    assert_eq!(meta.uid(), 0, "owned by the user running serve");

    // Three connections: echo with 5 bytes (echoed back), echo idle, and 1000
    // bytes to a port nobody accepts from — so nobody reads them.
    let hold = helper("tcp_hold.py");
    let mut holder = ns.spawn("python3", &[&hold, STACK_ADDR, "7:5", "7:0", "5000:1000"]);
    let held = first_line(&mut holder, SETTLE);
    let ports: Vec<u16> = held
        .strip_prefix("held ")
        .unwrap_or_else(|| panic!("unexpected helper output {held:?}"))
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    let [echoed, idle, unread] = ports[..] else { panic!("expected three ports, got {held:?}") };
    // 20 datagrams of 100 bytes to a UDP port nobody reads: 16 fit its queue.
    let flood =
        ns.python("udp_flood.py", &[STACK_ADDR, "5001", "--count", "20", "--size", "100", "--max-seconds", "10"]);
    assert!(flood.starts_with("sent=20 "), "{flood}");

    let mut expected = vec![
        listener(7, Some("echo"), 0),
        connection(7, echoed, Some("echo"), 0),
        connection(7, idle, Some("echo"), 0),
        listener(80, Some("http"), 0),
        listener(5000, None, 1),
        connection(5000, unread, None, 1000),
        udp(7, Some("echo"), 0, 0, 0),
        udp(5001, None, UDP_QUEUE, UDP_QUEUE * 100, 4),
    ];
    if idle < echoed {
        expected.swap(1, 2);
    }
    poll_until("`tunstack ss --json` to list exactly the expected sockets", SETTLE, || {
        let table = ss(&ns);
        if table == expected {
            Ok(())
        } else {
            Err(format!("got {table:#?}\nexpected {expected:#?}"))
        }
    });
    let text = tunstack(&ns, &["ss"]);
    assert!(text.starts_with("Netid  State"), "{text}");
    assert!(text.lines().any(|l| l.split_whitespace().eq([
        "udp",
        "UNCONN",
        "1600/1048576",
        "(16/16",
        "dg)",
        "-",
        "198.18.0.2:5001",
        "0.0.0.0:*",
        "-",
        "4",
        "-"
    ])));

    // The counters agree with the traffic.
    let c = stats(&ns);
    assert_eq!((c.udp_rx, c.udp_rx_delivered, c.udp_rx_queue_full, c.udp_rx_no_port), (20, 16, 4, 0), "{c:?}");
    assert_eq!((c.tcp_passive_opens, c.tcp_established, c.tcp_active_opens), (3, 3, 0), "{c:?}");
    assert_eq!((c.tcp_rx_bytes, c.tcp_tx_bytes), (1005, 5), "5 + 1000 bytes in, the 5 echoed out: {c:?}");
    assert_eq!((c.tcp_listen_overflow, c.tcp_tx_rst, c.tcp_rx_rst, c.tcp_resets), (0, 0, 0, 0), "{c:?}");
    assert_eq!((c.ip_rx_bad_checksum, c.tcp_rx_bad_checksum, c.udp_rx_bad_checksum), (0, 0, 0), "{c:?}");
    let text = tunstack(&ns, &["stats"]);
    assert!(text.lines().any(|l| l.split_whitespace().eq(["udp_rx_queue_full", "4"])), "{text}");

    // Another user: the file mode stops it at connect(2)...
    let refused = ss_as_nobody(&ns, &path);
    assert!(refused.contains("Permission denied"), "{refused}");
    // ...and with the mode loosened, the server's SO_PEERCRED check still does.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let refused = ss_as_nobody(&ns, &path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod back");
    assert!(refused.contains("refused: permission denied: uid 65534"), "{refused}");

    // Bad requests get an error reply; the server goes on serving.
    assert!(error_of(&raw_request(&path, b"garbage\n")).starts_with("malformed request"));
    assert!(error_of(&raw_request(&path, b"{\"cmd\":\"reboot\"}\n")).contains("unknown variant `reboot`"));
    assert!(error_of(&raw_request(&path, b"{\"cmd\":\"sockets\"")).starts_with("malformed request"));
    assert_eq!(error_of(&raw_request(&path, &vec![b'{'; 1 << 20])), "request longer than 4096 bytes");
    let mut stream = UnixStream::connect(&path).expect("connect");
    stream.write_all(b"{\"cmd\":\"stats\"}\n{\"cmd\":\"sockets\"}\n").expect("two requests");
    stream.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut replies = String::new();
    stream.read_to_string(&mut replies).expect("both replies, then EOF");
    let kinds: Vec<String> = replies
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["reply"].to_string())
        .collect();
    assert_eq!(kinds, ["\"stats\"", "\"sockets\""]);
    stack.assert_running();

    // The HTTP page shows the same table, its own connection included.
    let page = ns.run_ok("curl", &["-sS", "--max-time", "10", &format!("http://{STACK_ADDR}/sockets")]);
    let own = page.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 5 && f[0] == "tcp" && f[1] == "ESTABLISHED" && f[4] == "198.18.0.2:80"
    });
    assert!(own, "the page lists its own connection:\n{page}");
    assert!(page.lines().any(|l| l.split_whitespace().eq(["udp_rx_queue_full", "4"])), "{page}");
    assert!(page.contains("198.18.0.2:5001"), "{page}");

    // Connections go: the holder closes, the echo service closes its side.
    drop(holder.stdin.take());
    let status = holder.wait().expect("the holder exits");
    assert!(status.success(), "tcp_hold.py failed: {status}");
    poll_until("the echo connections to leave the table", SETTLE, || {
        let table = ss(&ns);
        let left = table.iter().filter(|r| r.local.port() == 7 && r.peer.is_some()).count();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{table:#?}"))
        }
    });

    let report = stack.stop();
    assert_eq!(report.socket("udp/5001").dropped, 4, "{}", report.dump());
    assert!(!std::path::Path::new(&path).exists(), "serve removes its control socket on exit");
}
