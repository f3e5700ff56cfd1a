//! The async API (`tunstack::aio`) between two stacks in one process, on tokio's
//! current-thread and multi-thread runtimes, without root: each stack has its
//! runtime thread and an in-memory link joins them (as in `tcp_link.rs`).
//!
//! With the `tokio` feature the stacks are also driven as tokio tasks
//! (`Runtime::driven`), all on the test's one thread.
//!
//! Every wait is bounded by `BOUND` (tokio's timeout), so a lost wake-up fails a
//! test instead of hanging it.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tunstack::aio::{RawSocket, TcpListener, TcpStream, UdpSocket};
use tunstack::device::link;
use tunstack::{Runtime, StackConfig};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
/// The most any single step may wait for the other stack.
const BOUND: Duration = Duration::from_secs(30);

/// Two running stacks on either end of a link; stopped when the test ends.
struct Net {
    a: Runtime,
    b: Runtime,
}

impl Net {
    fn new() -> Net {
        let (end_a, end_b) = link::pair(1500).expect("link pair");
        Net {
            a: Runtime::spawn(end_a, StackConfig { addr: A, addr6: Some(A6), ..StackConfig::default() })
                .expect("runtime A"),
            b: Runtime::spawn(end_b, StackConfig { addr: B, addr6: Some(B6), ..StackConfig::default() })
                .expect("runtime B"),
        }
    }
}

#[cfg(feature = "tokio")]
impl Net {
    /// The same two stacks, each driven by a task on the calling tokio runtime
    /// (`Runtime::driven`) instead of a thread of its own.
    fn driven() -> Net {
        let (end_a, end_b) = link::pair(1500).expect("link pair");
        let (a, driver_a) = Runtime::driven(end_a, StackConfig { addr: A, addr6: Some(A6), ..StackConfig::default() })
            .expect("runtime A");
        let (b, driver_b) = Runtime::driven(end_b, StackConfig { addr: B, addr6: Some(B6), ..StackConfig::default() })
            .expect("runtime B");
        tokio::spawn(driver_a.run());
        tokio::spawn(driver_b.run());
        Net { a, b }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.a.shutdown();
        self.b.shutdown();
    }
}

fn at(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(addr, port))
}

/// `future`, or a failure naming `what` after `BOUND`.
async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future).await.unwrap_or_else(|_| panic!("{what}: no progress in {BOUND:?}"))
}

/// `len` bytes that differ between connections, so a crossed stream is caught.
fn payload(conn: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ conn.wrapping_mul(7919)) as u8).collect()
}

/// An echo service on B's port 7 as async tasks: one per connection, no thread.
fn spawn_echo(b: &Runtime) {
    let listener = TcpListener::bind(b, at(B, 7)).expect("listen on B:7");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Send `data` through the echo service on one connection and read it back:
/// the writing half in a task of its own, the reading here.
async fn echo_round_trip(net: &Net, conn: usize, len: usize) {
    let stream = bounded("connect", TcpStream::connect(&net.a, at(B, 7))).await.expect("connects");
    let (reader, writer) = stream.into_split();
    let sent = payload(conn, len);
    let to_send = sent.clone();
    let writing = tokio::spawn(async move {
        writer.write_all(&to_send).await.expect("write");
        // Dropping the write half sends FIN; the echo then ends its side.
    });
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 8192];
    loop {
        let n = bounded("read", reader.read(&mut buf)).await.expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    writing.await.expect("the writer task");
    assert!(got == sent, "connection {conn}: {} bytes back, {} sent, or different bytes", got.len(), sent.len());
}

#[tokio::test(flavor = "current_thread")]
async fn a_megabyte_echoes_byte_exact_on_the_current_thread_runtime() {
    let net = Net::new();
    spawn_echo(&net.b);
    echo_round_trip(&net, 1, 1 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_tasks_echo_byte_exact_on_the_multi_thread_runtime() {
    let net = std::sync::Arc::new(Net::new());
    spawn_echo(&net.b);
    let tasks: Vec<_> = (0..64)
        .map(|conn| {
            let net = std::sync::Arc::clone(&net);
            tokio::spawn(async move { echo_round_trip(&net, conn, 64 * 1024).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("an echo task");
    }
}

/// A dropped future leaves the socket as it was: a cancelled `read` took no
/// bytes, a cancelled `accept` took no connection, and a cancelled `connect`
/// leaves no connection behind.
#[tokio::test(flavor = "current_thread")]
async fn cancelled_futures_leave_the_sockets_consistent() {
    let net = Net::new();
    let listener = TcpListener::bind(&net.b, at(B, 9000)).expect("listen");
    let short = Duration::from_millis(50);
    assert!(tokio::time::timeout(short, listener.accept()).await.is_err(), "nobody connected yet");

    let client = bounded("connect", TcpStream::connect(&net.a, at(B, 9000))).await.expect("connects");
    let (server, _) = bounded("accept after a cancelled accept", listener.accept()).await.expect("accepted");
    let mut buf = [0u8; 16];
    assert!(tokio::time::timeout(short, server.read(&mut buf)).await.is_err(), "nothing sent yet");
    client.write_all(b"after the cancel").await.expect("write");
    let n = bounded("read after a cancelled read", server.read(&mut buf)).await.expect("read");
    assert_eq!(&buf[..n], b"after the cancel");

    // 198.18.0.9 is on nobody's link end: the SYN goes unanswered.
    let connections = || net.a.with_stack(|stack, _| stack.tcp_connection_count());
    let before = connections();
    assert!(tokio::time::timeout(short, TcpStream::connect(&net.a, at(Ipv4Addr::new(198, 18, 0, 9), 80)))
        .await
        .is_err());
    assert_eq!(connections(), before, "the cancelled connect left its connection");
}

/// A `write_all` dropped half-way (the peer was not reading, the window closed)
/// leaves the stream usable: what reaches the peer is a prefix of the cancelled
/// data, then what was written after, nothing lost in between or doubled.
#[tokio::test(flavor = "current_thread")]
async fn a_write_dropped_half_way_leaves_a_usable_stream() {
    let net = Net::new();
    let listener = TcpListener::bind(&net.b, at(B, 9002)).expect("listen");
    let client = bounded("connect", TcpStream::connect(&net.a, at(B, 9002))).await.expect("connects");
    let (server, _) = bounded("accept", listener.accept()).await.expect("accepted");
    let big = payload(9, 16 << 20);
    let cancelled = tokio::time::timeout(Duration::from_millis(200), client.write_all(&big)).await;
    assert!(cancelled.is_err(), "16 MiB cannot fit while nobody reads");
    // The send buffer is full now: the tail goes in as the server reads, so
    // both run at once.
    let writing = async {
        client.write_all(b"TAIL").await.expect("the stream still writes");
        client.shutdown(std::net::Shutdown::Write).expect("FIN");
    };
    let reading = async {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = server.read(&mut buf).await.expect("read");
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    };
    let ((), got) = bounded("the tail and the reading", async { tokio::join!(writing, reading) }).await;
    let k = got.len() - 4;
    assert!(k > 0 && k < big.len(), "a part of the big write went: {k}");
    assert!(got[..k] == big[..k] && &got[k..] == b"TAIL", "a prefix, then the tail");
}

/// Readiness for non-blocking users: wait with `readable`/`writable`, then
/// `try_read`/`try_write`, which never wait.
#[tokio::test(flavor = "current_thread")]
async fn readiness_then_try_calls() {
    let net = Net::new();
    let listener = TcpListener::bind(&net.b, at(B, 9001)).expect("listen");
    let client = bounded("connect", TcpStream::connect(&net.a, at(B, 9001))).await.expect("connects");
    let (server, _) = bounded("accept", listener.accept()).await.expect("accepted");
    let mut buf = [0u8; 8];
    assert_eq!(server.try_read(&mut buf).expect_err("empty").kind(), std::io::ErrorKind::WouldBlock);
    bounded("writable", client.writable()).await.expect("writable");
    assert_eq!(client.try_write(b"ready").expect("room"), 5);
    bounded("readable", server.readable()).await.expect("readable");
    assert_eq!(server.try_read(&mut buf).expect("data"), 5);
    assert_eq!(&buf[..5], b"ready");
}

#[tokio::test(flavor = "current_thread")]
async fn udp_datagrams_go_both_ways_and_a_refused_connect_is_reported() {
    let net = Net::new();
    let server = UdpSocket::bind(&net.b, at(B, 7)).expect("bind B:7");
    let client = UdpSocket::bind(&net.a, at(A, 0)).expect("bind A");
    for len in [0, 1, 1472, 4000] {
        let sent = payload(len, len);
        client.send_to(&sent, at(B, 7)).await.expect("send_to");
        let mut buf = vec![0u8; 8192];
        let (n, from) = bounded("recv_from", server.recv_from(&mut buf)).await.expect("recv_from");
        assert_eq!((&buf[..n], from.ip()), (&sent[..], std::net::IpAddr::V4(A)));
        server.send_to(&buf[..n], from).await.expect("send back");
        let (m, _) = bounded("the answer", client.recv_from(&mut buf)).await.expect("answer");
        assert_eq!(&buf[..m], &sent[..]);
    }
    let refused = TcpStream::connect(&net.a, at(B, 1)).await.expect_err("nobody listens on B:1");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Async UDP over IPv6: a dual-stack server on `[::]:7` answers an IPv6 and an
/// IPv4 client, naming the IPv4 one by its mapped address; with `only_v6` the
/// IPv4 one is refused.
#[tokio::test(flavor = "current_thread")]
async fn udp_over_ipv6_and_a_dual_stack_socket() {
    let net = Net::new();
    let server = UdpSocket::bind(&net.b, "[::]:7").expect("bind [::]:7");
    let six = UdpSocket::bind(&net.a, "[::]:0").expect("bind A [::]");
    let four = UdpSocket::bind(&net.a, at(A, 0)).expect("bind A");
    let mut buf = vec![0u8; 8192];
    for (client, to, from_ip) in
        [(&six, SocketAddr::from((B6, 7)), A6.into()), (&four, at(B, 7), A.to_ipv6_mapped().into())]
    {
        let sent = payload(7, 4000);
        client.send_to(&sent, to).await.expect("send_to");
        let (n, from) = bounded("recv_from", server.recv_from(&mut buf)).await.expect("recv_from");
        assert_eq!((&buf[..n], from.ip()), (&sent[..], from_ip));
        server.send_to(&buf[..n], from).await.expect("send back");
        let (m, came) = bounded("the answer", client.recv_from(&mut buf)).await.expect("answer");
        assert_eq!((&buf[..m], came), (&sent[..], to));
    }
    server.set_only_v6(true).expect("an IPv6 socket");
    four.connect(at(B, 7)).expect("connect");
    four.send(b"still there?").await.expect("send");
    let refused = bounded("the refusal", four.recv(&mut buf)).await.expect_err("B:7 no longer takes IPv4");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Raw IP protocol sockets (protocol 253, RFC 3692) in async code: a datagram
/// bigger than the MTU goes out in fragments and arrives whole.
#[tokio::test(flavor = "current_thread")]
async fn raw_datagrams_of_protocol_253_go_both_ways() {
    let net = Net::new();
    let b = RawSocket::bind(&net.b, 253, B).expect("bind 253 on B");
    let a = RawSocket::bind(&net.a, 253, A).expect("bind 253 on A");
    for len in [1, 1480, 4000] {
        let sent = payload(len, len);
        a.send_to(&sent, B).await.expect("send_to");
        echo_back(&a, &b, &sent, A.into()).await;
    }
}

/// B reads `sent` from `from` (A) and sends it back; A reads it.
async fn echo_back(a: &RawSocket, b: &RawSocket, sent: &[u8], from: std::net::IpAddr) {
    let mut buf = vec![0u8; 8192];
    let (n, got_from) = bounded("raw recv_from", b.recv_from(&mut buf)).await.expect("recv_from");
    assert_eq!((&buf[..n], got_from), (sent, from));
    b.send_to(&buf[..n], from).await.expect("send back");
    let (m, _) = bounded("the answer", a.recv_from(&mut buf)).await.expect("answer");
    assert_eq!(&buf[..m], sent);
}

/// The same over IPv6 (RFC 3542 §3): each side reads the payload alone, a
/// 4,000-byte datagram is fragmented at the source and read whole, and the
/// IPv4 socket on 253 beside it hears none of it.
#[tokio::test(flavor = "current_thread")]
async fn raw_ipv6_datagrams_of_next_header_253_go_both_ways() {
    let net = Net::new();
    let b = RawSocket::bind(&net.b, 253, B6).expect("bind 253 on B's IPv6 address");
    let b4 = RawSocket::bind(&net.b, 253, B).expect("and on its IPv4 one");
    let a = RawSocket::bind(&net.a, 253, Ipv6Addr::UNSPECIFIED).expect("bind 253 on A");
    a.connect(B6).expect("connect");
    for len in [0, 1460, 4000] {
        let sent = payload(len, len);
        a.send(&sent).await.expect("send");
        echo_back(&a, &b, &sent, A6.into()).await;
    }
    let mut buf = [0u8; 16];
    let poll = std::future::poll_fn(|cx| std::task::Poll::Ready(b4.poll_recv_from(cx, &mut buf).is_pending()));
    assert!(poll.await, "nothing for the IPv4 socket");
}

/// With the `tokio` feature the streams are tokio `AsyncRead`/`AsyncWrite`:
/// tokio's own utilities drive them.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_utilities_work_on_a_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let net = Net::new();
    spawn_echo(&net.b);
    let mut stream = bounded("connect", TcpStream::connect(&net.a, at(B, 7))).await.expect("connects");
    let sent = payload(3, 300_000);
    let (mut r, mut w) = tokio::io::split(&mut stream);
    let to_send = sent.clone();
    let (written, got) = bounded("copy", async {
        tokio::join!(
            async {
                w.write_all(&to_send).await?;
                w.shutdown().await
            },
            async {
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.map(|_| got)
            }
        )
    })
    .await;
    written.expect("written");
    assert!(got.expect("read to the end") == sent, "the echo differs");
}

/// The runtime runs tasks of its own on the driver thread (no tokio needed):
/// an echo served by `Runtime::spawn_task` tasks answers, and the runtime's
/// timers (`aio::sleep`, `aio::timeout`) fire.
#[tokio::test(flavor = "current_thread")]
async fn tasks_on_the_driver_thread_serve_and_its_timers_fire() {
    let net = Net::new();
    let listener = TcpListener::bind(&net.b, at(B, 7)).expect("listen on B:7");
    let b = net.b.clone();
    net.b.spawn_task(async move {
        while let Ok((stream, _)) = listener.accept().await {
            b.spawn_task(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    echo_round_trip(&net, 5, 256 * 1024).await;

    let started = std::time::Instant::now();
    tunstack::aio::sleep(&net.a, Duration::from_millis(50)).await;
    assert!(started.elapsed() >= Duration::from_millis(50), "slept {:?}", started.elapsed());
    let socket = UdpSocket::bind(&net.a, at(A, 0)).expect("bind");
    let mut buf = [0u8; 8];
    let late = tunstack::aio::timeout(&net.a, Duration::from_millis(50), socket.recv_from(&mut buf)).await;
    assert_eq!(late.expect_err("nothing arrives").kind(), std::io::ErrorKind::TimedOut);
}

/// Both stacks driven by tasks on the test's one tokio thread
/// (`Runtime::driven`): no driver thread, yet a megabyte echoes byte-exact and
/// the runtimes' own tasks and timers still run.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn stacks_driven_as_tokio_tasks_echo_on_one_thread() {
    let net = Net::driven();
    spawn_echo(&net.b);
    echo_round_trip(&net, 6, 1 << 20).await;
    assert!(net.a.driver_rounds() > 0 && net.b.driver_rounds() > 0, "the driver tasks ran no round");

    // A task of the runtime's own executor runs from the driver task.
    let (tx, rx) = tokio::sync::oneshot::channel();
    net.a.spawn_task(async move {
        let _ = tx.send(());
    });
    bounded("a runtime task", rx).await.expect("the runtime task ran");
    let started = std::time::Instant::now();
    tunstack::aio::sleep(&net.a, Duration::from_millis(20)).await;
    assert!(started.elapsed() >= Duration::from_millis(20), "slept {:?}", started.elapsed());
}

/// The driven runtimes on tokio's multi-thread runtime: the drivers and the
/// echo tasks on whichever worker picks them up, so socket calls come from
/// other threads while a round is open (they skip the poke and leave the
/// deadline to the driver's `finish_round`) and while it is not (they poke).
/// Four connections at once echo byte-exact, and a runtime timer still fires.
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn stacks_driven_as_tokio_tasks_echo_on_a_multi_thread_runtime() {
    let net = Net::driven();
    spawn_echo(&net.b);
    tokio::join!(
        echo_round_trip(&net, 1, 256 << 10),
        echo_round_trip(&net, 2, 256 << 10),
        echo_round_trip(&net, 3, 256 << 10),
        echo_round_trip(&net, 4, 256 << 10),
    );
    assert!(net.a.driver_rounds() > 0 && net.b.driver_rounds() > 0, "the driver tasks ran no round");
    let started = std::time::Instant::now();
    tunstack::aio::sleep(&net.a, Duration::from_millis(20)).await;
    assert!(started.elapsed() >= Duration::from_millis(20), "slept {:?}", started.elapsed());
}

/// `shutdown` ends a driver task; so does dropping every handle of its runtime
/// (within the driver's longest sleep, a second).
#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn a_driver_task_ends_at_shutdown_or_when_its_runtime_is_dropped() {
    let (end_a, end_b) = link::pair(1500).expect("link pair");
    let (a, driver_a) = Runtime::driven(end_a, StackConfig { addr: A, ..StackConfig::default() }).expect("runtime A");
    let (b, driver_b) = Runtime::driven(end_b, StackConfig { addr: B, ..StackConfig::default() }).expect("runtime B");
    let (task_a, task_b) = (tokio::spawn(driver_a.run()), tokio::spawn(driver_b.run()));
    a.shutdown();
    bounded("driver A after shutdown", task_a).await.expect("joins").expect("ends cleanly");
    drop(b);
    bounded("driver B after its runtime was dropped", task_b).await.expect("joins").expect("ends cleanly");
}
