//! Raw IP protocol sockets against the real kernel through the TUN (Linux
//! `SOCK_RAW` on the kernel side): `serve --raw-echo 253` sends every datagram of
//! protocol 253 back, fragmented ones included; a protocol nobody serves is
//! answered with ICMP protocol unreachable (seen by tshark on the TUN); a raw
//! socket nobody reads overflows and counts it.

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::{require_e2e, Netns, Stack, STACK_ADDR, TUN};

#[test]
fn protocol_253_is_echoed_whole_and_fragmented() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("rawecho");
    let stack = Stack::start(&ns, &["--raw-echo", "253"]);
    assert!(stack.listening().iter().any(|l| l == "raw/253 echo"), "{:?}", stack.listening());
    // 4,000 bytes need three fragments each way at MTU 1500.
    let out = ns.python("raw_proto.py", &["echo", STACK_ADDR, "253", "0", "1", "1480", "4000"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["echo 0 ok", "echo 1 ok", "echo 1480 ok", "echo 4000 ok"]);
    let r = stack.stop();
    assert_eq!(r.counter("raw_rx_delivered"), 4, "{}", r.dump());
    assert_eq!(r.counter("raw_tx"), 4, "{}", r.dump());
    assert!(r.counter("ip_frag_reassembled") >= 1 && r.counter("ip_tx_fragmented") >= 1, "{}", r.dump());
}

#[test]
fn an_unserved_protocol_gets_protocol_unreachable_on_the_wire() {
    if !require_e2e(&["python3", "tshark"]) {
        return;
    }
    let ns = Netns::new("rawunreach");
    let stack = Stack::start(&ns, &["--raw-echo", "253"]);
    // tshark on the TUN, started before the datagram and awaited until it
    // captures: one ICMP destination unreachable, its type, code and the quoted
    // protocol.
    let mut tshark = ns.spawn(
        "tshark",
        &[
            "-i",
            TUN,
            "-l",
            "-c",
            "1",
            "-f",
            "icmp",
            "-T",
            "fields",
            "-e",
            "icmp.type",
            "-e",
            "icmp.code",
            "-e",
            "ip.proto",
        ],
    );
    let stderr = tshark.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|l| l.contains("Capturing on"));
    assert!(ready, "tshark did not start capturing");
    ns.python("raw_proto.py", &["flood", STACK_ADDR, "254", "1"]);
    let out = tshark.wait_with_output().expect("tshark ends after one packet");
    let text = String::from_utf8_lossy(&out.stdout);
    // The ICMP packet and the datagram it quotes: proto 1 outside, 254 inside.
    assert_eq!(text.trim(), "3\t2\t1,254", "tshark saw: {text:?}");
    let r = stack.stop();
    assert_eq!(r.counter("ip_rx_unknown_protocol"), 1, "{}", r.dump());
}

#[test]
fn a_raw_socket_nobody_reads_overflows_and_counts() {
    if !require_e2e(&["python3"]) {
        return;
    }
    let ns = Netns::new("rawflood");
    let stack = Stack::start(&ns, &["--raw-no-read", "252", "--udp-queue", "4"]);
    assert_eq!(ns.python("raw_proto.py", &["flood", STACK_ADDR, "252", "20"]).trim(), "sent 20");
    let mut stack = stack;
    let snap = stack.wait_for_snapshot("the 20 datagrams", Duration::from_secs(10), |s| {
        s.counter("raw_rx_delivered") + s.counter("raw_rx_queue_full") == 20
    });
    assert_eq!((snap.counter("raw_rx_delivered"), snap.counter("raw_rx_queue_full")), (4, 16), "{}", snap.text);
}
