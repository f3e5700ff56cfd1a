//! `tunstack script FILE.pkt…`: run packetdrill scripts against the sans-IO core in
//! virtual time (no TUN, no root). Prints `ok`/`FAIL` per script and exits non-zero
//! if any failed; a failure names the file and line, and shows the expected and the
//! actual packet or result.
//!
//! When standard output is closed (`| head -1`) it stops running scripts; the exit
//! status then covers the scripts that ran.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;

use super::{output_closed, TraceArgs};
use tunstack::script::{self, Profile};

#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// The `.pkt` files to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Stack settings to run with (only `linux`, packetdrill's usual target, so far).
    #[arg(long, default_value = "linux", value_parser = ["linux"])]
    profile: String,
    #[command(flatten)]
    pub trace: TraceArgs,
}

pub fn run(args: ScriptArgs) -> io::Result<()> {
    // clap accepts only the names listed in `value_parser`.
    let profile = Profile::linux();
    debug_assert_eq!(args.profile, "linux");
    let mut stdout = io::stdout().lock();
    let (mut ran, mut failed) = (0, 0);
    let mut closed = None;
    for file in &args.files {
        ran += 1;
        let result = script::run_file(file, &profile);
        let verdict = if result.is_ok() { "ok  " } else { "FAIL" };
        let printed = writeln!(stdout, "{verdict}  {}", file.display()).and_then(|()| stdout.flush());
        if let Err(e) = &result {
            failed += 1;
            // The details; standard error may be closed too, and that is no reason
            // to stop.
            let _ = writeln!(io::stderr().lock(), "{e}");
        }
        if let Err(e) = printed {
            closed = Some(output_closed(e));
            break;
        }
    }
    if failed > 0 {
        return Err(io::Error::other(format!("{failed} of {ran} scripts failed")));
    }
    match closed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
