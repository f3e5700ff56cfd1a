//! packetdrill's command-line options, in a script's header (`--tolerance_usecs=50000`
//! on a line of its own) or on `tunstack script`'s command line.
//!
//! # The model
//!
//! Every option packetdrill knows is accepted, so real scripts run unchanged;
//! each falls in one of three groups:
//!
//! - **applied** — it changes the run: `--tolerance_usecs`,
//!   `--tolerance_percent` (packetdrill's default 12.5 % is not ours: 0), `--bind_port`,
//!   `--connect_port`, `--local_ip`, `--remote_ip` (IPv4 or IPv6), `--mtu`,
//!   `--ip_version=ipv4`, `ipv6` (the stack gets an IPv6 address, and the
//!   script's packets and sockets are IPv6) and `ipv4-mapped-ipv6` (the
//!   script's sockets are `AF_INET6` and name the IPv4 addresses as
//!   `::ffff:a.b.c.d`, the packets stay IPv4), `-v`/`--verbose` (trace every event, and show a
//!   mismatched packet field by field), and `-D`/`--define` on the command line
//!   (symbols for `#ifdef`, see `preprocess.rs`);
//! - **ignored, and said so** — it tunes packetdrill itself or its live
//!   mode and has no meaning in virtual time (`--wire_*`, `--speed`, `--debug`,
//!   …), or it relaxes a check the runner does not make
//!   (`--tcp_ts_tick_usecs`: outbound TSvals are never compared). Each one becomes
//!   a note in the [`Report`](super::Report), never silence;
//! - **unsupported** — it asks for something the stack does not have. No
//!   option is in this group today; the error kind stays for the day one is.
//!
//! A name packetdrill does not know, or a value it would refuse (a port of 0, a
//! tolerance that is not a number), is a syntax error with its line. Options
//! given on the command line come after the script's own and override them, as
//! in packetdrill.
//!
//! # Cost
//!
//! One string split and a table lookup per option; notes are short strings.

use std::net::IpAddr;
use std::str::FromStr;

use super::ast::Script;
use super::error::{Result, ScriptError};
use super::Profile;

/// What the header's options change about the [`Profile`], and what they left
/// aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--bind_port`: the port `bind` and `listen` use.
    pub bind_port: Option<u16>,
    /// `--connect_port`: the port `connect` connects to.
    pub connect_port: Option<u16>,
    /// `--ip_version=ipv6`: the script runs over IPv6.
    pub ipv6: bool,
    /// `--ip_version=ipv4-mapped-ipv6`: IPv4 packets, `AF_INET6` sockets.
    pub v4_mapped: bool,
    /// `--local_ip`: the stack's address (IPv4 or IPv6).
    pub local_ip: Option<IpAddr>,
    /// `--remote_ip`: the remote host's address (IPv4 or IPv6).
    pub remote_ip: Option<IpAddr>,
    /// `--mtu`: the link MTU (and so the MSS the stack offers).
    pub mtu: Option<usize>,
    /// `-v` / `--verbose`: trace every event as it runs.
    pub verbose: bool,
    /// `--tolerance_percent=P`, in parts per million (12.5 % → 125000).
    pub tolerance_ppm: Option<u64>,
    /// Options accepted without effect, and why: `(line, note)`; line 0 for the
    /// command line.
    pub notes: Vec<(usize, String)>,
}

impl Settings {
    /// `profile` with these settings applied.
    pub fn apply_to(&self, profile: &Profile) -> Profile {
        let mut p = profile.clone();
        if let Some(port) = self.bind_port {
            p.local_port = port;
        }
        if let Some(port) = self.connect_port {
            p.connect_port = port;
        }
        match self.local_ip {
            Some(IpAddr::V4(ip)) => p.config.addr = ip,
            Some(IpAddr::V6(ip)) => p.local6 = ip,
            None => {}
        }
        match self.remote_ip {
            Some(IpAddr::V4(ip)) => p.remote = ip,
            Some(IpAddr::V6(ip)) => p.remote6 = ip,
            None => {}
        }
        if self.ipv6 {
            p.ipv6 = true;
            p.config.addr6 = Some(p.local6);
        }
        p.v4_mapped |= self.v4_mapped;
        if let Some(mtu) = self.mtu {
            p.config.mtu = mtu;
        }
        p
    }
}

/// Options packetdrill accepts that have no effect here, with why.
const IGNORED: &[(&str, &str)] = &[
    ("code_command", "no %{ python }% blocks are run"),
    ("code_format", "no %{ python }% blocks are run"),
    ("code_sockopt", "no %{ python }% blocks are run"),
    ("gateway_ip", "there is no routing in virtual time"),
    ("netmask_ip", "there is no routing in virtual time"),
    ("speed", "the virtual link has no speed"),
    ("mss", "packetdrill's own TSO segmentation; the stack's MSS comes from the MTU"),
    ("init_scripts", "no shell scripts are run"),
    ("tcp_ts_ecr_scaled", "outbound TSvals are not compared"),
    ("tcp_ts_tick_usecs", "outbound TSvals are not compared"),
    ("strict_segments", "segments are never split or merged here"),
    ("non_fatal", "every mismatch is fatal here"),
    ("wire_client", "no wire mode in virtual time"),
    ("wire_server", "no wire mode in virtual time"),
    ("wire_server_ip", "no wire mode in virtual time"),
    ("wire_server_at", "no wire mode in virtual time"),
    ("wire_server_port", "no wire mode in virtual time"),
    ("wire_client_dev", "no wire mode in virtual time"),
    ("wire_server_dev", "no wire mode in virtual time"),
    ("so_filename", "the stack under test is always tunstack"),
    ("so_flags", "the stack under test is always tunstack"),
    ("dry_run", "the script is always run"),
    ("is_anyip", "there is no AnyIP routing here"),
    ("send_omit_free", "no shared-object stack"),
    ("debug", "use RUST_LOG for the stack's trace"),
];

/// Apply one option (`--name=value`, `--name`, `-v` or `-DSYMBOL`) found on `line` (0: the
/// command line) to `script`.
pub fn apply(script: &mut Script, line: usize, option: &str) -> Result<()> {
    let option = option.trim();
    let err = |message: String| ScriptError::parse(line, message);
    if let Some(symbol) = option.strip_prefix("-D") {
        return apply(script, line, &format!("--define={symbol}"));
    }
    let body = match option.strip_prefix("--") {
        Some(body) => body,
        None if option == "-v" => "verbose",
        None => return Err(err(format!("`{option}` is not an option (`--name=value`)"))),
    };
    let (name, value) = match body.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (body.trim(), None),
    };
    let needs = || value.ok_or_else(|| err(format!("`--{name}` needs a value (`--{name}=…`)")));
    let settings = &mut script.settings;
    match name {
        "ip_version" => match needs()? {
            "ipv4" => (settings.ipv6, settings.v4_mapped) = (false, false),
            "ipv6" => (settings.ipv6, settings.v4_mapped) = (true, false),
            "ipv4-mapped-ipv6" => (settings.ipv6, settings.v4_mapped) = (false, true),
            other => return Err(err(format!("bad --ip_version `{other}` (ipv4, ipv4-mapped-ipv6 or ipv6)"))),
        },
        "tolerance_usecs" => script.tolerance_us = number(name, needs()?).map_err(err)?,
        "tolerance_percent" => settings.tolerance_ppm = Some(parts_per_million(name, needs()?).map_err(err)?),
        "bind_port" => settings.bind_port = Some(port(name, needs()?).map_err(err)?),
        "connect_port" => settings.connect_port = Some(port(name, needs()?).map_err(err)?),
        "mtu" => {
            let mtu: usize = number(name, needs()?).map_err(err)?;
            if !(68..=65_535).contains(&mtu) {
                return Err(err(format!("--mtu {mtu} is outside 68..=65535")));
            }
            settings.mtu = Some(mtu);
        }
        "define" => {
            if needs()?.is_empty() {
                return Err(err("`--define` needs a symbol (`-D SYMBOL`)".to_string()));
            }
            if line > 0 {
                settings.notes.push((line, format!("ignored `{option}`: #ifdef symbols come from the command line")));
            }
        }
        "verbose" => settings.verbose = true,
        "local_ip" => settings.local_ip = Some(address(line, name, needs()?)?),
        "remote_ip" => settings.remote_ip = Some(address(line, name, needs()?)?),
        _ => match IGNORED.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => settings.notes.push((line, format!("ignored `{option}`: {why}"))),
            None => return Err(err(format!("unknown option `--{name}` (packetdrill has no such option)"))),
        },
    }
    Ok(())
}

/// The symbol a `--define=SYMBOL[=VALUE]` or `-DSYMBOL` option defines for `#ifdef`.
pub fn define_of(option: &str) -> Option<String> {
    let option = option.trim();
    let value = option.strip_prefix("--define=").or_else(|| option.strip_prefix("-D"))?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `12.5` (percent) → 125000 parts per million, exactly (at most 4 decimals).
fn parts_per_million(name: &str, value: &str) -> std::result::Result<u64, String> {
    let bad = || format!("bad --{name} `{value}` (a percentage such as 12.5)");
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 4 || whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<4}").parse().map_err(|_| bad())? };
    whole.checked_mul(10_000).and_then(|w| w.checked_add(fraction)).ok_or_else(bad)
}

fn number<T: FromStr>(name: &str, value: &str) -> std::result::Result<T, String> {
    value.parse().map_err(|_| format!("bad --{name} `{value}` (a non-negative integer)"))
}

fn port(name: &str, value: &str) -> std::result::Result<u16, String> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("bad --{name} `{value}` (a port, 1 to 65535)")),
    }
}

/// An IPv4 or IPv6 address, optionally with a prefix length (`192.0.2.1/24`,
/// as packetdrill's `--remote_ip` allows). Which one the script uses is
/// `--ip_version`'s choice; the other is kept for a later `--ip_version`.
fn address(line: usize, name: &str, value: &str) -> Result<IpAddr> {
    let addr = value.split_once('/').map_or(value, |(a, _)| a);
    addr.parse().map_err(|_| ScriptError::parse(line, format!("bad --{name} `{value}` (an IP address)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parser::DEFAULT_TOLERANCE_US;
    use crate::script::ErrorKind;
    use std::net::Ipv4Addr;

    fn script() -> Script {
        Script { tolerance_us: DEFAULT_TOLERANCE_US, settings: Settings::default(), events: vec![] }
    }

    fn applied(options: &[&str]) -> Result<Script> {
        let mut s = script();
        for (i, o) in options.iter().enumerate() {
            apply(&mut s, i + 1, o)?;
        }
        Ok(s)
    }

    #[test]
    fn the_options_that_change_the_run() {
        let s = applied(&[
            "--ip_version=ipv4",
            "--tolerance_usecs=50000",
            "--bind_port=9000",
            "--connect_port=9001",
            "--local_ip=10.0.0.1",
            "--remote_ip=10.0.0.2/24",
            "--mtu=1280",
            "-v",
            "--tolerance_percent=12.5",
        ])
        .expect("valid");
        assert!(s.settings.verbose);
        assert_eq!(s.settings.tolerance_ppm, Some(125_000));
        assert_eq!(parts_per_million("t", "0.0001"), Ok(1));
        assert!(parts_per_million("t", "1.23456").is_err() && parts_per_million("t", "x").is_err());
        assert_eq!(s.tolerance_us, 50_000);
        let p = s.settings.apply_to(&Profile::linux());
        assert_eq!((p.local_port, p.connect_port), (9000, 9001));
        assert_eq!((p.config.addr, p.remote), (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)));
        assert!(!p.ipv6 && p.config.addr6.is_none(), "IPv4 scripts leave IPv6 off");
        assert_eq!(p.config.mtu, 1280);
        assert!(s.settings.notes.is_empty());
    }

    #[test]
    fn options_without_effect_are_noted_with_their_line() {
        let s = applied(&["--mss=1000", "--tcp_ts_tick_usecs=1000", "--strict_segments", "--debug", "--wire_server"])
            .expect("accepted");
        let lines: Vec<usize> = s.settings.notes.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        assert!(s.settings.notes[0].1.starts_with("ignored `--mss=1000`: "), "{:?}", s.settings.notes);
        assert_eq!(s.settings.apply_to(&Profile::linux()).config.mtu, Profile::linux().config.mtu);
    }

    #[test]
    fn defines_are_for_the_command_line() {
        assert_eq!(define_of("-DFreeBSD"), Some("FreeBSD".into()));
        assert_eq!(define_of("--define=STANDARD=1"), Some("STANDARD=1".into()));
        assert_eq!(define_of("--define="), None);
        assert_eq!(define_of("--mss=1"), None);
        let s = applied(&["--define=A"]).expect("accepted");
        assert_eq!(s.settings.notes.len(), 1, "too late in the header for #ifdef");
        let mut s = script();
        apply(&mut s, 0, "-DA").expect("accepted");
        assert!(s.settings.notes.is_empty());
        assert!(applied(&["--define"]).is_err());
        assert!(applied(&["--define="]).is_err());
        assert!(applied(&["-D"]).is_err());
    }

    #[test]
    fn ipv6_scripts_get_ipv6_addresses() {
        let s = applied(&["--ip_version=ipv6"]).expect("valid");
        let p = s.settings.apply_to(&Profile::linux());
        assert!(p.ipv6);
        assert_eq!(p.config.addr6, Some(p.local6));
        assert_eq!((p.local_ip(), p.remote_ip()), (p.local6.into(), p.remote6.into()));
        let s = applied(&["--ip_version=ipv6", "--local_ip=fd3d::1", "--remote_ip=fd3d::2/64"]).expect("valid");
        let p = s.settings.apply_to(&Profile::linux());
        assert_eq!(p.local_ip(), "fd3d::1".parse::<IpAddr>().expect("literal"));
        assert_eq!(p.remote_ip(), "fd3d::2".parse::<IpAddr>().expect("literal"));
        assert_eq!(p.config.addr6, Some("fd3d::1".parse().expect("literal")));
    }

    #[test]
    fn ipv4_mapped_ipv6_scripts_keep_ipv4_on_the_wire_and_map_their_socket_addresses() {
        let s = applied(&["--ip_version=ipv4-mapped-ipv6"]).expect("valid");
        let p = s.settings.apply_to(&Profile::linux());
        assert!(p.v4_mapped && !p.ipv6);
        assert_eq!(p.config.addr6, None, "an IPv4 host: no IPv6 address");
        let (local, remote) = (Ipv4Addr::new(192, 168, 0, 1), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!((p.local_ip(), p.remote_ip()), (local.into(), remote.into()), "the packets' addresses");
        let mapped = |ip: Ipv4Addr| IpAddr::V6(ip.to_ipv6_mapped());
        assert_eq!((p.socket_ip(p.local_ip()), p.socket_ip(p.remote_ip())), (mapped(local), mapped(remote)));
        assert_eq!(p.socket_ip(p.local_ip()).to_string(), "::ffff:192.168.0.1");
        // The last --ip_version wins, as with any option given twice.
        let p = applied(&["--ip_version=ipv4-mapped-ipv6", "--ip_version=ipv4"])
            .expect("valid")
            .settings
            .apply_to(&Profile::linux());
        assert!(!p.v4_mapped && p.socket_ip(p.local_ip()) == p.local_ip());
        let p = applied(&["--ip_version=ipv4-mapped-ipv6", "--ip_version=ipv6"])
            .expect("valid")
            .settings
            .apply_to(&Profile::linux());
        assert!(p.ipv6 && !p.v4_mapped && p.socket_ip(p.local_ip()) == IpAddr::V6(p.local6));
    }

    #[test]
    fn bad_options_are_syntax_errors() {
        for o in [
            "--no_such_option=1",
            "--ip_version=ipv5",
            "--tolerance_usecs=soon",
            "--tolerance_usecs",
            "--bind_port=0",
            "--connect_port=70000",
            "--mtu=10",
            "--remote_ip=192.0.2",
            "-x",
        ] {
            let e = applied(&["--ip_version=ipv4", o]).expect_err(o);
            assert_eq!((e.kind, e.line), (ErrorKind::Parse, 2), "{o}: {e}");
        }
    }
}
