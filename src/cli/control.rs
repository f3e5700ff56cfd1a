//! `tunstack ss` and `tunstack stats`: ask a running `serve` through its control
//! socket and print the answer as a table (or, with `--json`, as JSON for scripts).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use tunstack::control::{client, default_path, format, Reply, Request};

/// Where to find the running stack.
#[derive(Args, Debug)]
pub struct ControlArgs {
    /// The TUN of the `serve` to ask: it picks the default control socket path.
    #[arg(long, default_value = "tun0", value_parser = super::interface_name)]
    tun: String,
    /// The control socket, when `serve` was given `--control PATH`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl ControlArgs {
    fn ask(&self, request: Request) -> io::Result<Reply> {
        let path = match &self.control {
            Some(path) => path.clone(),
            None => default_path(&self.tun)?,
        };
        match client::request(&path, request)? {
            Reply::Error { error } => Err(io::Error::other(format!("{}: refused: {error}", path.display()))),
            reply => Ok(reply),
        }
    }
}

/// `--json` output of `ss`: `{"sockets":[…]}` (an object, so fields can be added).
#[derive(Serialize)]
struct Sockets<'a> {
    sockets: &'a [tunstack::control::SocketRow],
}

/// `--json` output of `stats`: `{"counters":{…}}`, in declaration order.
#[derive(Serialize)]
struct Stats<'a> {
    counters: &'a tunstack::Counters,
}

fn json_line(value: &impl Serialize) -> io::Result<String> {
    let mut json = serde_json::to_string(value)?;
    json.push('\n');
    Ok(json)
}

/// All of `text` to standard output; a reader that went away is [`super::OutputClosed`].
fn print(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(super::output_closed)
}

fn unexpected(reply: &Reply) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected reply: {reply:?}"))
}

/// `tunstack ss`: every socket of the stack, like `ss -tuna`.
pub fn run_ss(args: ControlArgs) -> io::Result<()> {
    let reply = args.ask(Request::Sockets)?;
    let Reply::Sockets { sockets } = &reply else {
        return Err(unexpected(&reply));
    };
    let text = if args.json { json_line(&Sockets { sockets })? } else { format::socket_table(sockets) };
    print(&text)
}

/// `tunstack stats`: every counter, grouped by layer.
pub fn run_stats(args: ControlArgs) -> io::Result<()> {
    let reply = args.ask(Request::Stats)?;
    let Reply::Stats { counters } = &reply else {
        return Err(unexpected(&reply));
    };
    let text = if args.json { json_line(&Stats { counters })? } else { format::stats(counters) };
    print(&text)
}
