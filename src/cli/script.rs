//! `tunstack script FILE.pkt… [--packetdrill_option=value…]`: run packetdrill scripts
//! against the sans-IO core in virtual time (no TUN, no root). Prints `ok`/`FAIL`
//! per script and exits non-zero if any failed; a failure names the file and line,
//! and shows the expected and the actual packet or result. packetdrill's own
//! options (`--tolerance_usecs=…`, `--bind_port=…`, …) may be given among the
//! files; they apply to every script and override the script's header. Options a
//! script used without effect are printed as `note:` lines.

use std::io;
use std::path::Path;

use clap::Args;

use tunstack::script::{self, Profile};

#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// Stack settings to run with (only `linux`, packetdrill's usual target, so far).
    #[arg(long, default_value = "linux", value_parser = ["linux"])]
    profile: String,
    /// The `.pkt` files to run, and packetdrill options (`--tolerance_usecs=10000`)
    /// for all of them.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "FILE|--OPTION")]
    args: Vec<String>,
}

pub fn run(args: ScriptArgs) -> io::Result<()> {
    // clap accepts only the names listed in `value_parser`.
    debug_assert_eq!(args.profile, "linux");
    let profile = Profile::linux();
    let (options, files): (Vec<String>, Vec<String>) =
        args.args.into_iter().partition(|a| a.starts_with('-') && a.len() > 1);
    let mut failed = 0;
    for file in &files {
        match script::run_file_with(Path::new(file), &profile, &options) {
            Ok(report) => {
                println!("ok    {file}");
                for (line, note) in report.notes {
                    match line {
                        0 => eprintln!("note: {file}: {note}"),
                        _ => eprintln!("note: {file}:{line}: {note}"),
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {file}");
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        return Err(io::Error::other(format!("{failed} of {} scripts failed", files.len())));
    }
    Ok(())
}
