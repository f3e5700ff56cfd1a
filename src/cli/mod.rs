//! Command-line interface (clap).
//!
//! Exit status: 0 when the command did its job, 1 when it failed (the message on
//! standard error says why), 2 for a usage error (an unknown option, a value out
//! of range, options that contradict each other) — clap's own errors and
//! [`Cli::check`]'s. A closed standard output (`| head`) is not a failure: the
//! command stops printing quietly (see [`output_closed`]) and never panics.

mod connect;
mod control;
mod link;
mod plot;
mod ports;
mod script;
mod serve;
mod tcp_args;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Shown at the end of `tunstack --help`.
const EXIT_STATUS: &str = "Exit status: 0 ok, 1 failure (the message says why), 2 usage error \
(bad option or value). A closed standard output (e.g. `| head`) ends a command quietly.";

/// Shown at the end of `serve --help`, `connect --help` and `script --help`.
const LOGGING: &str = "Logging: RUST_LOG filters the trace events printed to standard error \
(no colours unless it is a terminal), e.g. RUST_LOG=tunstack=debug for TCP state transitions, \
retransmissions, drops and queue overflows, or RUST_LOG=tunstack::tcp::state=debug for the \
state transitions only. --trace-json FILE also writes them as JSON lines; --explain narrates \
them in plain words.";

#[derive(Parser, Debug)]
#[command(
    name = "tunstack",
    version,
    about = "A from-scratch user-space TCP/UDP/IP stack on a Linux TUN device",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a TUN, run the stack on it and serve the classic well-known ports.
    #[command(after_help = LOGGING)]
    Serve(serve::ServeArgs),
    /// A netcat through the stack: stdin to a connection, the connection to stdout.
    #[command(after_help = LOGGING)]
    Connect(connect::ConnectArgs),
    /// Run packetdrill scripts (.pkt) against the stack in virtual time (no TUN).
    #[command(after_help = LOGGING)]
    Script(script::ScriptArgs),
    /// List a running `serve`'s sockets, like `ss -tuna`: state, queues and their
    /// bounds, addresses, service names, drops.
    Ss(control::ControlArgs),
    /// Print a running `serve`'s counters (IP, ICMP, UDP, TCP).
    Stats(control::ControlArgs),
    /// Draw each TCP connection of a pcap/pcapng capture as SVG: a time-sequence
    /// graph (data, ACKs, window, SACK, retransmissions, drops) and a ladder
    /// diagram of its opening and close.
    Plot(plot::PlotArgs),
    /// Look up the well-known port table by number or service name, and say which
    /// range (well-known, registered, ephemeral) a number is in.
    Ports(ports::PortsArgs),
}

/// `--trace-json`, on the commands that run a stack (`ss` and `stats` only ask one).
#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Also write trace events to FILE as JSON lines (filtered by RUST_LOG, or
    /// `tunstack=debug` when unset): TCP state transitions, retransmissions, drops,
    /// queue overflows.
    #[arg(long, value_name = "FILE")]
    pub trace_json: Option<PathBuf>,
    /// Narrate what the stack does on standard error, one plain line per event:
    /// state changes with the RFC section behind them, retransmissions and why,
    /// drops and why (repeats summarised), relative sequence numbers, virtual
    /// time under `script`.
    #[arg(long)]
    pub explain: bool,
}

impl Cli {
    /// The trace options of a command that runs a stack.
    fn trace(&self) -> Option<&TraceArgs> {
        match &self.command {
            Command::Serve(args) => Some(&args.trace),
            Command::Connect(args) => Some(&args.trace),
            Command::Script(args) => Some(&args.trace),
            Command::Ss(_) | Command::Stats(_) | Command::Plot(_) | Command::Ports(_) => None,
        }
    }

    /// Where `--trace-json` asks trace events to go, if anywhere.
    pub fn trace_json(&self) -> Option<&Path> {
        self.trace().and_then(|t| t.trace_json.as_deref())
    }

    /// Whether `--explain` asks for the narrated trace.
    pub fn explain(&self) -> bool {
        self.trace().is_some_and(|t| t.explain)
    }

    /// What clap cannot check alone (one option against another, a directory
    /// that must exist): a usage error, as clap prints it, for [`clap::Error::exit`]
    /// (exit status 2).
    pub fn check(&self) -> Result<(), clap::Error> {
        let (name, checked) = match &self.command {
            Command::Serve(args) => ("serve", args.check()),
            Command::Connect(args) => ("connect", args.check()),
            Command::Script(_) | Command::Ss(_) | Command::Stats(_) | Command::Plot(_) | Command::Ports(_) => {
                return Ok(())
            }
        };
        checked.map_err(|message| {
            let mut cli = Cli::command();
            cli.build();
            let mut command = cli.find_subcommand(name).cloned().unwrap_or(cli);
            command.error(clap::error::ErrorKind::ValueValidation, message)
        })
    }
}

pub fn run(cli: Cli) -> io::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Connect(args) => connect::run(args),
        Command::Script(args) => script::run(args),
        Command::Ss(args) => control::run_ss(args),
        Command::Stats(args) => control::run_stats(args),
        Command::Plot(args) => plot::run(args),
        Command::Ports(args) => ports::run(args),
    }
}

/// An `--tun` name the kernel takes as it is: 1 to 15 bytes (IFNAMSIZ less its
/// NUL; longer names would be cut short), not `.` or `..`, no `/`, `:` or white
/// space (dev_valid_name in the kernel). `%d` asks the kernel to pick a number.
pub fn interface_name(s: &str) -> Result<String, String> {
    const MAX: usize = 15;
    if s.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if s.len() > MAX {
        return Err(format!(
            "{s:?} is {} bytes long; Linux interface names have at most {MAX} (it would be cut to {:?})",
            s.len(),
            String::from_utf8_lossy(&s.as_bytes()[..MAX])
        ));
    }
    if s == "." || s == ".." || s.contains(['/', ':']) || s.chars().any(char::is_whitespace) {
        return Err(format!("{s:?} is not a valid interface name (no '/', ':', white space, '.' or '..')"));
    }
    Ok(s.to_string())
}

/// The marker of an error that only says standard output was closed by whoever
/// read it (`tunstack script *.pkt | head -1`): `main` then exits quietly.
#[derive(Debug)]
pub struct OutputClosed;

impl fmt::Display for OutputClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for OutputClosed {}

/// Mark a failed write to standard output: a broken pipe becomes [`OutputClosed`].
pub fn output_closed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, OutputClosed)
    } else {
        e
    }
}

/// Whether `e` is only [`OutputClosed`].
pub fn is_output_closed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<OutputClosed>())
}

/// One line to standard error, `tunstack: ` first. Unlike `eprintln!` it does not
/// panic when standard error is a closed pipe: there is nobody to tell then.
pub fn warn(message: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "tunstack: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert_eq!(interface_name("tun0").as_deref(), Ok("tun0"));
        assert_eq!(interface_name("abcdefghijklmno").as_deref(), Ok("abcdefghijklmno"));
        assert_eq!(interface_name("tun%d").as_deref(), Ok("tun%d"));
        for bad in ["", "abcdefghijklmnop", ".", "..", "a/b", "a:b", "a b"] {
            assert!(interface_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn closed_output_is_marked() {
        let closed = output_closed(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_output_closed(&closed));
        assert!(!is_output_closed(&output_closed(io::Error::other("disk full"))));
        assert!(!is_output_closed(&io::Error::from(io::ErrorKind::BrokenPipe)));
    }
}
