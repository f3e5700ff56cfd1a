//! Shell commands in backticks, interpreted — never executed.
//!
//! packetdrill runs `` `...` `` with `/bin/sh`; real scripts use it to set the
//! kernel's TCP settings before a test (`sysctl -w net.inet.tcp.sack.enable=1` on
//! FreeBSD, `sysctl -q net.ipv4.tcp_sack=1` on Linux). Running them here would
//! change the host, not the stack under test, so the runner reads them instead:
//!
//! - a setting with a [`StackConfig`](crate::config::StackConfig) field becomes a
//!   [`Setting`] applied to the profile before the stack is built (window
//!   scaling, timestamps, SACK, buffer sizes, initial RTO, retries, SYN
//!   cookies, keepalive timing, path MTU discovery, …);
//! - a setting whose value is what the stack does anyway (FreeBSD's RFC 5961
//!   switches at their secure default, `blackhole=0`, ECN in server mode, which
//!   only answers ECN the peer asks for and the parser refuses ECN flags) is
//!   accepted with a note saying why it changes nothing;
//! - the FreeBSD suite's assertions on the socket table become questions to the
//!   stack: `sockstat -4|-6 -P tcp [-p PORT] -s | [grep packetdrill |] grep -c STATE
//!   | grep N` counts the sockets (of that IP version only) in STATE (FreeBSD's names: `SYN_RCVD`,
//!   `TIME_WAIT`, …) — with the `grep packetdrill` stage only those the script
//!   holds a descriptor for, as `sockstat`'s user column would — and fails the
//!   script unless the count contains N (what `grep N` checks); `tcpdrop -s
//!   STATE` aborts every connection in STATE ([`Command`]);
//! - anything else — another value, another setting, another command (`ip`,
//!   `tc`, another `sockstat` form, …) — makes the script unsupported, with the
//!   setting or command named. Never a silent pass.
//!
//! The table is `sysctl`'s `match`; each setting costs one string comparison
//! chain. A backtick block may hold several commands separated by `;`, `&&` or
//! newlines; each must be a `sysctl NAME=VALUE` (with `-w`, `-q`, `-n` flags
//! in any combination, the value optionally quoted), or one of the socket-table
//! commands above.

use std::path::Path;
use std::time::Duration;

use super::error::{Result, ScriptError};
use super::source;
use crate::config::{CongestionAlgorithm, SynCookies, TcpConfig};

/// One change to the stack's TCP settings a `sysctl` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Offer window scaling (RFC 7323 §2).
    WindowScaling(bool),
    /// Offer timestamps (RFC 7323 §3).
    Timestamps(bool),
    /// Offer SACK (RFC 2018).
    Sack(bool),
    /// A new connection's receive buffer (and so its first window).
    RecvBuffer(usize),
    /// How far receive auto-tuning may grow the buffer (and so the window scale).
    RecvBufferMax(usize),
    /// A new connection's send buffer.
    SendBuffer(usize),
    /// How far send auto-tuning may grow the buffer.
    SendBufferMax(usize),
    /// The initial RTO (RFC 6298 §2.1).
    InitialRto(Duration),
    /// SYN retransmissions before `connect` fails.
    SynRetries(u32),
    /// Retransmissions before an established connection fails.
    MaxRetries(u32),
    /// How long an orphaned connection may stay in FIN-WAIT-2.
    FinWait2Timeout(Duration),
    /// Challenge ACKs per second (RFC 5961 §7).
    ChallengeAcksPerSec(u32),
    /// Shortest interval between ACKs for unusable segments.
    UnusableAckInterval(Duration),
    /// When to answer SYNs with cookies (RFC 4987 §3.6).
    SynCookies(SynCookies),
    /// Keepalive of new connections: silence before the first probe…
    KeepaliveIdle(Duration),
    /// …between probes…
    KeepaliveInterval(Duration),
    /// …and unanswered probes before giving up.
    KeepaliveProbes(u32),
    /// Path MTU discovery (RFC 1191): DF on segments, ICMP lowers the MSS.
    PathMtuDiscovery(bool),
    /// RFC 5961 §3's RST checks (off: FreeBSD's `insecure_rst`).
    Rfc5961Rst(bool),
    /// RFC 5961 §4's SYN checks (off: FreeBSD's `insecure_syn`).
    Rfc5961Syn(bool),
    /// Drop segments with SYN and FIN (FreeBSD's `drop_synfin`).
    DropSynFin(bool),
    /// Congestion control of new connections (Linux's `tcp_congestion_control`).
    Congestion(CongestionAlgorithm),
    /// SYN,ACK retransmissions before a passive open is given up.
    SynAckRetries(u32),
    /// Restart from the initial window after idle (RFC 5681 §4.1).
    SlowStartAfterIdle(bool),
}

impl Setting {
    /// Apply to `tcp`, keeping each buffer's maximum at least its initial size.
    pub fn apply(&self, tcp: &mut TcpConfig) {
        match *self {
            Setting::WindowScaling(on) => tcp.window_scaling = on,
            Setting::Timestamps(on) => tcp.timestamps = on,
            Setting::Sack(on) => tcp.sack = on,
            Setting::RecvBuffer(n) => {
                tcp.recv_buffer = n;
                tcp.recv_buffer_max = tcp.recv_buffer_max.max(n);
            }
            Setting::RecvBufferMax(n) => {
                tcp.recv_buffer_max = n;
                tcp.recv_buffer = tcp.recv_buffer.min(n);
            }
            Setting::SendBuffer(n) => {
                tcp.send_buffer = n;
                tcp.send_buffer_max = tcp.send_buffer_max.max(n);
            }
            Setting::SendBufferMax(n) => {
                tcp.send_buffer_max = n;
                tcp.send_buffer = tcp.send_buffer.min(n);
            }
            Setting::InitialRto(d) => tcp.rto.initial = d,
            Setting::SynRetries(n) => tcp.syn_retries = n,
            Setting::MaxRetries(n) => tcp.max_retries = n,
            Setting::FinWait2Timeout(d) => tcp.fin_wait2_timeout = d,
            Setting::ChallengeAcksPerSec(n) => tcp.challenge_acks_per_sec = n,
            Setting::UnusableAckInterval(d) => tcp.unusable_ack_interval = d,
            Setting::SynCookies(c) => tcp.syn_cookies = c,
            Setting::KeepaliveIdle(d) => tcp.keepalive.idle = d,
            Setting::KeepaliveInterval(d) => tcp.keepalive.interval = d,
            Setting::KeepaliveProbes(n) => tcp.keepalive.probes = n,
            Setting::PathMtuDiscovery(on) => tcp.path_mtu_discovery = on,
            Setting::Rfc5961Rst(on) => tcp.rfc5961_rst = on,
            Setting::Rfc5961Syn(on) => tcp.rfc5961_syn = on,
            Setting::DropSynFin(on) => tcp.drop_syn_fin = on,
            Setting::Congestion(ref algorithm) => tcp.congestion = algorithm.clone(),
            Setting::SynAckRetries(n) => tcp.syn_ack_retries = n,
            Setting::SlowStartAfterIdle(on) => tcp.slow_start_after_idle = on,
        }
    }
}

/// One `sysctl NAME=VALUE` as read: what it sets, or why it changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysctl {
    pub name: String,
    pub value: String,
    pub settings: Vec<Setting>,
    /// Set when `settings` is empty: why the setting changes nothing here.
    pub no_effect: Option<String>,
}

/// One command of a backtick block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Sysctl(Sysctl),
    /// `sockstat … | grep -c STATE | grep N`: the number of sockets in `state`
    /// (FreeBSD's name), on `port` if given, only the script's own if `own`, must
    /// contain `expect` as `grep` reads it. `ipv6`: `-6` (`Some(true)`) counts
    /// only IPv6 sockets, `-4` only IPv4 ones, neither both.
    CountSockets {
        text: String,
        ipv6: Option<bool>,
        port: Option<u16>,
        own: bool,
        state: &'static str,
        expect: String,
    },
    /// `tcpdrop -s STATE`: abort every connection in `state`.
    Drop {
        text: String,
        state: &'static str,
    },
    /// A command about something the stack does not have (a metrics cache, a
    /// queueing discipline): accepted, with why it changes nothing.
    NoEffect {
        text: String,
        why: String,
    },
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Sysctl(s) => write!(f, "sysctl {}={}", s.name, s.value),
            Command::CountSockets { text, .. } | Command::Drop { text, .. } | Command::NoEffect { text, .. } => {
                f.write_str(text)
            }
        }
    }
}

/// FreeBSD's names of the TCP states, as `sockstat -s` prints them and
/// `tcpdrop -s` takes them.
const FREEBSD_STATES: &[&str] = &[
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RCVD",
    "ESTABLISHED",
    "CLOSE_WAIT",
    "FIN_WAIT_1",
    "CLOSING",
    "LAST_ACK",
    "FIN_WAIT_2",
    "TIME_WAIT",
];

/// FreeBSD's name for one of the stack's state names (RFC 9293's: `SYN-RECEIVED`).
pub fn freebsd_state(rfc_name: &str) -> &'static str {
    match rfc_name {
        "LISTEN" => "LISTEN",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECEIVED" => "SYN_RCVD",
        "ESTABLISHED" => "ESTABLISHED",
        "FIN-WAIT-1" => "FIN_WAIT_1",
        "FIN-WAIT-2" => "FIN_WAIT_2",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "CLOSING" => "CLOSING",
        "LAST-ACK" => "LAST_ACK",
        "TIME-WAIT" => "TIME_WAIT",
        _ => "CLOSED",
    }
}

fn state_named(line: usize, name: &str, command: &str) -> Result<&'static str> {
    FREEBSD_STATES.iter().find(|s| **s == name).copied().ok_or_else(|| {
        ScriptError::unsupported(line, format!("TCP state `{name}` (in `{command}`; FreeBSD's names: SYN_RCVD, …)"))
    })
}

/// Where a command was written: in the script itself (whose file is in the
/// directory given, if it has a file), or in a shell script the script runs
/// (`source.rs`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Origin<'a> {
    Script(Option<&'a Path>),
    Sourced,
}

/// Interpret the text between backticks on `line` of a script whose file is in
/// `dir` (if it has a file).
pub fn interpret(line: usize, text: &str, dir: Option<&Path>) -> Result<Vec<Command>> {
    interpret_as(line, text, Origin::Script(dir))
}

/// [`interpret`], for commands from `origin`.
pub(super) fn interpret_as(line: usize, text: &str, origin: Origin<'_>) -> Result<Vec<Command>> {
    let mut out = Vec::new();
    for command in split_commands(text) {
        let command = expand_arithmetic(line, strip_redirections(&command))?;
        let program = command.split_whitespace().next().unwrap_or_default();
        if program.ends_with(".sh") {
            match origin {
                Origin::Script(Some(dir)) => out.extend(source::read(line, command.trim(), dir)?),
                Origin::Script(None) => {
                    return Err(ScriptError::unsupported(
                        line,
                        format!(
                            "shell script `{}` (a script given as text has no directory to find it in)",
                            command.trim()
                        ),
                    ))
                }
                Origin::Sourced => {
                    return Err(ScriptError::unsupported(
                        line,
                        format!("a shell script running another (`{}`)", command.trim()),
                    ))
                }
            }
            continue;
        }
        if let Some(why) = no_effect(&command) {
            out.push(Command::NoEffect { text: command.trim().to_string(), why: why.to_string() });
            continue;
        }
        if program == "sockstat" {
            out.push(sockstat(line, &command)?);
            continue;
        }
        if program == "tcpdrop" {
            out.push(tcpdrop(line, &command)?);
            continue;
        }
        let words = words(line, &command)?;
        let Some((program, args)) = words.split_first() else { continue };
        if program != "sysctl" {
            return Err(ScriptError::unsupported(line, format!("shell command `{}`", command.trim())));
        }
        let mut assignments = Vec::new();
        for arg in args {
            if let Some(flags) = arg.strip_prefix('-') {
                if flags.is_empty() || !flags.chars().all(|c| matches!(c, 'w' | 'q' | 'n' | 'e')) {
                    return Err(ScriptError::unsupported(line, format!("`sysctl` option `{arg}` (in `{command}`)")));
                }
            } else if let Some((name, value)) = arg.split_once('=') {
                assignments.push((name.to_string(), value.to_string()));
            } else {
                return Err(ScriptError::unsupported(
                    line,
                    format!("reading a setting: `{}` (only `sysctl NAME=VALUE` is modelled)", command.trim()),
                ));
            }
        }
        if assignments.is_empty() {
            return Err(ScriptError::unsupported(line, format!("shell command `{}`", command.trim())));
        }
        for (name, value) in assignments {
            out.push(Command::Sysctl(sysctl(line, name, value, origin)?));
        }
    }
    if out.is_empty() {
        return Err(ScriptError::parse(line, "an empty shell command"));
    }
    Ok(out)
}

/// `sockstat [-4|-6] -P tcp [-p PORT] -s | [grep USER |] grep -c STATE | grep N`.
fn sockstat(line: usize, command: &str) -> Result<Command> {
    let text = command.trim().to_string();
    let unsupported = || ScriptError::unsupported(line, format!("shell command `{text}`"));
    let stages: Vec<Vec<&str>> = text.split('|').map(|s| s.split_whitespace().collect()).collect();
    let (first, greps) = stages.split_first().ok_or_else(unsupported)?;
    let mut port = None;
    let (mut tcp, mut states, mut ipv6) = (false, false, None);
    let mut args = first.iter().skip(1);
    while let Some(arg) = args.next() {
        match *arg {
            "-4" => ipv6 = Some(false),
            "-6" => ipv6 = Some(true),
            "-s" => states = true,
            "-P" => tcp = args.next() == Some(&"tcp"),
            "-p" => port = Some(args.next().and_then(|p| p.parse::<u16>().ok()).ok_or_else(unsupported)?),
            _ => return Err(unsupported()),
        }
    }
    if !tcp || !states {
        return Err(unsupported());
    }
    let (own, count, expect) = match greps.iter().map(Vec::as_slice).collect::<Vec<_>>().as_slice() {
        [["grep", user], ["grep", "-c", state], ["grep", n]] if "packetdrill".starts_with(user) && !user.is_empty() => {
            (true, *state, *n)
        }
        [["grep", "-c", state], ["grep", n]] => (false, *state, *n),
        _ => return Err(unsupported()),
    };
    if !expect.chars().all(|c| c.is_ascii_digit()) {
        return Err(unsupported());
    }
    let state = state_named(line, count, &text)?;
    Ok(Command::CountSockets { ipv6, port, own, state, expect: expect.to_string(), text })
}

/// `tcpdrop -s STATE`.
fn tcpdrop(line: usize, command: &str) -> Result<Command> {
    let text = command.trim().to_string();
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["tcpdrop", "-s", state] => {
            let state = state_named(line, state, &text)?;
            Ok(Command::Drop { state, text })
        }
        _ => Err(ScriptError::unsupported(line, format!("shell command `{text}`"))),
    }
}

/// The table: what `name=value` means for the stack.
///
/// A setting that turns on a feature the stack lacks is unsupported when a
/// script makes it (the script is about that feature), but only noted when it
/// comes from a shell script of suite-wide defaults: upstream packetdrill's
/// `defaults.sh` turns on Fast Open, F-RTO and MPTCP for every script, and a
/// script that then exercises one of them meets its own refusal (a Fast Open
/// option or call is unsupported) or a packet mismatch — never a silent pass.
fn sysctl(line: usize, name: String, value: String, origin: Origin<'_>) -> Result<Sysctl> {
    use Setting::*;
    let unsupported = |what: &str| Err(ScriptError::unsupported(line, format!("{what} (`sysctl {name}={value}`)")));
    let defaults = matches!(origin, Origin::Sourced);
    let lacking = |feature: &str| -> Result<(Vec<Setting>, Option<String>)> {
        if defaults {
            Ok((
                Vec::new(),
                Some(format!("{feature} is not modelled (a defaults script sets it for every script, so noted)")),
            ))
        } else {
            Err(ScriptError::unsupported(line, format!("{feature} (`sysctl {name}={value}`)")))
        }
    };
    let int = || -> Result<u64> {
        let v = value.trim();
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        }
        .map_err(|_| ScriptError::parse(line, format!("`{name}={value}`: not a number")))
    };
    let size = || -> Result<usize> { usize::try_from(int()?).map_err(|_| ScriptError::parse(line, "too large")) };
    let count = || -> Result<u32> { u32::try_from(int()?).map_err(|_| ScriptError::parse(line, "too large")) };
    let flag = || -> Result<bool> { Ok(int()? != 0) };
    let none = |why: &str| (Vec::new(), Some(why.to_string()));
    let (settings, no_effect) = match name.as_str() {
        // FreeBSD.
        "net.inet.tcp.rfc1323" => match int()? {
            0 => (vec![WindowScaling(false), Timestamps(false)], None),
            1 => (vec![WindowScaling(true), Timestamps(true)], None),
            2 => (vec![WindowScaling(true), Timestamps(false)], None),
            3 => (vec![WindowScaling(false), Timestamps(true)], None),
            _ => return unsupported("an unknown RFC 1323 mode"),
        },
        "net.inet.tcp.sack.enable" => (vec![Sack(flag()?)], None),
        "net.inet.tcp.recvspace" => (vec![RecvBuffer(size()?)], None),
        "net.inet.tcp.sendspace" => (vec![SendBuffer(size()?)], None),
        "kern.ipc.maxsockbuf" => (vec![RecvBufferMax(size()?), SendBufferMax(size()?)], None),
        "net.inet.tcp.rexmit_initial" => (vec![InitialRto(Duration::from_millis(int()?))], None),
        "net.inet.tcp.syncache.rexmtlimit" => (vec![SynAckRetries(count()?)], None),
        "net.inet.tcp.hostcache.purgenow" => none("the stack keeps no host cache"),
        "net.inet.tcp.syncookies" => match int()? {
            0 => (vec![SynCookies(crate::config::SynCookies::Off)], None),
            _ => (vec![SynCookies(crate::config::SynCookies::WhenFull)], None),
        },
        "net.inet.tcp.syncookies_only" => match int()? {
            0 => none("cookies are used as net.inet.tcp.syncookies says"),
            _ => (vec![SynCookies(crate::config::SynCookies::Always)], None),
        },
        "net.inet.tcp.keepidle" => (vec![KeepaliveIdle(Duration::from_millis(int()?))], None),
        "net.inet.tcp.keepintvl" => (vec![KeepaliveInterval(Duration::from_millis(int()?))], None),
        "net.inet.tcp.keepcnt" => (vec![KeepaliveProbes(count()?)], None),
        "net.inet.tcp.blackhole" => match int()? {
            0 => none("the stack answers segments for closed ports with RST, as blackhole=0 does"),
            _ => return unsupported("dropping segments for closed ports without RST (blackhole)"),
        },
        "net.inet.tcp.ecn.enable" => match int()? {
            0 => none("the stack does not use ECN"),
            2 => none("ECN in server mode answers only a peer that asks for it, and the runner refuses ECN flags"),
            _ => return unsupported("ECN"),
        },
        "net.inet.tcp.insecure_rst" => (vec![Rfc5961Rst(!flag()?)], None),
        "net.inet.tcp.insecure_syn" => (vec![Rfc5961Syn(!flag()?)], None),
        "net.inet.tcp.drop_synfin" => (vec![DropSynFin(flag()?)], None),
        // Linux.
        "net.ipv4.tcp_window_scaling" => (vec![WindowScaling(flag()?)], None),
        "net.ipv4.tcp_timestamps" => (vec![Timestamps(flag()?)], None),
        "net.ipv4.tcp_sack" => (vec![Sack(flag()?)], None),
        "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem" => {
            let v: Vec<usize> = value
                .split_whitespace()
                .map(str::parse)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| ScriptError::parse(line, format!("`{name}={value}`: not three numbers")))?;
            let [_min, default, max] = v[..] else {
                return Err(ScriptError::parse(line, format!("`{name}={value}`: not three numbers")));
            };
            if name == "net.ipv4.tcp_rmem" {
                (vec![RecvBufferMax(max), RecvBuffer(default)], None)
            } else {
                (vec![SendBufferMax(max), SendBuffer(default)], None)
            }
        }
        "net.ipv4.tcp_syn_retries" => (vec![SynRetries(count()?)], None),
        "net.ipv4.tcp_retries2" => (vec![MaxRetries(count()?)], None),
        "net.ipv4.tcp_fin_timeout" => (vec![FinWait2Timeout(Duration::from_secs(int()?))], None),
        "net.ipv4.tcp_challenge_ack_limit" => (vec![ChallengeAcksPerSec(count()?)], None),
        "net.ipv4.tcp_syncookies" => match int()? {
            0 => (vec![SynCookies(crate::config::SynCookies::Off)], None),
            1 => (vec![SynCookies(crate::config::SynCookies::WhenFull)], None),
            2 => (vec![SynCookies(crate::config::SynCookies::Always)], None),
            _ => return unsupported("an unknown SYN-cookie mode"),
        },
        "net.ipv4.tcp_keepalive_time" => (vec![KeepaliveIdle(Duration::from_secs(int()?))], None),
        "net.ipv4.tcp_keepalive_intvl" => (vec![KeepaliveInterval(Duration::from_secs(int()?))], None),
        "net.ipv4.tcp_keepalive_probes" => (vec![KeepaliveProbes(count()?)], None),
        "net.ipv4.ip_no_pmtu_disc" => (vec![PathMtuDiscovery(int()? == 0)], None),
        "net.ipv4.tcp_invalid_ratelimit" => (vec![UnusableAckInterval(Duration::from_millis(int()?))], None),
        "net.ipv4.tcp_ecn" => match int()? {
            0 => none("the stack does not use ECN"),
            2 => none("ECN in server mode answers only a peer that asks for it, and the runner refuses ECN flags"),
            _ => return unsupported("ECN"),
        },
        "net.ipv4.tcp_fastopen" => match int()? {
            0 => none("the stack has no TCP Fast Open"),
            _ => lacking("TCP Fast Open (RFC 7413)")?,
        },
        "net.ipv4.tcp_fastopen_key" => lacking("TCP Fast Open (RFC 7413)")?,
        "net.ipv4.tcp_synack_retries" => (vec![SynAckRetries(count()?)], None),
        "net.ipv4.tcp_slow_start_after_idle" => (vec![SlowStartAfterIdle(flag()?)], None),
        "net.ipv4.tcp_frto" => match int()? {
            0 => none("the stack has no F-RTO"),
            _ => lacking("F-RTO (RFC 5682; after a timeout the stack retransmits, sending no new data first)")?,
        },
        "net.ipv4.tcp_dsack" => match int()? {
            0 => return unsupported("turning D-SACK off"),
            _ => none("the stack reports duplicates with D-SACK (RFC 2883) anyway"),
        },
        "net.ipv4.tcp_fack" => match int()? {
            0 => none("the stack has no FACK (gone from Linux too)"),
            _ => return unsupported("FACK"),
        },
        "net.ipv4.tcp_reordering" => match int()? {
            3 => none("the duplicate-ACK threshold is 3 (RFC 5681 §3.2) anyway"),
            _ => return unsupported("another duplicate-ACK threshold"),
        },
        // Linux: 3 and 4 mean tail loss probes on (and early retransmit
        // delayed or off), which RACK-TLP (RFC 8985) does here.
        "net.ipv4.tcp_early_retrans" => match int()? {
            3 | 4 => none("the stack sends tail loss probes (RFC 8985 §7) anyway"),
            _ => return unsupported("early retransmit without tail loss probes"),
        },
        "net.ipv4.tcp_recovery" => match int()? {
            1 => none("RACK loss detection (RFC 8985) is on anyway"),
            _ => return unsupported("loss recovery other than RACK"),
        },
        "net.ipv4.tcp_tso_win_divisor" => none("the stack does not hold segments back to build TSO bursts"),
        "net.ipv4.tcp_pacing_ss_ratio" | "net.ipv4.tcp_pacing_ca_ratio" => {
            none("Linux paces only under the fq qdisc or BBR; the script runs without either")
        }
        "net.ipv4.tcp_notsent_lowat" => match int()? {
            4_294_967_295 => none("no limit on unsent data, the default"),
            _ => return unsupported("a limit on unsent data (TCP_NOTSENT_LOWAT)"),
        },
        "net.mptcp.enabled" => match int()? {
            0 => none("the stack has no MPTCP"),
            _ => lacking("MPTCP (RFC 8684)")?,
        },
        "net.ipv4.tcp_no_metrics_save" => none("the stack keeps no per-destination metrics"),
        "net.ipv4.tcp_congestion_control" => match value.trim() {
            "reno" => (vec![Congestion(CongestionAlgorithm::NewReno)], None),
            "cubic" => (vec![Congestion(CongestionAlgorithm::Cubic)], None),
            other => return unsupported(&format!("congestion control `{other}`")),
        },
        _ => return unsupported("a setting the stack has no knob for"),
    };
    Ok(Sysctl { name, value, settings, no_effect })
}

/// The commands in a backtick block: split at `;`, `&&` and newlines (outside quotes).
fn split_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';' | '\n') => out.push(std::mem::take(&mut current)),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().filter(|c| !c.trim().is_empty()).collect()
}

/// A command's words, quotes removed (`name="4096 87380 6291456"` is one word). A
/// pipe, redirection or substitution is more shell than a setting: unsupported.
fn words(line: usize, command: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, '|' | '>' | '<' | '$' | '(' | ')' | '&') => {
                return Err(ScriptError::unsupported(line, format!("shell command `{}`", command.trim())));
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(ScriptError::parse(line, format!("unterminated quote in `{}`", command.trim())));
    }
    if in_word {
        out.push(current);
    }
    Ok(out)
}

/// Commands about machinery the stack does not have, and why they change
/// nothing: flushing Linux's per-destination metrics, and putting a plain FIFO
/// queue on the TUN (upstream's defaults do, against pacing by `fq`).
fn no_effect(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["ip", "tcp_metrics", "flush"] | ["ip", "tcp_metrics", "flush", "all"] => {
            Some("the stack keeps no per-destination metrics")
        }
        ["tc", "qdisc", "add" | "replace", "dev", _, "root", "pfifo" | "pfifo_fast"] => {
            Some("the runner has no queueing discipline: a packet goes out when the stack sends it")
        }
        _ => None,
    }
}

/// `command` without redirections of its output (`> /dev/null 2>&1`): where a
/// command's output goes changes nothing it does.
fn strip_redirections(command: &str) -> String {
    let mut words: Vec<&str> = command.split_whitespace().collect();
    loop {
        match words.as_slice() {
            [.., ">" | "2>" | "1>", "/dev/null"] => words.truncate(words.len() - 2),
            [.., ">/dev/null" | "2>/dev/null" | "1>/dev/null" | "2>&1" | "&>/dev/null"] => {
                words.truncate(words.len() - 1)
            }
            _ => break,
        }
    }
    // Only when something was removed: quoted values keep their spacing.
    if words.len() == command.split_whitespace().count() {
        command.to_string()
    } else {
        words.join(" ")
    }
}

/// Shell arithmetic `$((15*1024*1024))` replaced by its value. Only sums and
/// products of decimal numbers: anything else is more shell than a setting.
fn expand_arithmetic(line: usize, command: String) -> Result<String> {
    let mut out = String::new();
    let mut rest = command.as_str();
    while let Some(start) = rest.find("$((") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end =
            after.find("))").ok_or_else(|| ScriptError::parse(line, format!("unterminated `$((` in `{command}`")))?;
        let value = after[..end]
            .split('+')
            .map(|term| term.split('*').map(|n| n.trim().parse::<u64>().ok()).try_fold(1u64, |p, n| p.checked_mul(n?)))
            .try_fold(0u64, |s, t| s.checked_add(t?))
            .ok_or_else(|| {
                ScriptError::unsupported(
                    line,
                    format!("shell arithmetic `$(({}))` (only sums and products)", &after[..end]),
                )
            })?;
        out.push_str(&value.to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    fn sysctls(text: &str) -> Vec<Sysctl> {
        interpret(1, text, None)
            .expect("interpreted")
            .into_iter()
            .map(|c| match c {
                Command::Sysctl(s) => s,
                other => panic!("not a sysctl: {other:?}"),
            })
            .collect()
    }

    fn settings(text: &str) -> Vec<Setting> {
        sysctls(text).into_iter().flat_map(|s| s.settings).collect()
    }

    #[test]
    fn freebsd_settings_map_to_the_config() {
        assert_eq!(settings("sysctl -w net.inet.tcp.sack.enable=0"), [Setting::Sack(false)]);
        assert_eq!(
            settings("sysctl -w net.inet.tcp.rfc1323=2"),
            [Setting::WindowScaling(true), Setting::Timestamps(false)]
        );
        let mut tcp = TcpConfig::default();
        for text in ["sysctl -w kern.ipc.maxsockbuf=2097152", "sysctl -w net.inet.tcp.recvspace=65536"] {
            for s in settings(text) {
                s.apply(&mut tcp);
            }
        }
        assert_eq!((tcp.recv_buffer, tcp.recv_buffer_max), (65_536, 2_097_152));
        assert_eq!(tcp.send_buffer_max, 2_097_152);
        assert_eq!(
            settings("sysctl -w net.inet.tcp.rexmit_initial=3000"),
            [Setting::InitialRto(Duration::from_secs(3))]
        );
    }

    #[test]
    fn linux_settings_map_to_the_config() {
        assert_eq!(settings("sysctl -q net.ipv4.tcp_timestamps=0"), [Setting::Timestamps(false)]);
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_rmem=\"4096 87380 6291456\""),
            [Setting::RecvBufferMax(6_291_456), Setting::RecvBuffer(87_380)]
        );
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_sack=1; sysctl -qw net.ipv4.tcp_syn_retries=3\n"),
            [Setting::Sack(true), Setting::SynRetries(3)]
        );
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_window_scaling=1 && sysctl net.ipv4.tcp_retries2=5"),
            [Setting::WindowScaling(true), Setting::MaxRetries(5)]
        );
        let mut tcp = TcpConfig::default();
        Setting::RecvBufferMax(1000).apply(&mut tcp);
        assert!(tcp.recv_buffer <= tcp.recv_buffer_max);
    }

    #[test]
    fn cookies_keepalive_and_pmtu_settings() {
        assert_eq!(settings("sysctl -q net.ipv4.tcp_syncookies=2"), [Setting::SynCookies(SynCookies::Always)]);
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_congestion_control=reno"),
            [Setting::Congestion(CongestionAlgorithm::NewReno)]
        );
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_congestion_control=cubic"),
            [Setting::Congestion(CongestionAlgorithm::Cubic)]
        );
        assert_eq!(settings("sysctl -w net.inet.tcp.syncookies=0"), [Setting::SynCookies(SynCookies::Off)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.keepidle=5000"), [Setting::KeepaliveIdle(Duration::from_secs(5))]);
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_keepalive_intvl=3"),
            [Setting::KeepaliveInterval(Duration::from_secs(3))]
        );
        assert_eq!(settings("sysctl -q net.ipv4.ip_no_pmtu_disc=1"), [Setting::PathMtuDiscovery(false)]);
        let mut tcp = TcpConfig::default();
        for s in settings("sysctl -q net.ipv4.tcp_keepalive_time=60; sysctl -q net.ipv4.tcp_keepalive_probes=3") {
            s.apply(&mut tcp);
        }
        assert_eq!((tcp.keepalive.idle, tcp.keepalive.probes), (Duration::from_secs(60), 3));
        assert!(!tcp.keepalive.enabled, "the sysctls time keepalive; SO_KEEPALIVE turns it on");
    }

    #[test]
    fn freebsds_rfc793_switches_map_to_the_stacks_knobs() {
        assert_eq!(settings("sysctl -w net.inet.tcp.insecure_rst=1"), [Setting::Rfc5961Rst(false)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.insecure_rst=0"), [Setting::Rfc5961Rst(true)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.insecure_syn=1"), [Setting::Rfc5961Syn(false)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.drop_synfin=1"), [Setting::DropSynFin(true)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.drop_synfin=0"), [Setting::DropSynFin(false)]);
        assert_eq!(settings("sysctl -w net.inet.tcp.syncache.rexmtlimit=2"), [Setting::SynAckRetries(2)]);
        assert_eq!(
            settings("sysctl -q net.ipv4.tcp_synack_retries=4 net.ipv4.tcp_slow_start_after_idle=0"),
            [Setting::SynAckRetries(4), Setting::SlowStartAfterIdle(false)]
        );
    }

    #[test]
    fn defaults_we_share_change_nothing_and_say_why() {
        for text in [
            "sysctl -w net.inet.tcp.blackhole=0",
            "sysctl -w net.inet.tcp.ecn.enable=2",
            "sysctl -w net.inet.tcp.hostcache.purgenow=1",
        ] {
            let s = sysctls(text);
            assert!(s[0].settings.is_empty() && s[0].no_effect.is_some(), "{text}");
        }
    }

    #[test]
    fn what_we_cannot_model_is_unsupported_and_named() {
        for (text, what) in [
            ("sysctl -w net.inet.tcp.ecn.enable=1", "ECN"),
            ("sysctl -q net.ipv4.tcp_fastopen=3", "Fast Open"),
            ("sysctl -q net.ipv4.tcp_early_retrans=0", "net.ipv4.tcp_early_retrans"),
            ("sysctl -q net.ipv4.tcp_frto=2", "F-RTO"),
            ("sysctl -q net.mptcp.enabled=1", "MPTCP"),
            ("tc qdisc add dev tun0 root fq", "shell command `tc"),
            ("sysctl -q net.ipv4.tcp_rmem=\"4096 $((1<<20)) 8\"", "shell arithmetic"),
            ("../common/defaults.sh", "no directory"),
            ("sysctl -q net.ipv4.tcp_congestion_control=bbr", "bbr"),
            ("sockstat -4 -P udp -s | grep -c TIME_WAIT | grep 1", "shell command `sockstat"),
            ("sockstat -4 -P tcp -s | grep -c TIME_WAIT", "shell command `sockstat"),
            ("sockstat -4 -P tcp -s | grep foo | grep -c TIME_WAIT | grep 1", "shell command `sockstat"),
            ("sockstat -4 -P tcp -s | grep -c TIME-WAIT | grep 1", "TCP state `TIME-WAIT`"),
            ("tcpdrop 192.0.2.1 8080 192.168.0.1 1234", "shell command `tcpdrop"),
            ("sysctl -w net.inet.tcp.sack.enable=1; tc qdisc add dev tun0 root netem", "shell command `tc"),
            ("sysctl -n net.inet.tcp.sack.enable", "reading a setting"),
            ("sysctl -x a=1", "`sysctl` option `-x`"),
        ] {
            let e = interpret(4, text, None).expect_err(text);
            assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 4), "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
    }

    #[test]
    fn socket_table_commands() {
        let c =
            interpret(1, "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1", None).expect("known");
        assert_eq!(
            c,
            [Command::CountSockets {
                text: "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1".into(),
                ipv6: Some(false),
                port: None,
                own: true,
                state: "TIME_WAIT",
                expect: "1".into()
            }]
        );
        let c = interpret(1, "sockstat -4 -P tcp -s -p 8080 | grep -c SYN_RCVD | grep 0", None).expect("known");
        assert!(
            matches!(&c[0], Command::CountSockets { port: Some(8080), own: false, state: "SYN_RCVD", expect, .. } if expect == "0")
        );
        let c = interpret(1, "sockstat -6 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0", None).expect("known");
        assert!(matches!(&c[0], Command::CountSockets { ipv6: Some(true), port: Some(8080), .. }));
        let c = interpret(1, "tcpdrop -s TIME_WAIT", None).expect("known");
        assert_eq!(c, [Command::Drop { text: "tcpdrop -s TIME_WAIT".into(), state: "TIME_WAIT" }]);
        assert_eq!(freebsd_state("SYN-RECEIVED"), "SYN_RCVD");
        assert_eq!(freebsd_state("FIN-WAIT-2"), "FIN_WAIT_2");
    }

    #[test]
    fn malformed_commands_are_syntax_errors() {
        for text in [
            "",
            "  ;  ",
            "sysctl -w net.inet.tcp.recvspace=lots",
            "sysctl -q net.ipv4.tcp_rmem=\"1 2\"",
            "sysctl -w a=\"1",
        ] {
            let e = interpret(2, text, None).expect_err(text);
            assert_eq!(e.kind, ErrorKind::Parse, "{text}: {e}");
        }
    }
}
