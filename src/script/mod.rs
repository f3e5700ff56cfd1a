//! Scripted-peer tests in packetdrill's language, run against the sans-IO core in
//! virtual time.
//!
//! [packetdrill](https://github.com/google/packetdrill) is how Linux, FreeBSD and
//! gVisor test their TCP: a script of timed lines, each a system call the program
//! makes, a segment the remote host sends (`<`) or a segment the stack must send
//! (`>`):
//!
//! ```text
//! 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! +0  bind(3, ..., ...) = 0
//! +0  listen(3, 1) = 0
//! +0  < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
//! +0  > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
//! +.1 < . 1:1(0) ack 1 win 257
//! +0  accept(3, ..., ...) = 4
//! ```
//!
//! This module reads such scripts ([`parser`], via [`lexer`], into the [`ast`]) and
//! runs them ([`run`], the event loop) against a [`Stack`](crate::Stack) with no
//! TUN and no threads: the runner owns the clock. The model is documented where it
//! is implemented: `clock` (virtual time, tolerance), `calls` (the socket-call
//! model, blocking calls), `matching` (the connection under test, relative
//! sequence numbers, timestamps), `errno` and `args` (how results and arguments
//! are numbers); [`parser`] gives the grammar subset. From the command line:
//! `tunstack script FILE.pkt`.
//!
//! A script runs with a [`Profile`]: the stack's settings and the addresses
//! and ports of the test. [`Profile::linux`], the default, makes the stack look
//! like the Linux host packetdrill scripts are written for, as far as our settings
//! go.

mod args;
pub mod ast;
mod calls;
mod clock;
mod code;
mod display;
mod errno;
mod error;
pub mod lexer;
mod matching;
pub mod options;
pub mod packet;
pub mod parser;
mod preprocess;
pub mod run;
pub mod shell;
mod source;
pub mod virtual_time;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

pub use error::{ErrorKind, Result, ScriptError};

use crate::config::StackConfig;

/// Where a script runs: the stack's configuration (its address is the script's
/// local address) and the remote host's address and ports.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The stack under test.
    pub config: StackConfig,
    /// The remote host the script plays.
    pub remote: Ipv4Addr,
    /// The script runs over IPv6 (`--ip_version=ipv6`): the stack gets
    /// `local6` as its `StackConfig::addr6`, and every packet, call and
    /// tuple uses `local6` and `remote6` instead of the IPv4 addresses.
    pub ipv6: bool,
    /// The script runs with `--ip_version=ipv4-mapped-ipv6`: its sockets are
    /// `AF_INET6` (dual-stack sockets of the stack, `crate::ip`'s rules) and
    /// name the IPv4 addresses as IPv4-mapped IPv6 ones (RFC 4291 §2.5.5.2,
    /// `::ffff:192.168.0.1`) in `bind`, `connect` and `sendto`; the packets
    /// stay IPv4. packetdrill's own runner runs its Linux tests in this mode too.
    pub v4_mapped: bool,
    /// The stack's IPv6 address in an IPv6 script.
    pub local6: Ipv6Addr,
    /// The remote host's IPv6 address in an IPv6 script.
    pub remote6: Ipv6Addr,
    /// The port `bind(fd, ..., ...)` binds and `listen` listens on.
    pub local_port: u16,
    /// The remote host's port when it connects to a listener.
    pub remote_port: u16,
    /// The port `connect(fd, ..., ...)` connects to.
    pub connect_port: u16,
}

impl Profile {
    /// packetdrill's defaults on Linux: the stack is 192.168.0.1, the remote host
    /// 192.0.2.1 (TEST-NET-1); scripts bind and connect to port 8080; the remote
    /// host connects from an ephemeral port (which scripts never name). The stack
    /// uses [`StackConfig::linux_profile`]. In IPv6 the stack is
    /// fd3d:a0b:17d6::1 and the remote host fd3d:fa7b:d17d::1, the addresses
    /// packetdrill's own test runner (and the Linux kernel's selftests) pass
    /// with `--ip_version=ipv6`.
    pub fn linux() -> Self {
        Profile {
            config: StackConfig::linux_profile(),
            remote: Ipv4Addr::new(192, 0, 2, 1),
            ipv6: false,
            v4_mapped: false,
            local6: Ipv6Addr::new(0xfd3d, 0x0a0b, 0x17d6, 0, 0, 0, 0, 1),
            remote6: Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 1),
            local_port: 8080,
            remote_port: 48_271,
            connect_port: 8080,
        }
    }
}

impl Profile {
    /// The stack's address in this script: IPv4 or, with `ipv6`, IPv6.
    pub fn local_ip(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(self.local6)
        } else {
            IpAddr::V4(self.config.addr)
        }
    }

    /// The remote host's address in this script.
    pub fn remote_ip(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(self.remote6)
        } else {
            IpAddr::V4(self.remote)
        }
    }

    /// `ip` (one of the script's packet addresses) as the script's sockets name
    /// it: IPv4-mapped in an `ipv4-mapped-ipv6` script, else as it is.
    pub fn socket_ip(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) if self.v4_mapped => IpAddr::V6(v4.to_ipv6_mapped()),
            other => other,
        }
    }

    /// FreeBSD 13/14 as the FreeBSD TCP test suite expects it: the same addresses
    /// and ports as [`Profile::linux`], the stack with
    /// [`StackConfig::freebsd_profile`].
    pub fn freebsd() -> Self {
        Profile { config: StackConfig::freebsd_profile(), ..Profile::linux() }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::linux()
    }
}

/// What a script that passed has to say: the options and settings it used that
/// had no effect here, as `(line, note)` (line 0: the command line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub notes: Vec<(usize, String)>,
}

/// Parse and run script text; `name` is used in error messages.
pub fn run_str(name: &str, text: &str, profile: &Profile) -> Result<Report> {
    run_str_with(name, text, profile, &[])
}

/// Parse and run script text with packetdrill command-line options (`--bind_port=9000`),
/// which override the script's own.
pub fn run_str_with(name: &str, text: &str, profile: &Profile, options: &[String]) -> Result<Report> {
    run_str_traced(name, text, profile, options, &mut |_| {})
}

/// [`run_str_with`], handing `trace` one line per event when the options or the
/// script ask for `-v`.
pub fn run_str_traced(
    name: &str,
    text: &str,
    profile: &Profile,
    options: &[String],
    trace: &mut dyn FnMut(&str),
) -> Result<Report> {
    if text.trim().is_empty() {
        return Err(ScriptError::new(ErrorKind::Parse, 0, "the script is empty").in_file(name));
    }
    let defines: Vec<String> = options.iter().filter_map(|o| options::define_of(o)).collect();
    let text = preprocess::preprocess(text, &defines).map_err(|e| e.in_file(name))?;
    let dir = Path::new(name).parent();
    let mut script = parser::parse_in(&text, dir).map_err(|e| e.in_file(name))?;
    for option in options {
        options::apply(&mut script, 0, option).map_err(|mut e| {
            e.message = format!("on the command line: {}", e.message);
            e.in_file(name)
        })?;
    }
    if script.events.is_empty() {
        return Err(
            ScriptError::new(ErrorKind::Parse, 0, "the script has no events (only comments and options)").in_file(name)
        );
    }
    run::run_traced(&script, profile, trace).map_err(|e| e.in_file(name))
}

/// Read, parse and run a `.pkt` file.
pub fn run_file(path: &Path, profile: &Profile) -> Result<Report> {
    run_file_with(path, profile, &[])
}

/// Read, parse and run a `.pkt` file with packetdrill command-line options.
pub fn run_file_with(path: &Path, profile: &Profile, options: &[String]) -> Result<Report> {
    run_file_traced(path, profile, options, &mut |_| {})
}

/// [`run_file_with`] with a trace of every event for `-v`.
pub fn run_file_traced(
    path: &Path,
    profile: &Profile,
    options: &[String],
    trace: &mut dyn FnMut(&str),
) -> Result<Report> {
    let name = path.display().to_string();
    let text = read_script(path).map_err(|e| e.in_file(&name))?;
    run_str_traced(&name, &text, profile, options, trace)
}

/// The script's text, or why there is none: a missing file, a directory, not UTF-8.
fn read_script(path: &Path) -> Result<String> {
    if path.is_dir() {
        return Err(ScriptError::unreadable("is a directory, not a script"));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ScriptError::unreadable("no such file"),
        _ => ScriptError::unreadable(format!("cannot read the script: {e}")),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        ScriptError::new(ErrorKind::Unreadable, line, "not a text file (invalid UTF-8)")
    })
}
