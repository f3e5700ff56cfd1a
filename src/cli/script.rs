//! `tunstack script [OPTIONS] FILE.pkt… [--packetdrill_option=value…]`: run
//! packetdrill scripts against the sans-IO core in virtual time (no TUN, no root).
//!
//! Prints one verdict per script on standard output — `ok`, `FAIL` (a mismatch),
//! `INVALID` (unreadable or not valid packetdrill) or `UNSUPPORTED` — and the reason
//! on standard error, as `file:line: …`. Options a script used without effect are
//! printed as `note:` lines. packetdrill's own options (`--tolerance_usecs=…`,
//! `--bind_port=…`, …) may be given among the files; they apply to every script and
//! override the script's header. `-D SYMBOL` keeps the script's `#ifdef SYMBOL`
//! blocks; `-v` prints every event as it runs (on standard output, before the
//! verdict) and a mismatched packet field by field.
//!
//! Exit code: 0 when every script passed; otherwise 2 if any was unreadable or
//! invalid, else 1 if any mismatched, else 3 (some were unsupported).
//!
//! When standard output is closed (`| head -1`) it stops running scripts; the exit
//! status then covers the scripts that ran.

use std::io::{self, Write};
use std::path::Path;

use clap::Args;

use super::{output_closed, TraceArgs};
use tunstack::script::{self, ErrorKind, Profile};

#[derive(Args, Debug)]
#[command(after_help = "packetdrill options go among the files and override each script's header: \
    --tolerance_usecs=N, --tolerance_percent=P, --bind_port=N, --connect_port=N, --local_ip=A, --remote_ip=A, \
    --mtu=N, -v (trace every event), -D SYMBOL (keep #ifdef SYMBOL blocks); the others are accepted and \
    noted as ignored.\n\nExit code: 0 all passed, 1 a mismatch, 2 an unreadable or invalid script, \
    3 unsupported; with several scripts, 2 if any is invalid, else 1 if any mismatched, else 3.")]
pub struct ScriptArgs {
    /// Stack settings to run with: `linux` (packetdrill's usual target) or
    /// `freebsd` (FreeBSD 13/14's defaults, for the FreeBSD TCP test suite).
    #[arg(long, default_value = "linux", value_parser = ["linux", "freebsd"])]
    profile: String,
    /// The `.pkt` files to run, and packetdrill options (`--tolerance_usecs=10000`)
    /// for all of them.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "FILE|--OPTION")]
    args: Vec<String>,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// One line to standard error; a closed standard error is no reason to stop.
fn note(line: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

pub fn run(args: ScriptArgs) -> io::Result<()> {
    // clap accepts only the names listed in `value_parser`.
    let profile = if args.profile == "freebsd" { Profile::freebsd() } else { Profile::linux() };
    // As packetdrill built for FreeBSD defines `FreeBSD` for `#ifdef` blocks.
    let defines: Vec<String> = if args.profile == "freebsd" { vec!["--define=FreeBSD".into()] } else { Vec::new() };
    let (mut options, mut files) = (defines, Vec::new());
    let mut args = args.args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-D" || arg == "--define" {
            // `-D SYMBOL`: the symbol is the next word, not a file.
            options.push(format!("--define={}", args.next().unwrap_or_default()));
        } else if arg.starts_with('-') && arg.len() > 1 {
            options.push(arg);
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        note(format!("tunstack script: no script given (options alone: {})", options.join(" ")));
        std::process::exit(ErrorKind::Parse.exit_code());
    }
    let (mut invalid, mut mismatch, mut unsupported) = (0, 0, 0);
    let mut stdout = io::stdout().lock();
    let mut closed = None;
    for file in &files {
        // The `-v` trace is printed before the verdict, as the script ran.
        let mut lines = String::new();
        let mut trace = |line: &str| {
            lines.push_str(line);
            lines.push('\n');
        };
        let result = script::run_file_traced(Path::new(file), &profile, &options, &mut trace);
        match result {
            Ok(report) => {
                lines.push_str(&format!("ok    {file}\n"));
                for (line, text) in report.notes {
                    match line {
                        0 => note(format!("note: {file}: {text}")),
                        _ => note(format!("note: {file}:{line}: {text}")),
                    }
                }
            }
            Err(e) => {
                let (word, count) = match e.kind {
                    ErrorKind::Mismatch => ("FAIL", &mut mismatch),
                    ErrorKind::Unsupported => ("UNSUPPORTED", &mut unsupported),
                    ErrorKind::Parse | ErrorKind::Unreadable => ("INVALID", &mut invalid),
                };
                *count += 1;
                lines.push_str(&format!("{word:<5} {file}\n"));
                note(&e);
            }
        }
        if let Err(e) = stdout.write_all(lines.as_bytes()).and_then(|()| stdout.flush()) {
            closed = Some(output_closed(e));
            break;
        }
    }
    let code = if invalid > 0 {
        ErrorKind::Parse.exit_code()
    } else if mismatch > 0 {
        ErrorKind::Mismatch.exit_code()
    } else if unsupported > 0 {
        ErrorKind::Unsupported.exit_code()
    } else {
        return match closed {
            Some(e) => Err(e),
            None => Ok(()),
        };
    };
    if files.len() > 1 {
        note(format!(
            "tunstack script: {} of {} scripts did not pass ({mismatch} failed, {invalid} invalid, {unsupported} unsupported)",
            mismatch + invalid + unsupported,
            files.len()
        ));
    }
    std::process::exit(code);
}
