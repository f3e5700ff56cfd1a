//! The `tunstack` command: run the stack on a TUN device.
//!
//! Exit status: 0 ok, 1 failure (with a message on standard error), 2 usage error
//! (clap's, and [`cli::Cli::check`]'s). A closed standard output ends a command
//! quietly; nothing in the command panics on a closed pipe.
//!
//! Logging: `RUST_LOG` filters what is printed to standard error, in `tracing`'s
//! readable format (`RUST_LOG=tunstack=debug` shows TCP state transitions,
//! retransmissions, drops and queue overflows), coloured only when standard error
//! is a terminal, stamped with virtual time under `script` (the script's own
//! clock) and sequence numbers relative as tshark shows them. `--trace-json FILE` (on `serve`, `connect` and `script`) also
//! writes events to FILE as JSON lines, one object per event, filtered by
//! `RUST_LOG` too, or `tunstack=debug` when it is unset. `--explain` narrates
//! the events a learner wants in plain words on standard error
//! (`tunstack::explain`).

mod cli;

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Mutex;

use clap::Parser;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn main() {
    let args = cli::Cli::parse();
    if let Err(usage) = args.check() {
        usage.exit();
    }
    if let Err(e) = init_tracing(args.trace_json(), args.explain()) {
        cli::warn(e);
        std::process::exit(1);
    }
    match cli::run(args) {
        Ok(()) => {}
        // Whoever read standard output has what they wanted (`| head`).
        Err(e) if cli::is_output_closed(&e) => {}
        Err(e) => {
            cli::warn(e);
            std::process::exit(1);
        }
    }
}

/// Events to standard error as `RUST_LOG` asks, and with `--trace-json` to a file.
///
/// Colours only on a terminal (and not with `NO_COLOR` set): a trace redirected to
/// a file or a pipe is plain text. A write that fails (standard error closed,
/// disk full) is dropped without a word: reporting it would need standard error.
fn init_tracing(json: Option<&Path>, explain: bool) -> io::Result<()> {
    let ansi = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = tracing_subscriber::fmt::layer()
        .with_timer(tunstack::explain::VirtualTime)
        .with_writer(io::stderr)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .with_filter(EnvFilter::from_default_env());
    let json = match json {
        Some(path) => {
            let file = File::create(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            let filter = match std::env::var(EnvFilter::DEFAULT_ENV) {
                Ok(directives) => EnvFilter::new(directives),
                Err(_) => EnvFilter::new("tunstack=debug"),
            };
            // Unbuffered: every event is one `write` of one whole line, so the file
            // is complete whenever the process stops.
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_timer(tunstack::explain::VirtualTime)
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .log_internal_errors(false)
                .with_writer(Mutex::new(file))
                .with_filter(filter);
            Some(layer)
        }
        None => None,
    };
    let explain = explain.then(|| {
        tunstack::explain::Explain::new(io::stderr(), ansi).with_filter(EnvFilter::new(tunstack::explain::TARGETS))
    });
    tracing_subscriber::registry().with(stderr).with(json).with(explain).init();
    Ok(())
}
