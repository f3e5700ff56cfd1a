//! The `tunstack` command: run the stack on a TUN device.
//!
//! Logging: `RUST_LOG` filters what is printed to standard error, in `tracing`'s
//! readable format (`RUST_LOG=tunstack=debug` shows TCP state transitions,
//! retransmissions, drops and queue overflows). `--trace-json FILE` also writes
//! events to FILE as JSON lines, one object per event, filtered by `RUST_LOG` too,
//! or `tunstack=debug` when it is unset.

mod cli;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use clap::Parser;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = init_tracing(args.trace_json.as_deref()) {
        eprintln!("tunstack: {e}");
        std::process::exit(1);
    }
    if let Err(e) = cli::run(args) {
        eprintln!("tunstack: {e}");
        std::process::exit(1);
    }
}

/// Events to standard error as `RUST_LOG` asks, and with `--trace-json` to a file.
fn init_tracing(json: Option<&Path>) -> io::Result<()> {
    let stderr = tracing_subscriber::fmt::layer().with_writer(io::stderr).with_filter(EnvFilter::from_default_env());
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
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(Mutex::new(file))
                .with_filter(filter);
            Some(layer)
        }
        None => None,
    };
    tracing_subscriber::registry().with(stderr).with(json).init();
    Ok(())
}
