//! The socket table through the simulator (two stacks, virtual time), its text
//! form, and the control server on a real Unix socket (no TUN, no root).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::format;
use super::protocol::{Reply, Request, MAX_REQUEST};
use super::server::{allowed, ControlServer};
use crate::config::QueueLimit;
use crate::counters::Counters;
use crate::ports::Protocol;
use crate::shared::TcpHandle;
use crate::sim::{LinkConfig, Sim, ADDR_A, ADDR_B};
use crate::stack::SocketRow;

const MINUTE: Duration = Duration::from_secs(60);

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => panic!("IPv4 only, got {a}"),
    }
}

/// A row with every optional field empty, for tests to fill in.
fn row(netid: Protocol, state: &str, local: SocketAddrV4, peer: Option<SocketAddrV4>) -> SocketRow {
    SocketRow {
        netid,
        state: state.to_string(),
        recv_q: 0,
        recv_q_max: 0,
        send_q: 0,
        send_q_max: 0,
        local: local.into(),
        peer: peer.map(SocketAddr::V4),
        service: None,
        drops: 0,
        datagrams: None,
        half_open: None,
        path_mtu: None,
    }
}

/// A connects to B's `port`; returns A's handle once both ends are ESTABLISHED.
fn connect(sim: &mut Sim, port: u16) -> TcpHandle {
    let now = sim.now();
    let conn = sim.a.tcp_connect(now, SocketAddr::from((ADDR_B, port))).expect("connect");
    let up = sim.run_until(MINUTE, |sim| {
        sim.a.tcp_connect_status(conn).is_ok() && sim.b.socket_table().iter().any(|r| r.state == "ESTABLISHED")
    });
    assert!(up, "no handshake");
    conn
}

/// A sends `data` on `conn` and the simulator runs until B acknowledged it all.
fn send_all(sim: &mut Sim, conn: TcpHandle, data: &[u8]) {
    let now = sim.now();
    assert_eq!(sim.a.tcp_send(now, conn, data).expect("send"), data.len());
    let local = v4(sim.a.tcp_local_addr(conn).expect("local"));
    let acked = sim.run_until(MINUTE, |sim| {
        sim.a.socket_table().iter().any(|r| r.local == SocketAddr::V4(local) && r.send_q == 0)
    });
    assert!(acked, "data never acknowledged");
}

/// What `ss` shows on B: a listener with one connection accepted and one waiting,
/// bytes nobody read, and a UDP queue at its bound — each number exact.
#[test]
fn socket_table_shows_states_queues_bounds_and_drops() {
    let mut sim = Sim::new(LinkConfig::default());
    let echo = SocketAddrV4::new(ADDR_B, 7);
    let listener = sim.b.tcp_listen(SocketAddr::V4(echo), 4).expect("listen");
    let first = connect(&mut sim, 7);
    let (accepted, _) = sim.b.tcp_accept(listener).expect("accept");
    send_all(&mut sim, first, &[1; 1000]);
    let second = connect(&mut sim, 7);
    send_all(&mut sim, second, &[2; 10]);

    let discard = SocketAddrV4::new(ADDR_B, 9);
    let udp = sim.b.udp_bind(SocketAddr::V4(discard)).expect("bind");
    sim.b.udp_set_recv_queue(udp, QueueLimit { datagrams: 2, bytes: 4096 }).expect("limit");
    let client = sim.a.udp_bind("0.0.0.0:0".parse().expect("addr")).expect("bind");
    sim.a.udp_connect(client, SocketAddr::V4(discard)).expect("connect");
    for _ in 0..3 {
        sim.a.udp_send(client, &[0; 100]).expect("send");
    }
    sim.run_until(MINUTE, |_| false);

    let a_port = |h| v4(sim.a.tcp_local_addr(h).expect("local"));
    let (first_peer, second_peer) = (a_port(first), a_port(second));
    assert_eq!(v4(sim.b.tcp_peer_addr(accepted).expect("peer")), first_peer);
    let buffer = 256 * 1024;
    let mut expected = vec![
        SocketRow {
            recv_q: 1,
            recv_q_max: 4,
            service: Some("echo".into()),
            half_open: Some(0),
            ..row(Protocol::Tcp, "LISTEN", echo, None)
        },
        SocketRow {
            recv_q: 1000,
            recv_q_max: buffer,
            send_q_max: buffer,
            service: Some("echo".into()),
            path_mtu: Some(1500),
            ..row(Protocol::Tcp, "ESTABLISHED", echo, Some(first_peer))
        },
        SocketRow {
            recv_q: 10,
            recv_q_max: buffer,
            send_q_max: buffer,
            service: Some("echo".into()),
            path_mtu: Some(1500),
            ..row(Protocol::Tcp, "ESTABLISHED", echo, Some(second_peer))
        },
        SocketRow {
            recv_q: 200,
            recv_q_max: 4096,
            service: Some("discard".into()),
            drops: 1,
            datagrams: Some((2, 2)),
            ..row(Protocol::Udp, "UNCONN", discard, None)
        },
    ];
    // The connections sort by peer port: the order of A's ephemeral ports.
    if second_peer.port() < first_peer.port() {
        expected.swap(1, 2);
    }
    assert_eq!(sim.b.socket_table(), expected);

    let a_table = sim.a.socket_table();
    let udp_row = a_table.iter().find(|r| r.netid == Protocol::Udp).expect("A's UDP socket");
    assert_eq!(
        (udp_row.state.as_str(), udp_row.peer, udp_row.service.as_deref()),
        ("ESTAB", Some(SocketAddr::V4(discard)), Some("discard"))
    );
    assert!(a_table.iter().filter(|r| r.netid == Protocol::Tcp).all(|r| r.state == "ESTABLISHED" && r.send_q == 0));
}

/// The side that closes first ends in TIME-WAIT; the table follows each state.
#[test]
fn socket_table_follows_the_close() {
    let mut sim = Sim::new(LinkConfig::default());
    let listener = sim.b.tcp_listen("0.0.0.0:80".parse().expect("addr"), 4).expect("listen");
    let conn = connect(&mut sim, 80);
    let (accepted, _) = sim.b.tcp_accept(listener).expect("accept");
    let now = sim.now();
    sim.b.tcp_close(now, accepted);
    let state_of = |sim: &Sim, port: u16| {
        sim.b.socket_table().into_iter().find(|r| r.peer.is_some_and(|p| p.port() == port)).map(|r| r.state)
    };
    let a_port = v4(sim.a.tcp_local_addr(conn).expect("local")).port();
    assert!(sim.run_until(MINUTE, |sim| state_of(sim, a_port).as_deref() == Some("FIN-WAIT-2")));
    let a_row = sim.a.socket_table().into_iter().find(|r| r.state != "LISTEN").expect("A's connection");
    assert_eq!((a_row.state.as_str(), a_row.service.as_deref()), ("CLOSE-WAIT", Some("http")));
    let now = sim.now();
    sim.a.tcp_close(now, conn);
    assert!(sim.run_until(MINUTE, |sim| state_of(sim, a_port).as_deref() == Some("TIME-WAIT")));
    assert_eq!(sim.a.socket_table().iter().map(|r| r.state.as_str()).collect::<Vec<_>>(), ["LAST-ACK"]);
    assert!(sim.run_until(MINUTE, |sim| sim.a.socket_table().is_empty()), "A frees its connection after LAST-ACK");
    assert_eq!(state_of(&sim, a_port).as_deref(), Some("TIME-WAIT"), "B lingers 2 MSL");
}

/// SYNs refused by a full backlog are the listener's drops, and the stack-wide
/// counter agrees.
#[test]
fn listener_drops_count_backlog_overflows() {
    let mut sim = Sim::new(LinkConfig::default());
    sim.b.tcp_listen("0.0.0.0:7".parse().expect("addr"), 1).expect("listen");
    connect(&mut sim, 7);
    let now = sim.now();
    sim.a.tcp_connect(now, SocketAddr::from((ADDR_B, 7))).expect("connect");
    sim.run_until(Duration::from_secs(5), |_| false);
    let table = sim.b.socket_table();
    let listener = table.iter().find(|r| r.state == "LISTEN").expect("listener");
    assert_eq!((listener.recv_q, listener.recv_q_max), (1, 1));
    assert!(listener.drops >= 2, "the SYN and its retransmissions were refused: {listener:?}");
    assert_eq!(listener.drops, sim.b.counters().tcp_listen_overflow);
    assert_eq!(sim.a.socket_table().iter().filter(|r| r.state == "SYN-SENT").count(), 1);
}

#[test]
fn table_text_is_aligned_like_ss() {
    let local = SocketAddrV4::new(ADDR_B, 7);
    let peer = SocketAddrV4::new(ADDR_A, 40000);
    let rows = [
        SocketRow {
            recv_q_max: 128,
            service: Some("echo".into()),
            half_open: Some(0),
            ..row(Protocol::Tcp, "LISTEN", local, None)
        },
        SocketRow {
            recv_q: 5,
            recv_q_max: 262144,
            send_q_max: 262144,
            service: Some("echo".into()),
            path_mtu: Some(1280),
            ..row(Protocol::Tcp, "ESTABLISHED", local, Some(peer))
        },
        SocketRow {
            recv_q: 1600,
            recv_q_max: 1048576,
            drops: 4,
            datagrams: Some((16, 16)),
            ..row(Protocol::Udp, "UNCONN", SocketAddrV4::new(ADDR_B, 5001), None)
        },
    ];
    let text = format::socket_table(&rows);
    let expected = "\
Netid  State        Recv-Q                   Send-Q    Local Address:Port  Peer Address:Port  Service  Drops  PMTU
tcp    LISTEN       0/128                    -         198.18.0.2:7        0.0.0.0:*          echo     0      -
tcp    ESTABLISHED  5/262144                 0/262144  198.18.0.2:7        198.18.0.1:40000   echo     0      1280
udp    UNCONN       1600/1048576 (16/16 dg)  -         198.18.0.2:5001     0.0.0.0:*          -        4      -
";
    assert_eq!(text, expected);
}

/// IPv6 UDP sockets are listed as `ss` lists them: `[::]:7` for a dual-stack
/// socket, an IPv4 peer of an IPv6 socket mapped, IPv4 before IPv6 on a port.
#[test]
fn ipv6_udp_sockets_are_listed_as_ss_lists_them() {
    let config = crate::StackConfig { addr6: Some("2001:2::2".parse().expect("addr")), ..Default::default() };
    let mut stack = crate::Stack::new(config);
    let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");
    stack.udp_bind(addr("[::]:7")).expect("dual-stack");
    let six = stack.udp_bind(addr("[2001:2::2]:9")).expect("IPv6");
    stack.udp_connect(six, addr("[2001:2::1]:6000")).expect("connect");
    let mapped = stack.udp_bind(addr("[::]:5000")).expect("dual-stack");
    stack.udp_connect(mapped, addr("198.18.0.1:53")).expect("connect");
    stack.udp_bind(addr("0.0.0.0:9")).expect("IPv4 beside the IPv6-only [2001:2::2]:9");
    let text = format::socket_table(&stack.socket_table());
    let expected = "\
Netid  State   Recv-Q                 Send-Q  Local Address:Port  Peer Address:Port       Service  Drops  PMTU
udp    UNCONN  0/1048576 (0/1024 dg)  -       [::]:7              [::]:*                  echo     0      -
udp    UNCONN  0/1048576 (0/1024 dg)  -       198.18.0.2:9        0.0.0.0:*               discard  0      -
udp    ESTAB   0/1048576 (0/1024 dg)  -       [2001:2::2]:9       [2001:2::1]:6000        discard  0      -
udp    ESTAB   0/1048576 (0/1024 dg)  -       [::]:5000           [::ffff:198.18.0.1]:53  domain   0      -
";
    assert_eq!(text, expected);
}

#[test]
fn stats_text_groups_by_layer() {
    let text = format::stats(&Counters { udp_rx_queue_full: 4, ..Counters::default() });
    let headings: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(headings, ["ip:", "ip6:", "icmp:", "icmp6:", "udp:", "raw:", "proto:", "tcp:"]);
    assert!(text.lines().any(|l| l.split_whitespace().eq(["udp_rx_queue_full", "4"])), "{text}");
    assert_eq!(text.lines().count(), Counters::default().iter().count() + 8);
}

#[test]
fn only_root_and_the_owner_may_ask() {
    assert!(allowed(0, 1000));
    assert!(allowed(1000, 1000));
    assert!(!allowed(65534, 1000));
    assert!(!allowed(65534, 0));
}

/// A socket path in the temporary directory, removed (with its directory) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tunstack-control-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server whose answers are fixed, so the tests see the protocol alone.
fn fixed_server(path: &std::path::Path) -> ControlServer {
    let counters = Counters { tcp_rx_segments: 3, ..Counters::default() };
    ControlServer::start(
        path,
        Arc::new(move |request| match request {
            Request::Sockets => Reply::Sockets { sockets: Vec::new() },
            Request::Stats => Reply::Stats { counters: Box::new(counters.clone()) },
        }),
    )
    .expect("control server starts")
}

/// One connection to the server: write raw bytes, read reply lines.
struct Client {
    reader: BufReader<UnixStream>,
}

impl Client {
    fn connect(path: &std::path::Path) -> Client {
        let stream = UnixStream::connect(path).expect("connect to the control socket");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Client { reader: BufReader::new(stream) }
    }

    fn ask(&mut self, raw: &[u8]) -> Reply {
        // A broken pipe on an oversize request is expected: the server stops reading.
        let _ = self.reader.get_mut().write_all(raw);
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad reply {line:?}: {e}"))
    }
}

fn error_text(reply: Reply) -> String {
    match reply {
        Reply::Error { error } => error,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[test]
fn server_answers_refuses_garbage_and_keeps_serving() {
    let dir = TempDir::new("protocol");
    let path = dir.0.join("tun0.sock");
    let server = fixed_server(&path);
    let mode = std::fs::metadata(&path).expect("socket file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

    let mut client = Client::connect(&path);
    assert_eq!(client.ask(b"{\"cmd\":\"sockets\"}\n"), Reply::Sockets { sockets: Vec::new() });
    assert!(error_text(client.ask(b"garbage\n")).starts_with("malformed request"));
    assert!(error_text(client.ask(b"{\"cmd\":\"shutdown\"}\n")).contains("unknown variant `shutdown`"));
    assert!(error_text(client.ask(b"\n")).starts_with("empty request"));
    // The same connection still works after each error.
    match client.ask(b"{\"cmd\":\"stats\"}\n") {
        Reply::Stats { counters } => assert_eq!(counters.tcp_rx_segments, 3),
        other => panic!("expected stats, got {other:?}"),
    }

    let mut huge = Client::connect(&path);
    let error = error_text(huge.ask(&vec![b'x'; 1 << 20]));
    assert_eq!(error, format!("request longer than {MAX_REQUEST} bytes"));
    let mut rest = Vec::new();
    let _ = huge.reader.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the server hung up after the oversize request");

    let via_client = super::client::request(&path, Request::Sockets).expect("request");
    assert_eq!(via_client, Reply::Sockets { sockets: Vec::new() });
    drop(server);
    assert!(!path.exists(), "the socket file is removed on drop");
}

#[test]
fn stale_sockets_are_replaced_live_ones_and_other_files_are_not() {
    let dir = TempDir::new("stale");
    let path = dir.0.join("tun0.sock");
    let first = fixed_server(&path);
    let Err(e) = ControlServer::start(&path, Arc::new(|_| Reply::error("second"))) else {
        panic!("a second server took over a live socket");
    };
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    drop(first);

    // A server that died without cleaning up leaves a socket nobody answers on.
    let stale = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    drop(stale);
    assert!(path.exists());
    let second = fixed_server(&path);
    assert!(matches!(super::client::request(&path, Request::Stats), Ok(Reply::Stats { .. })));
    drop(second);

    std::fs::write(&path, b"not a socket").expect("write a file");
    let Err(e) = ControlServer::start(&path, Arc::new(|_| Reply::error("x"))) else {
        panic!("a regular file was replaced");
    };
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert_eq!(std::fs::read(&path).expect("still there"), b"not a socket");
}

/// `answer` on a real runtime (over an in-memory link): what `serve` replies.
#[test]
fn answer_reads_a_running_stack() {
    let (dev, _peer) = crate::device::link::pair(1500).expect("a link pair");
    let runtime = crate::Runtime::spawn(dev, crate::StackConfig::default()).expect("spawn");
    let socket = crate::UdpSocket::bind(&runtime, "0.0.0.0:7").expect("bind");
    let Reply::Sockets { sockets } = super::answer(&runtime, Request::Sockets) else {
        panic!("expected the socket table");
    };
    assert_eq!(sockets.len(), 1);
    assert_eq!((sockets[0].netid, sockets[0].local.port(), sockets[0].state.as_str()), (Protocol::Udp, 7, "UNCONN"));
    assert!(matches!(super::answer(&runtime, Request::Stats), Reply::Stats { .. }));
    drop(socket);
    runtime.shutdown();
}
