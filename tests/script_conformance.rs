//! The FreeBSD tcp-testsuite's state-event-engine scripts, when the shared test
//! data is beside the repository (`../shared/conformance/`, see its README):
//! run with the `freebsd` profile (and `FreeBSD` defined for `#ifdef`, as
//! `tunstack script --profile freebsd` does), every IPv4 and IPv6 script must get at least
//! the verdict that `scripts/lib/freebsd-state-event-engine.freebsd.expect`
//! records for it, a script not listed must pass, and at least 95 % must pass. This holds the floor in CI; scripts that do better
//! are printed so the file can be updated. Without the data the test says loudly
//! that it skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tunstack::script::{run_file_with, ErrorKind, Profile};

/// Verdicts from worst to best, as `scripts/lib/conformance_report.py` ranks them.
fn rank(verdict: &str) -> u8 {
    match verdict {
        "pass" => 4,
        "fail" => 3,
        "unsupported" => 2,
        "invalid" => 1,
        _ => 0,
    }
}

fn scripts_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scripts_under(&path, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("ipv4.pkt") || n.ends_with("ipv6.pkt"))
        {
            out.push(path);
        }
    }
}

#[test]
fn freebsd_state_event_engine_holds_its_floor() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = root.join("../shared/conformance/freebsd-tcp-testsuite/state-event-engine");
    if !suite.is_dir() {
        eprintln!("SKIPPED: {} is not there; the FreeBSD conformance floor was NOT checked", suite.display());
        return;
    }
    let expect_path = root.join("scripts/lib/freebsd-state-event-engine.freebsd.expect");
    let expect_text = std::fs::read_to_string(&expect_path).expect("the expectations file");
    let expected: HashMap<&str, &str> = expect_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split('\t');
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    let mut scripts = Vec::new();
    scripts_under(&suite, &mut scripts);
    scripts.sort();
    assert!(scripts.len() >= 600, "the suite has its 307 IPv4 and 307 IPv6 scripts, found {}", scripts.len());
    let (mut regressions, mut better, mut passed) = (Vec::new(), Vec::new(), 0);
    let (profile, defines) = (Profile::freebsd(), ["--define=FreeBSD".to_string()]);
    for path in &scripts {
        let name = path.strip_prefix(&suite).unwrap_or(path).display().to_string();
        let (verdict, why) = match run_file_with(path, &profile, &defines) {
            Ok(_) => ("pass", String::new()),
            Err(e) => (
                match e.kind {
                    ErrorKind::Mismatch => "fail",
                    ErrorKind::Unsupported => "unsupported",
                    ErrorKind::Parse | ErrorKind::Unreadable => "invalid",
                },
                e.to_string(),
            ),
        };
        passed += usize::from(verdict == "pass");
        let want = expected.get(name.as_str()).copied().unwrap_or("pass");
        if rank(verdict) < rank(want) {
            regressions.push(format!("{name}: {verdict}, expected {want}: {why}"));
        } else if rank(verdict) > rank(want) {
            better.push(format!("{name}: {verdict}, listed as {want}"));
        }
    }
    eprintln!("FreeBSD state-event-engine, freebsd profile: {passed} of {} IPv4 and IPv6 scripts pass", scripts.len());
    if !better.is_empty() {
        eprintln!(
            "better than scripts/lib/freebsd-state-event-engine.freebsd.expect (update it):\n  {}",
            better.join("\n  ")
        );
    }
    assert!(regressions.is_empty(), "{} regressions:\n{}", regressions.len(), regressions.join("\n"));
    assert!(passed * 100 >= scripts.len() * 95, "issue 11's floor: 95 % pass, {passed} of {} did", scripts.len());
}
