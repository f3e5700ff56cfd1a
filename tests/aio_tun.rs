//! The async API against the kernel through the TUN: `examples/async_server`
//! — tunstack's `aio` sockets, a tokio task per connection, as a user would
//! write a server — in a network namespace, and Python clients on the kernel's
//! side: 8 concurrent echo connections of 32 MiB each, byte-exact; 1,000
//! concurrent connections accepted and served by tasks with nothing left in the
//! socket table afterwards; UDP request/response. (Cancellation — a future
//! dropped mid-read or mid-write — is in `aio_link.rs`, where the test holds the
//! futures.)

mod common;

use std::process::Command;
use std::time::Duration;

use common::{require_e2e, Netns, STACK_ADDR, TUN};

#[test]
fn the_tokio_example_serves_the_kernel_and_leaves_nothing_behind() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let binary = common::example_binary("async_server");
    let ns = Netns::new("aio");
    let (mut server, _lines) = ns.spawn_ready(binary.to_str().expect("a UTF-8 path"), &["--tun", TUN]);

    // Eight echo connections at once, 32 MiB of random bytes each way on each,
    // compared byte for byte by the client.
    const MIB32: u64 = 32 << 20;
    let out = ns.python("tcp_many.py", &[STACK_ADDR, "7", "8", &MIB32.to_string()]);
    assert!(out.contains(&format!("OK connections=8 bytes={}", 8 * MIB32)), "{out}");

    // A thousand at once: each accepted and served by a task of its own.
    let many = ns.run("python3", &[&common::helper("tcp_many.py"), STACK_ADDR, "7", "1000", "512"]);
    let out = String::from_utf8_lossy(&many.stdout);
    if !out.contains("OK connections=1000 bytes=512000") {
        let stats = ns.run(&common::tunstack_bin(), &["stats", "--tun", TUN]);
        panic!(
            "{out}{}\nthe stack's counters:\n{}",
            String::from_utf8_lossy(&many.stderr).lines().take(5).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&stats.stdout)
        );
    }

    // UDP request/response through the async UdpSocket.
    let out = ns.python("udp_echo.py", &[STACK_ADDR, "7", "0", "1", "1472", "4000"]);
    assert_eq!(out.matches("OK size=").count(), 4, "{out}");

    // The clients closed first, so the stack's side ends in LAST-ACK and is
    // freed: only the four listeners and the UDP socket are left.
    let table = common::poll_until("the socket table to empty", Duration::from_secs(20), || {
        let out = ns.run(&common::tunstack_bin(), &["ss", "--tun", TUN]);
        let table = String::from_utf8_lossy(&out.stdout).into_owned();
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("tcp") || l.starts_with("udp")).collect();
        if rows.iter().all(|r| r.contains("LISTEN") || r.contains("UNCONN")) && rows.len() == 4 {
            Ok(table)
        } else {
            Err(table)
        }
    });
    assert!(!table.contains("ESTAB"), "{table}");

    let sent = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert!(sent.is_ok_and(|s| s.success()), "SIGTERM to the example");
    let _ = server.wait();
}
