//! TCP between two stacks in one process, without root: each stack has its own
//! [`Runtime`] thread, and an in-memory link (`device::link::pair`) joins them.
//! Here the stack is on both sides, so what the kernel tests cannot see becomes
//! visible: the *client's* ephemeral ports and TIME-WAIT.
//!
//! Every blocking call is bounded (connect and read timeouts, channel waits with
//! timeouts), so a lost packet fails a test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tunstack::congestion::CongestionAlgorithm;
use tunstack::device::link;
use tunstack::{Runtime, StackConfig, TcpListener, TcpStream};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
/// The most any single step of a test may wait for the other stack.
const BOUND: Duration = Duration::from_secs(30);
/// A short maximum segment lifetime, so TIME-WAIT (2 × MSL = 4 s) passes
/// quickly. Not shorter: TIME-WAIT exists to re-acknowledge the peer's FIN if our
/// last ACK is lost (RFC 9293 §3.6.1), so it must outlast the peer's
/// retransmission timeout (200 ms and up, doubling, 3 s after a retransmitted
/// handshake, RFC 6298 §5.7). The in-memory link does drop packets in a burst of
/// 500 connections (a full socket buffer, like a full wire queue); with
/// MSL = 100 ms a retransmitted FIN found the connection gone and drew a RST.
const MSL: Duration = Duration::from_secs(2);

/// Two running stacks on either end of a 1500-byte-MTU link; both are shut down
/// when the test ends, pass or fail.
struct Net {
    a: Runtime,
    b: Runtime,
}

impl Net {
    fn new() -> Net {
        let (end_a, end_b) = link::pair(1500).expect("link pair");
        let config = |addr, addr6| {
            let mut c = StackConfig { addr, addr6: Some(addr6), ..StackConfig::default() };
            c.tcp.msl = MSL;
            c
        };
        Net {
            a: Runtime::spawn(end_a, config(A, A6)).expect("runtime A"),
            b: Runtime::spawn(end_b, config(B, B6)).expect("runtime B"),
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.a.shutdown();
        self.b.shutdown();
    }
}

/// Connections, and bound ports of the ephemeral range, of one stack.
fn tcp_usage(runtime: &Runtime) -> (usize, Vec<u16>) {
    runtime.with_stack(|stack, _| {
        let range = stack.config().ports.ephemeral.clone();
        let ephemeral = stack.tcp_ports().iter().filter(|p| range.contains(p)).collect();
        (stack.tcp_connection_count(), ephemeral)
    })
}

/// An echo server on B's port 7: a thread per connection, until the runtime stops.
fn spawn_echo_server(b: &Runtime) {
    let listener = TcpListener::bind(b, SocketAddr::V4(SocketAddrV4::new(B, 7))).expect("listen on B:7");
    thread::spawn(move || {
        while let Ok((mut stream, _)) = listener.accept() {
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return, // end of stream: drop closes our side
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .expect("spawn an echo thread");
        }
    });
}

/// `len` bytes that differ between connections, so a crossed stream is caught.
fn payload(conn: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ conn.wrapping_mul(7919)) as u8).collect()
}

#[test]
fn five_hundred_concurrent_connections_leak_no_connection_and_no_ephemeral_port() {
    const N: usize = 500;
    const SIZE: usize = 2048;
    let net = Net::new();
    spawn_echo_server(&net.b);

    // 500 threads each connect from an ephemeral port of A, send SIZE bytes and
    // read their echo, then hand the still-open stream to the test: once all 500
    // have arrived, all 500 connections are open at the same time.
    let (tx, rx) = mpsc::channel();
    let server = SocketAddr::V4(SocketAddrV4::new(B, 7));
    for conn in 0..N {
        let a = net.a.clone();
        let tx = tx.clone();
        thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let result = (|| -> std::io::Result<TcpStream> {
                    let mut stream = TcpStream::connect_timeout(&a, &server, BOUND)?;
                    stream.set_read_timeout(Some(BOUND))?;
                    let data = payload(conn, SIZE);
                    stream.write_all(&data)?;
                    let mut back = vec![0u8; SIZE];
                    stream.read_exact(&mut back)?;
                    if back != data {
                        return Err(std::io::Error::new(ErrorKind::InvalidData, "echo differs"));
                    }
                    Ok(stream)
                })();
                let _ = tx.send((conn, result));
            })
            .expect("spawn a client thread");
    }
    drop(tx);
    let deadline = Instant::now() + 2 * BOUND;
    let mut streams = Vec::with_capacity(N);
    while streams.len() < N {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Ok(stream))) => streams.push(stream),
            Ok((conn, Err(e))) => panic!("connection {conn}: {e}"),
            Err(e) => panic!("only {} of {N} connections done within {:?}: {e}", streams.len(), 2 * BOUND),
        }
    }

    let (open, ports) = tcp_usage(&net.a);
    assert_eq!(open, N, "A holds all {N} connections at once");
    assert_eq!(ports.len(), N, "one ephemeral port per connection");

    // A closes first (FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2 × MSL); B's echo
    // threads see end of stream and close (CLOSE-WAIT, LAST-ACK).
    drop(streams);
    let deadline = Instant::now() + BOUND;
    loop {
        let (a_conns, a_ports) = tcp_usage(&net.a);
        let (b_conns, _) = tcp_usage(&net.b);
        if a_conns == 0 && b_conns == 0 && a_ports.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {BOUND:?}: A has {a_conns} connections and {} ephemeral ports bound \
             (first: {:?}), B has {b_conns} connections",
            a_ports.len(),
            a_ports.first()
        );
        thread::sleep(Duration::from_millis(50));
    }

    let (ca, cb) = (net.a.counters(), net.b.counters());
    let nonzero = |c: &tunstack::Counters| {
        c.iter().filter(|(_, v)| *v > 0).map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    let both = format!("A: {}\nB: {}", nonzero(&ca), nonzero(&cb));
    assert_eq!(ca.tcp_active_opens, N as u64);
    assert_eq!(ca.tcp_established, N as u64);
    assert_eq!(cb.tcp_established, N as u64);
    assert_eq!((ca.tcp_closed, cb.tcp_closed), (N as u64, N as u64), "every connection freed exactly once");
    assert_eq!((ca.tcp_resets, cb.tcp_resets), (0, 0), "no connection may end in a reset\n{both}");
    assert_eq!(ca.tcp_rx_bytes, (N * SIZE) as u64);
    // Only B's listening port is left in either TCP namespace.
    net.b.with_stack(|stack, _| assert_eq!(stack.tcp_ports().iter().collect::<Vec<_>>(), vec![7]));
    net.a.with_stack(|stack, _| assert!(stack.tcp_ports().is_empty()));
}

/// A stream chooses its congestion control before it writes (CUBIC by default),
/// and keeps it once data went out.
#[test]
fn a_stream_picks_its_congestion_control_before_writing() {
    let net = Net::new();
    spawn_echo_server(&net.b);
    let server = SocketAddr::V4(SocketAddrV4::new(B, 7));
    let mut stream = TcpStream::connect_timeout(&net.a, &server, BOUND).expect("connects");
    stream.set_read_timeout(Some(BOUND)).expect("a read timeout");
    assert_eq!(stream.congestion().expect("open"), "cubic");
    stream.set_congestion(CongestionAlgorithm::NewReno).expect("before data: allowed");
    assert_eq!(stream.congestion().expect("open"), "newreno");
    stream.write_all(b"ping").expect("write");
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).expect("the echo");
    assert_eq!(&echo, b"ping");
    let late = stream.set_congestion(CongestionAlgorithm::Cubic).map_err(|e| e.kind());
    assert_eq!(late, Err(ErrorKind::InvalidInput), "not once data went out");
    assert_eq!(stream.congestion().expect("open"), "newreno");
}

/// std's conventions: `&TcpStream` is `Read` and `Write`, so one thread writes
/// while another reads the same stream (no clone needed), and timeouts and
/// non-blocking mode are set through `&self` and belong to the connection, so
/// a clone sees them.
#[test]
fn a_shared_stream_reads_and_writes_from_two_threads_and_its_clones_share_settings() {
    let net = Net::new();
    spawn_echo_server(&net.b);
    let server = SocketAddr::V4(SocketAddrV4::new(B, 7));
    let stream = TcpStream::connect_timeout(&net.a, &server, BOUND).expect("connects");
    stream.set_read_timeout(Some(BOUND)).expect("a read timeout");
    let clone = stream.try_clone().expect("clone");
    assert_eq!(clone.read_timeout().expect("open"), Some(BOUND), "the clone shares the timeout");
    let sent = payload(7, 200_000);
    let echoed = thread::scope(|s| {
        let shared = &stream;
        s.spawn(move || {
            let mut w: &TcpStream = shared;
            w.write_all(&sent).expect("write");
        });
        let mut r: &TcpStream = shared;
        let mut got = vec![0u8; 200_000];
        r.read_exact(&mut got).expect("the echo");
        got
    });
    assert_eq!(echoed, payload(7, 200_000));
    clone.set_nonblocking(true).expect("non-blocking");
    let mut byte = [0u8; 1];
    let e = (&stream).read(&mut byte).expect_err("nothing to read");
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "the original is non-blocking too");
}

/// TCP over IPv6 through the blocking API: one dual-stack `[::]:7` listener
/// echoes 1 MiB byte-exact to an IPv6 client and to an IPv4 one (accepted as
/// `::ffff:198.18.0.1`); with `only_v6` the IPv4 client is refused.
#[test]
fn ipv6_and_ipv4_clients_reach_one_dual_stack_listener() {
    let net = Net::new();
    let listener = TcpListener::bind(&net.b, "[::]:7").expect("listen on [::]:7");
    let (peers, accepted) = mpsc::channel();
    thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut stream, peer)) = listener.accept() else { return };
            let _ = peers.send(peer);
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
        listener.set_only_v6(true).expect("an IPv6 listener");
        let _ = peers.send("[::]:0".parse().expect("addr"));
        // Held open (the runtime stops it) so that IPv4 finds it IPv6-only.
        let _ = listener.accept();
    });
    let sent = payload(6, 1 << 20);
    let to6 = SocketAddr::from((B6, 7));
    for (to, seen_as) in [(to6, A6), (SocketAddr::from((B, 7)), A.to_ipv6_mapped())] {
        let mut stream = TcpStream::connect_timeout(&net.a, &to, BOUND).expect("connect");
        stream.set_read_timeout(Some(BOUND)).expect("timeout");
        assert_eq!(stream.peer_addr().expect("peer"), to);
        let writer = {
            let mut w = stream.try_clone().expect("clone");
            let data = sent.clone();
            thread::spawn(move || {
                w.write_all(&data).expect("write");
                w.shutdown(std::net::Shutdown::Write).expect("shutdown");
            })
        };
        let mut back = Vec::new();
        stream.read_to_end(&mut back).expect("the echo");
        writer.join().expect("writer");
        assert!(back == sent, "echo over {to} differs ({} of {} bytes)", back.len(), sent.len());
        let peer = accepted.recv_timeout(BOUND).expect("accepted");
        assert_eq!(peer.ip(), seen_as, "the listener names the {to} client");
    }
    accepted.recv_timeout(BOUND).expect("only_v6 set");
    let refused = TcpStream::connect_timeout(&net.a, &SocketAddr::from((B, 7)), BOUND).expect_err("IPv6 only now");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let mut six = TcpStream::connect_timeout(&net.a, &to6, BOUND).expect("IPv6 still");
    six.write_all(b"x").expect("write");
}
