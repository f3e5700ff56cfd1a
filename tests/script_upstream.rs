//! Scripts written in the style of upstream packetdrill's Linux TCP tests (their
//! header options, `sysctl -q` settings, `<...>`, `*` and `~` times, blocking
//! calls, `%{ }%` state assertions, option lists Linux sends): a script that uses
//! only what the runner models must run to a verdict — a pass or a packet
//! mismatch — never a syntax error or "unsupported". These are our own scripts,
//! not copies of upstream's.

use tunstack::script::{run_file, run_str, ErrorKind, Profile};

/// A passive open with Linux's SYN options, then a write and its ACK.
const PASSIVE: &str = r#"
--tolerance_usecs=10000
--ip_version=ipv4
`sysctl -q net.ipv4.tcp_timestamps=1; sysctl -q net.ipv4.tcp_sack=1`

    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0

   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%

   +0 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
 +.01 < . 1:1(0) ack 1001 win 257
"#;

/// An active open whose SYN options do not matter, a blocking read, and a close.
const ACTIVE: &str = r#"
--tolerance_usecs=10000
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0...0.1 connect(3, ..., ...) = 0
    * > S 0:0(0) <...>
 +.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,nop,sackOK>
    * > . 1:1(0) ack 1
+0...0.3 read(3, ..., 1000) = 500
0.3~0.31 < P. 1:501(500) ack 1 win 5792
    * > . 1:1(0) ack 501
   +0 close(3) = 0
   +0 > F. 1:1(0) ack 501
"#;

/// A retransmission timeout and its back-off, as upstream's RTO tests check it.
const RTO: &str = r#"
--tolerance_usecs=10000
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <...>
  +.1 < . 1:1(0) ack 1 win 514
   +0 accept(3, ..., ...) = 4
   +0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
   +0 write(4, ..., 100) = 100
   +0 > P. 1:101(100) ack 1
// Linux: the first retransmission after its 200 ms minimum RTO plus the
// variance; here whatever the stack computes must be within the tolerance.
  +.3 > P. 1:101(100) ack 1
  +.6 > P. 1:101(100) ack 1
"#;

#[test]
fn upstream_style_scripts_run_to_a_verdict() {
    for (name, text) in [("passive.pkt", PASSIVE), ("active.pkt", ACTIVE), ("rto.pkt", RTO)] {
        match run_str(name, text, &Profile::linux()) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind, ErrorKind::Mismatch, "{name} must run to a verdict: {e}"),
        }
    }
}

#[test]
fn the_rto_script_shows_that_retransmissions_lose_psh() {
    // Linux resends the segment as it was, PSH included; the stack clears it.
    let e = run_str("rto.pkt", RTO, &Profile::linux()).expect_err("PSH differs");
    assert_eq!((e.kind, e.line), (ErrorKind::Mismatch, 15));
    assert!(e.to_string().contains("flags . instead of P."), "{e}");
}

#[test]
fn the_active_open_passes_and_the_passive_one_needs_the_suites_defaults_for_wscale_8() {
    run_str("active.pkt", ACTIVE, &Profile::linux()).expect("the active open passes");
    // Upstream's scripts expect wscale 8 because their defaults.sh raises
    // tcp_rmem's maximum to 15 MiB; without it the stack (like a Linux with its
    // own 6 MiB) offers 7.
    let e = run_str("passive.pkt", PASSIVE, &Profile::linux()).expect_err("wscale differs");
    assert_eq!((e.kind, e.line), (ErrorKind::Mismatch, 12));
    assert!(e.to_string().contains("option `wscale 7` instead of `wscale 8`"), "{e}");
}

/// Upstream's scripts start by running the suite's `../common/defaults.sh`:
/// the runner reads it from beside the script (ours, in its style, is
/// `tests/upstream/common/defaults.sh`), and the passive open
/// (`tests/upstream/tcp/passive_defaults.pkt`) then passes with
/// `wscale 8`, naming what the file sets that the stack does not model.
#[test]
fn a_script_running_the_suites_defaults_gets_their_settings() {
    let path = std::path::Path::new("tests/upstream/tcp/passive_defaults.pkt");
    let report = run_file(path, &Profile::linux()).expect("passes with wscale 8");
    let notes: Vec<&str> = report.notes.iter().map(|(_, n)| n.as_str()).collect();
    for feature in ["Fast Open", "F-RTO", "MPTCP", "per-destination metrics", "queueing discipline"] {
        assert!(notes.iter().any(|n| n.contains(feature)), "no note on {feature}: {notes:#?}");
    }
    // Where there is no such file the script is unsupported, with the path.
    let text = std::fs::read_to_string(path).expect("read");
    let e = run_str("tests/upstream/nowhere/passive.pkt", &text, &Profile::linux()).expect_err("no file");
    assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 5));
    assert!(e.to_string().contains("tests/upstream/nowhere/../common/defaults.sh"), "{e}");
}
