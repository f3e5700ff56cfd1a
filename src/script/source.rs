//! Shell scripts a script runs, read — never run.
//!
//! Upstream packetdrill's Linux tests begin with `` `../common/defaults.sh` ``: a
//! shell script beside the suite that puts the kernel in the state every test
//! assumes (buffer sizes, timestamps, SACK, RACK-TLP, Fast Open, a plain FIFO
//! qdisc on the TUN, …). Its settings are what make those scripts expect, say,
//! `wscale 8` in a SYN,ACK: `tcp_rmem`'s maximum of 15 MiB needs a shift of 8
//! (RFC 7323 §2.3). So the runner reads such a file, from the directory of the
//! script that names it, and interprets each of its lines exactly as it would a
//! backticked command of the script itself (`shell.rs`), with one difference:
//! a setting that turns on a feature the stack lacks is noted instead of
//! unsupported, because the file sets it for every script alike (see
//! `shell::sysctl`). Comments and blank lines are skipped. A file that is not
//! there, or that runs another shell script, makes the script unsupported.
//!
//! Errors point at the script's backtick line and name the file's line.
//!
//! # Bounds and cost
//!
//! At most [`MAX_BYTES`] are read; one pass over the lines, each interpreted as
//! one command.

use std::path::Path;

use super::error::{Result, ScriptError};
use super::shell::{interpret_as, Command, Origin};

/// The largest shell script the runner reads (upstream's `defaults.sh` is under
/// 2 KiB).
pub(super) const MAX_BYTES: u64 = 64 * 1024;

/// The commands of the shell script `command` (`../common/defaults.sh`, no
/// arguments), run on `line` of a script in `dir`.
pub(super) fn read(line: usize, command: &str, dir: &Path) -> Result<Vec<Command>> {
    let mut words = command.split_whitespace();
    let (Some(name), None) = (words.next(), words.next()) else {
        return Err(ScriptError::unsupported(line, format!("a shell script with arguments (`{command}`)")));
    };
    let path = dir.join(name);
    let text = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() <= MAX_BYTES => std::fs::read_to_string(&path).ok(),
        _ => None,
    };
    let Some(text) = text else {
        return Err(ScriptError::unsupported(
            line,
            format!(
                "shell script `{name}`: no readable file of at most {MAX_BYTES} bytes at {} \
                 (the runner reads its commands, never runs it)",
                path.display()
            ),
        ));
    };
    let mut out = Vec::new();
    for (n, text_line) in text.lines().enumerate() {
        let text_line = text_line.trim();
        if text_line.is_empty() || text_line.starts_with('#') {
            continue;
        }
        let commands = interpret_as(line, text_line, Origin::Sourced).map_err(|mut e| {
            e.message = format!("{}:{}: {}", path.display(), n + 1, e.message);
            e
        })?;
        out.extend(commands);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::shell::Setting;
    use crate::script::ErrorKind;

    /// A directory of its own under the system's temporary one, with `files`.
    fn dir_with(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tunstack-source-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (file, text) in files {
            std::fs::write(dir.join(file), text).expect("write");
        }
        dir
    }

    #[test]
    fn a_defaults_file_is_read_line_by_line_and_notes_what_it_cannot_model() {
        let dir = dir_with(
            "defaults",
            &[(
                "defaults.sh",
                "#!/bin/bash\n# buffers\nsysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\n\
                 ip tcp_metrics flush all > /dev/null 2>&1\nsysctl -q net.ipv4.tcp_fastopen=0x70403\n\
                 sysctl -q net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_recovery=1\ntc qdisc add dev tun0 root pfifo\n",
            )],
        );
        let commands = read(3, "defaults.sh", &dir).expect("read");
        let settings: Vec<&Setting> = commands
            .iter()
            .filter_map(|c| if let Command::Sysctl(s) = c { Some(&s.settings) } else { None })
            .flatten()
            .collect();
        assert_eq!(settings, [&Setting::RecvBufferMax(15 * 1024 * 1024), &Setting::RecvBuffer(540_000)]);
        let noted = commands
            .iter()
            .filter(|c| match c {
                Command::Sysctl(s) => s.no_effect.is_some(),
                Command::NoEffect { .. } => true,
                _ => false,
            })
            .count();
        assert_eq!(noted, 5, "{commands:?}");
        // The same Fast Open setting written in a script is about Fast Open.
        let e = interpret_as(3, "sysctl -q net.ipv4.tcp_fastopen=0x70403", Origin::Script(Some(&dir)))
            .expect_err("unsupported");
        assert!(e.message.contains("Fast Open"), "{e}");
    }

    #[test]
    fn a_missing_file_a_nested_script_and_a_bad_line_are_named() {
        let dir =
            dir_with("bad", &[("nested.sh", "../x/other.sh\n"), ("bad.sh", "# ok\nsysctl -q net.ipv4.tcp_sack=x\n")]);
        let e = read(7, "missing.sh", &dir).expect_err("missing");
        assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 7));
        assert!(e.message.contains("missing.sh"), "{e}");
        let e = read(7, "nested.sh", &dir).expect_err("nested");
        assert!(e.message.contains("nested.sh:1:") && e.message.contains("another"), "{e}");
        let e = read(7, "bad.sh", &dir).expect_err("bad value");
        assert_eq!((e.kind, e.line), (ErrorKind::Parse, 7));
        assert!(e.message.contains("bad.sh:2:"), "{e}");
        let e = read(7, "bad.sh now", &dir).expect_err("arguments");
        assert!(e.message.contains("arguments"), "{e}");
    }
}
