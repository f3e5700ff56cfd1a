//! `tunstack script FILE.pkt…`: run packetdrill scripts against the sans-IO core in
//! virtual time (no TUN, no root). Prints `ok`/`FAIL` per script and exits non-zero
//! if any failed; a failure names the file and line, and shows the expected and the
//! actual packet or result.

use std::io;
use std::path::PathBuf;

use clap::Args;

use tunstack::script::{self, Profile};

#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// The `.pkt` files to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Stack settings to run with (only `linux`, packetdrill's usual target, so far).
    #[arg(long, default_value = "linux", value_parser = ["linux"])]
    profile: String,
}

pub fn run(args: ScriptArgs) -> io::Result<()> {
    // clap accepts only the names listed in `value_parser`.
    let profile = Profile::linux();
    debug_assert_eq!(args.profile, "linux");
    let mut failed = 0;
    for file in &args.files {
        match script::run_file(file, &profile) {
            Ok(()) => println!("ok    {}", file.display()),
            Err(e) => {
                failed += 1;
                println!("FAIL  {}", file.display());
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        return Err(io::Error::other(format!("{failed} of {} scripts failed", args.files.len())));
    }
    Ok(())
}
