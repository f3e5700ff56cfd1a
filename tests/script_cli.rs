//! `tunstack script` as a user meets it: every way a script can be bad gives its own
//! message, naming the file (and line), and its exit code — 0 pass, 1 mismatch,
//! 2 unreadable or invalid, 3 unsupported — and packetdrill's header and
//! command-line options are accepted.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory of its own for each test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tunstack-script-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writable");
    path
}

/// Run `tunstack script ARGS`: (exit code, stdout, stderr).
fn script(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack")).arg("script").args(args).output().expect("runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// A passive open up to `accept`, lines 1–7.
const OPEN: &str = "\
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0    < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 65535
+0    accept(3, ..., ...) = 4
";

#[test]
fn a_passing_script_exits_0() {
    let dir = scratch("pass");
    let f = write(&dir, "open.pkt", OPEN);
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok "), "{out}");
}

#[test]
fn a_mismatch_exits_1_with_its_line() {
    let dir = scratch("mismatch");
    let f = write(&dir, "bad.pkt", &format!("{OPEN}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 2 win 65535\n"));
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("FAIL "), "{out}");
    assert!(err.contains(&format!("{}:9: outbound packet mismatch: ack 1 instead of 2", path(&f))), "{err}");
}

#[test]
fn a_missing_file_exits_2() {
    let dir = scratch("missing");
    let f = dir.join("nowhere.pkt");
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("INVALID"), "{out}");
    assert!(err.contains(&format!("{}: no such file", path(&f))), "{err}");
}

#[test]
fn a_directory_exits_2() {
    let dir = scratch("directory");
    let (code, _, err) = script(&[path(&dir)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}: is a directory, not a script", path(&dir))), "{err}");
}

#[test]
fn an_empty_file_exits_2() {
    let dir = scratch("empty");
    let f = write(&dir, "empty.pkt", "\n  \n");
    let (code, _, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}: syntax error: the script is empty", path(&f))), "{err}");
    // Comments and options but nothing to run: also invalid, and said differently.
    let f = write(&dir, "nothing.pkt", "// a comment\n--tolerance_usecs=1000\n");
    let (code, _, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the script has no events"), "{err}");
}

#[test]
fn a_file_that_is_not_text_exits_2() {
    let dir = scratch("binary");
    let f = dir.join("binary.pkt");
    std::fs::write(&f, b"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\xff\xfe\n").expect("writable");
    let (code, _, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:2: not a text file", path(&f))), "{err}");
}

#[test]
fn a_syntax_error_exits_2_with_its_line() {
    let dir = scratch("syntax");
    let f = write(&dir, "syntax.pkt", "// c\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0)\n");
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(&format!("{}:3: syntax error: an inbound packet needs a window", path(&f))), "{err}");
}

#[test]
fn an_unsupported_construct_exits_3_with_its_line() {
    let dir = scratch("unsupported");
    let f = write(&dir, "epoll.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 epoll_create(1) = 4\n");
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.starts_with("UNSUPPORTED"), "{out}");
    assert!(err.contains(&format!("{}:2: unsupported: system call `epoll_create`", path(&f))), "{err}");
}

#[test]
fn ipv4_mapped_ipv6_runs_from_the_header_or_the_command_line() {
    let dir = scratch("mapped");
    // An AF_INET6 socket is refused in an IPv4 script, and runs over IPv4 in
    // ipv4-mapped-ipv6 mode, whether the header or the command line asks.
    let v6_socket = OPEN.replacen("...", "AF_INET6", 1);
    let plain = write(&dir, "plain.pkt", &v6_socket);
    let (code, _, err) = script(&[path(&plain)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!("{}:1: unsupported: IPv6 sockets (AF_INET6) in an IPv4 script", path(&plain))),
        "{err}"
    );
    let (code, out, err) = script(&[path(&plain), "--ip_version=ipv4-mapped-ipv6"]);
    assert_eq!(code, 0, "{out}{err}");
    let header = write(&dir, "header.pkt", &format!("--ip_version=ipv4-mapped-ipv6\n{v6_socket}"));
    let (code, out, err) = script(&[path(&header)]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn header_options_are_accepted_and_the_ignored_ones_named() {
    let dir = scratch("header");
    let header = "--ip_version=ipv4\n--tolerance_usecs=50000\n--mss=1000\n--tcp_ts_tick_usecs=1000\n\
                  --bind_port=9000\n--connect_port=9001\n";
    let f = write(&dir, "header.pkt", &format!("{header}{OPEN}"));
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("note: {}:3: ignored `--mss=1000`", path(&f))), "{err}");
    assert!(err.contains(&format!("note: {}:4: ignored `--tcp_ts_tick_usecs=1000`", path(&f))), "{err}");
}

#[test]
fn command_line_options_override_the_header() {
    let dir = scratch("cli");
    // The SYN,ACK at +0.006 is outside 4 ms but inside 10.
    let late = OPEN.replace("+0    > S. 0:0(0)", "+.006 > S. 0:0(0)").replace("+.1   <", "+.094 <");
    let f = write(&dir, "late.pkt", &format!("--tolerance_usecs=4000\n{late}"));
    let (code, _, err) = script(&[path(&f)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("timing error"), "{err}");
    let (code, out, err) = script(&[path(&f), "--tolerance_usecs=10000", "--debug"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("note: ") && err.contains("ignored `--debug`"), "{err}");
    let (code, _, err) = script(&["--no_such_option=1", path(&f)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("syntax error: on the command line: unknown option `--no_such_option`"), "{err}");
}

#[test]
fn several_scripts_exit_with_the_worst_verdict() {
    let dir = scratch("several");
    let ok = write(&dir, "ok.pkt", OPEN);
    let unsupported = write(&dir, "epoll.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 epoll_create(1) = 4\n");
    let missing = dir.join("missing.pkt");
    let (code, out, _) = script(&[path(&ok), path(&unsupported)]);
    assert_eq!((code, out.lines().count()), (3, 2), "{out}");
    let (code, _, err) = script(&[path(&ok), path(&unsupported), path(&missing)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 of 3 scripts did not pass (0 failed, 1 invalid, 1 unsupported)"), "{err}");
}

#[test]
fn ifdef_blocks_follow_the_symbols_defined_on_the_command_line() {
    let dir = scratch("ifdef");
    let text =
        format!("{OPEN}#ifdef STRICT\n+0 close(4) = -1 EBADF\n#else\n+0 close(4) = 0\n+0 > F. 1:1(0) ack 1\n#endif\n");
    let f = write(&dir, "ifdef.pkt", &text);
    let (code, out, err) = script(&[path(&f)]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = script(&["-D", "STRICT", path(&f)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{}:9: `close` returned 0", path(&f))), "{err}");
    let (code, _, _) = script(&[path(&f), "--define=STRICT"]);
    assert_eq!(code, 1);
    let f = write(&dir, "open.pkt", &format!("{OPEN}#ifdef STRICT\n"));
    let (code, _, err) = script(&[path(&f)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:8: syntax error: `#ifdef` without `#endif`", path(&f))), "{err}");
}

#[test]
fn verbose_traces_every_event_and_shows_a_mismatch_field_by_field() {
    let dir = scratch("verbose");
    let f = write(&dir, "open.pkt", OPEN);
    let (code, out, err) = script(&["-v", path(&f)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0.000 line 4: < S 0:0(0) win 65535 <mss 1000>"), "{out}");
    assert!(out.contains("0.000 line 5: > S. 0:0(0) ack 1 win 65535 <mss 1460>"), "{out}");
    assert!(out.contains("0.100 line 7: accept(3, ..., ...) = 4"), "{out}");
    let bad = write(&dir, "bad.pkt", &format!("{OPEN}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 2 win 65535\n"));
    let (code, out, err) = script(&[path(&bad), "--verbose"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("line 9: > P. 1:11(10) ack 1 win 65535"), "{out}");
    assert!(err.contains("* ack      2"), "{err}");
    assert!(err.contains("  flags    P."), "{err}");
}
