//! Command-line interface (clap).

mod connect;
mod control;
mod link;
mod script;
mod serve;
mod tcp_args;

use std::io;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "tunstack", version, about = "A from-scratch user-space TCP/UDP/IP stack on a Linux TUN device")]
pub struct Cli {
    /// Also write trace events to FILE as JSON lines (filtered by RUST_LOG, or
    /// `tunstack=debug` when unset): TCP state transitions, retransmissions, drops,
    /// queue overflows.
    #[arg(long, global = true, value_name = "FILE")]
    pub trace_json: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a TUN, run the stack on it and serve the classic well-known ports.
    Serve(serve::ServeArgs),
    /// A netcat through the stack: stdin to a connection, the connection to stdout.
    Connect(connect::ConnectArgs),
    /// Run packetdrill scripts (.pkt) against the stack in virtual time (no TUN).
    Script(script::ScriptArgs),
    /// List a running `serve`'s sockets, like `ss -tuna`: state, queues and their
    /// bounds, addresses, service names, drops.
    Ss(control::ControlArgs),
    /// Print a running `serve`'s counters (IP, ICMP, UDP, TCP).
    Stats(control::ControlArgs),
}

pub fn run(cli: Cli) -> io::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Connect(args) => connect::run(args),
        Command::Script(args) => script::run(args),
        Command::Ss(args) => control::run_ss(args),
        Command::Stats(args) => control::run_stats(args),
    }
}
