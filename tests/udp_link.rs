//! The public API end to end, in one process and without root: two stacks, each
//! with its own [`Runtime`] thread, joined by an in-memory point-to-point link
//! (`device::link::pair`), talking through [`UdpSocket`]s.
//!
//! Every blocking call is bounded (a read timeout, or a channel wait with a
//! timeout), so a lost packet fails a test instead of hanging it.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tunstack::device::link;
use tunstack::{Runtime, StackConfig, UdpSocket};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
/// The most any single step of a test may wait for the other stack.
const BOUND: Duration = Duration::from_secs(10);

/// Two running stacks on either end of a 1500-byte-MTU link; both are shut down
/// when the test ends, pass or fail.
struct Net {
    a: Runtime,
    b: Runtime,
}

impl Net {
    fn new() -> Net {
        let (end_a, end_b) = link::pair(1500).expect("link pair");
        let config = |addr, addr6| StackConfig { addr, addr6: Some(addr6), ..StackConfig::default() };
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

fn sa(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}

/// A socket on `runtime` whose reads give up after [`BOUND`].
fn bound_socket(runtime: &Runtime, addr: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind(runtime, addr).expect("bind");
    socket.set_read_timeout(Some(BOUND)).expect("timeout");
    socket
}

#[test]
fn send_to_and_recv_from_round_trip() {
    let net = Net::new();
    let client = bound_socket(&net.a, sa(Ipv4Addr::UNSPECIFIED, 0));
    let server = bound_socket(&net.b, sa(B, 7));
    let client_addr = client.local_addr().expect("local");
    assert_eq!(client_addr.ip(), A);

    client.send_to(b"hello", sa(B, 7)).expect("send");
    let mut buf = [0u8; 2048];
    let (n, from) = server.recv_from(&mut buf).expect("server receives");
    // The source address is the client's address and ephemeral port.
    assert_eq!((&buf[..n], from), (&b"hello"[..], client_addr));

    server.send_to(b"HELLO", from).expect("reply");
    let (n, from) = client.recv_from(&mut buf).expect("client receives");
    assert_eq!((&buf[..n], from), (&b"HELLO"[..], sa(B, 7)));
}

#[test]
fn connected_sockets_send_recv_and_filter_other_peers() {
    let net = Net::new();
    let client = bound_socket(&net.a, sa(A, 5000));
    let server = bound_socket(&net.b, sa(B, 7));
    let stranger = bound_socket(&net.b, sa(B, 8));
    client.connect(sa(B, 7)).expect("connect");
    assert_eq!(client.peer_addr().expect("peer"), sa(B, 7));

    client.send(b"ping").expect("send");
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).expect("server receives");
    assert_eq!((&buf[..n], from), (&b"ping"[..], sa(A, 5000)));

    // The stranger's datagram goes out first, but a connected socket only accepts
    // its peer's: the next thing the client reads is the server's answer.
    stranger.send_to(b"intruder", sa(A, 5000)).expect("send");
    server.send_to(b"pong", sa(A, 5000)).expect("send");
    let n = client.recv(&mut buf).expect("client receives");
    assert_eq!(&buf[..n], b"pong");
    assert!(net.a.counters().udp_rx_no_port >= 1);
}

/// IPv6 through the blocking API: IPv6 sockets both ends, a dual-stack server
/// that names an IPv4 client by its mapped address, `only_v6` refusing IPv4
/// afterwards, and an ICMPv6 port unreachable refusing a connected socket.
#[test]
fn ipv6_and_dual_stack_sockets_round_trip() {
    let net = Net::new();
    let server = bound_socket(&net.b, "[::]:7".parse().expect("addr"));
    let six = bound_socket(&net.a, "[::]:0".parse().expect("addr"));
    let four = bound_socket(&net.a, sa(Ipv4Addr::UNSPECIFIED, 0));
    let mut buf = [0u8; 8192];
    let b6_7 = SocketAddr::from((B6, 7));
    for (client, to, from) in [
        (&six, b6_7, SocketAddr::from((A6, six.local_addr().expect("local").port()))),
        (&four, sa(B, 7), SocketAddr::from((A.to_ipv6_mapped(), four.local_addr().expect("local").port()))),
    ] {
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        client.send_to(&data, to).expect("send");
        let (n, came) = server.recv_from(&mut buf).expect("server receives");
        assert_eq!((&buf[..n], came), (&data[..], from));
        server.send_to(&buf[..n], came).expect("echo");
        let (n, came) = client.recv_from(&mut buf).expect("client receives");
        assert_eq!((&buf[..n], came), (&data[..], to));
    }

    server.set_only_v6(true).expect("an IPv6 socket");
    assert!(server.only_v6().expect("open"));
    four.connect(sa(B, 7)).expect("connect");
    four.send(b"refused now").expect("send");
    assert_eq!(four.recv(&mut buf).expect_err("refused").kind(), ErrorKind::ConnectionRefused);

    six.connect(SocketAddr::from((B6, 9))).expect("connect");
    six.send(b"nobody on 9").expect("send");
    assert_eq!(six.recv(&mut buf).expect_err("refused").kind(), ErrorKind::ConnectionRefused);
    assert_eq!(net.b.counters().icmp6_tx_dest_unreachable, 1);
}

#[test]
fn read_timeout_gives_timed_out_after_the_timeout() {
    let net = Net::new();
    let socket = UdpSocket::bind(&net.a, sa(A, 5000)).expect("bind");
    assert_eq!(
        socket.set_read_timeout(Some(Duration::ZERO)).expect_err("zero is refused, like std").kind(),
        ErrorKind::InvalidInput
    );
    let timeout = Duration::from_millis(100);
    socket.set_read_timeout(Some(timeout)).expect("timeout");
    let start = Instant::now();
    let err = socket.recv(&mut [0u8; 16]).expect_err("nothing to read");
    let waited = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(waited >= timeout, "returned early after {waited:?}");
    assert!(waited < BOUND, "took {waited:?}");
}

#[test]
fn nonblocking_recv_gives_would_block_at_once() {
    let net = Net::new();
    let socket = UdpSocket::bind(&net.a, sa(A, 5000)).expect("bind");
    socket.set_nonblocking(true).expect("non-blocking");
    let start = Instant::now();
    let err = socket.recv_from(&mut [0u8; 16]).expect_err("nothing to read");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(start.elapsed() < BOUND);
}

#[test]
fn sending_to_a_closed_port_is_refused() {
    let net = Net::new();
    let client = bound_socket(&net.a, sa(A, 5000));
    client.connect(sa(B, 9)).expect("connect");
    client.send(b"is anyone there?").expect("send");
    // B answers ICMP port unreachable (RFC 1122 4.1.3.1); A reports it to the
    // connected socket (RFC 1122 4.1.3.3) as the error of its next call.
    let err = client.recv(&mut [0u8; 16]).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // Once only.
    client.set_nonblocking(true).expect("non-blocking");
    let again = client.recv(&mut [0u8; 16]).expect_err("nothing queued");
    assert_eq!(again.kind(), ErrorKind::WouldBlock);
    assert_eq!(net.b.counters().udp_rx_no_port, 1);
    assert_eq!(net.a.counters().icmp_rx_dest_unreachable, 1);
}

#[test]
fn a_60000_byte_datagram_crosses_fragmented() {
    let net = Net::new();
    let client = bound_socket(&net.a, sa(A, 5000));
    let server = bound_socket(&net.b, sa(B, 7));
    let payload: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(client.send_to(&payload, sa(B, 7)).expect("send"), 60_000);

    let mut buf = vec![0u8; 65_536];
    let (n, from) = server.recv_from(&mut buf).expect("server receives");
    assert_eq!(from, sa(A, 5000));
    assert_eq!(n, payload.len());
    assert!(buf[..n] == payload[..], "payload arrives byte-exact");
    // 60,008 bytes of UDP in 1,480-byte fragments (RFC 791 §2.3).
    assert_eq!(net.a.counters().ip_tx_fragments, 41);
    assert_eq!(net.b.counters().ip_frag_reassembled, 1);
}

#[test]
fn dropping_a_socket_releases_its_port() {
    let net = Net::new();
    let first = UdpSocket::bind(&net.b, sa(B, 7)).expect("bind");
    assert_eq!(UdpSocket::bind(&net.b, sa(B, 7)).expect_err("port taken").kind(), ErrorKind::AddrInUse);
    drop(first);
    let again = UdpSocket::bind(&net.b, sa(B, 7)).expect("the port is free again");
    assert_eq!(again.local_addr().expect("local"), sa(B, 7));
}

#[test]
fn shutdown_wakes_a_blocked_recv_with_an_error() {
    let net = Net::new();
    let socket = UdpSocket::bind(&net.a, sa(A, 5000)).expect("bind");
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _ = started_tx.send(());
        // No read timeout: only the shutdown can end this call.
        let result = socket.recv(&mut [0u8; 16]);
        let _ = done_tx.send(result.map_err(|e| e.kind()));
    });
    started_rx.recv_timeout(BOUND).expect("reader started");
    net.a.shutdown();
    let result = done_rx.recv_timeout(BOUND).expect("recv returned after shutdown");
    assert!(result.is_err(), "{result:?}");
    reader.join().expect("reader thread");
}
