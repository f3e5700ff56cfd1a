//! The runner never panics on what a user hands it: random text made of the
//! script language's pieces, and mutations of our own scripts, each end in a
//! verdict (pass, or an error naming a line), never a crash or a hang.

use std::path::Path;

use proptest::prelude::*;
use tunstack::script::{run_str, run_str_with, Profile};

/// Pieces scripts are made of, good and bad.
const PIECES: &[&str] = &[
    "0 ",
    "+0 ",
    "+.1 ",
    "* ",
    "0.1~0.2 ",
    "0...0.1 ",
    "+1 ",
    "\n",
    " ",
    "<",
    ">",
    "S",
    "S.",
    ".",
    "P.",
    "F.",
    "R",
    "R.",
    "0:0(0)",
    "1:1(0)",
    "1:1001(1000)",
    "...(0)",
    "ack 1",
    "ack 4294967295",
    "win 0",
    "win 65535",
    "<mss 1000>",
    "<...>",
    "<nop,nop,sackOK>",
    "<TS val 1 ecr 0>",
    "<sack 1:2>",
    "<eol,eol>",
    "<wscale 14>",
    "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
    "socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3",
    "bind(3, ..., ...) = 0",
    "listen(3, 1) = 0",
    "accept(3, ..., ...) = 4",
    "connect(3, ..., ...) = 0",
    "read(4, ..., 10) = 10",
    "write(4, ..., 10) = 10",
    "close(4) = 0",
    "close(3) = 0",
    "shutdown(4, SHUT_WR) = 0",
    "udp (10)",
    "icmp unreachable frag_needed mtu 576 [1:1(0)]",
    "`sysctl -q net.ipv4.tcp_sack=0`",
    "`sockstat -4 -P tcp -s | grep -c SYN_RCVD | grep 1`",
    "`tcpdrop -s ESTABLISHED`",
    "%{ assert tcpi_state == TCP_ESTABLISHED }%",
    "--tolerance_usecs=1",
    "--ip_version=ipv4",
    "#ifdef X",
    "#endif",
    "//",
    "/*",
    "*/",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "-1",
    "EAGAIN",
    "\"s\"",
    "0x",
    "99999999999",
    "setsockopt(4, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0",
    "writev(4, [{iov_base=..., iov_len=5}], 1) = 5",
    "%{",
    "}%",
    "`",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts_end_in_a_verdict(picks in prop::collection::vec(0..PIECES.len(), 0..40)) {
        let text: String = picks.iter().map(|&i| PIECES[i]).collect();
        let _ = run_str("random.pkt", &text, &Profile::linux());
    }

    #[test]
    fn random_command_line_options_end_in_a_verdict(option in "-{0,2}[a-z_]{0,16}(=[0-9a-z./:]{0,8})?") {
        let _ = run_str_with("options.pkt", "0 close(3) = -1 EBADF\n", &Profile::linux(), &[option]);
    }
}

/// Every script in tests/pkt with one line dropped, or one byte changed in each
/// line, still ends in a verdict.
#[test]
fn mutated_scripts_end_in_a_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkt");
    for entry in std::fs::read_dir(&dir).expect("tests/pkt exists") {
        let path = entry.expect("readable directory").path();
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut dropped = lines.clone();
            dropped.remove(i);
            let _ = run_str("dropped.pkt", &dropped.join("\n"), &Profile::linux());
            let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            if let Some(pos) = changed[i].find(|c: char| c.is_ascii_digit()) {
                changed[i].replace_range(pos..=pos, "9");
            }
            let _ = run_str("changed.pkt", &changed.join("\n"), &Profile::linux());
        }
    }
}
