//! `tunstack ports [NAME|NUMBER]`: the well-known port table, asked like
//! `getent services` — by number (`ports 7`: both `7/tcp echo` and `7/udp
//! echo`, two ports of two namespaces), by name (`ports http`), or all of it —
//! with the RFC 6335 §6 range each number falls in, so a learner sees why
//! their client's port is 5-digit and the server's is small.
//!
//! Exit status: 0 when something was found (or a number was explained), 1 for
//! a name the table does not know, 2 for a number out of range (clap).

use std::io::{self, Write};

use clap::Args;

use tunstack::ports::services::well_known;
use tunstack::ports::PortConfig;

#[derive(Args, Debug)]
pub struct PortsArgs {
    /// A port number (1–65535) or a service name (`echo`, `http`, `domain`…).
    /// Without it, the whole table.
    #[arg(value_parser = query)]
    query: Option<Query>,
}

#[derive(Clone, Debug)]
enum Query {
    Number(u16),
    Name(String),
}

/// Digits are a port number (which must fit 16 bits); anything else a name.
fn query(s: &str) -> Result<Query, String> {
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse::<u16>().map(Query::Number).map_err(|_| format!("{s} is not a port (ports are 0–65535)"));
    }
    Ok(Query::Name(s.to_ascii_lowercase()))
}

/// Which RFC 6335 §6 range `port` is in, and what that means here.
fn range(port: u16) -> String {
    let ephemeral = PortConfig::default().ephemeral;
    match port {
        0 => "port 0 is reserved: binding it asks for an ephemeral port instead".into(),
        1..=1023 => format!("{port} is a system (well-known) port, 0–1023 (RFC 6335 §6): servers of standard services"),
        _ if ephemeral.contains(&port) => format!(
            "{port} is a dynamic (private) port, {}–{} (RFC 6335 §6): never assigned to a service; the stack \
             picks its ephemeral (client) ports here, at random (RFC 6056)",
            ephemeral.start(),
            ephemeral.end()
        ),
        _ => format!("{port} is a user (registered) port, 1024–49151 (RFC 6335 §6): services registered with IANA"),
    }
}

pub fn run(args: PortsArgs) -> io::Result<()> {
    let table = well_known();
    let mut text = String::new();
    let line = |(port, protocol, name): &(u16, tunstack::ports::Protocol, &str)| format!("{port}/{protocol} {name}\n");
    match &args.query {
        None => {
            text.push_str("# port/protocol name: TCP and UDP are separate namespaces (RFC 6335 §§8–10)\n");
            table.iter().for_each(|entry| text.push_str(&line(entry)));
        }
        Some(Query::Number(port)) => {
            let found: Vec<_> = table.iter().filter(|(p, _, _)| p == port).collect();
            if found.is_empty() {
                text.push_str(&format!("{port}/tcp and {port}/udp: no well-known service\n"));
            }
            found.into_iter().for_each(|entry| text.push_str(&line(entry)));
            text.push_str(&range(*port));
            text.push('\n');
        }
        Some(Query::Name(name)) => {
            let found: Vec<_> = table.iter().filter(|(_, _, n)| n == name).collect();
            if found.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no well-known port is named {name:?} (`tunstack ports` lists them all)"),
                ));
            }
            found.into_iter().for_each(|entry| text.push_str(&line(entry)));
        }
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(super::output_closed)
}
