//! The FreeBSD tcp-testsuite's state-event-engine scripts, when the shared test
//! data is beside the repository (`../shared/conformance/`, see its README):
//! run with the `freebsd` profile (and `FreeBSD` defined for `#ifdef`, as
//! `tunstack script --profile freebsd` does), every IPv4 and IPv6 script must get at least
//! the verdict that `scripts/lib/freebsd-state-event-engine.freebsd.expect`
//! records for it, a script not listed must pass, and at least 95 % must pass. This holds the floor in CI; scripts that do better
//! are printed so the file can be updated. The IPv4 scripts run a second time
//! with `--ip_version=ipv4-mapped-ipv6` (AF_INET6 sockets, IPv4 packets) and
//! must do as well. Without the data the test says loudly that it skipped.

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

/// The suite's directory, or `None` (said loudly) when the data is not there.
fn suite() -> Option<PathBuf> {
    let suite =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/freebsd-tcp-testsuite/state-event-engine");
    if suite.is_dir() {
        Some(suite)
    } else {
        eprintln!("SKIPPED: {} is not there; the FreeBSD conformance floor was NOT checked", suite.display());
        None
    }
}

/// What a run of `scripts` with `options` (beside `-D FreeBSD`) gave against the
/// expectations file: how many passed, the regressions, the improvements.
fn run_against_expectations(suite: &Path, scripts: &[PathBuf], options: &[&str]) -> (usize, Vec<String>, Vec<String>) {
    let expect_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/freebsd-state-event-engine.freebsd.expect");
    let expect_text = std::fs::read_to_string(&expect_path).expect("the expectations file");
    let expected: HashMap<&str, &str> = expect_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split('\t');
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    let (mut regressions, mut better, mut passed) = (Vec::new(), Vec::new(), 0);
    let profile = Profile::freebsd();
    let options: Vec<String> = ["--define=FreeBSD"].iter().chain(options).map(|o| o.to_string()).collect();
    for path in scripts {
        let name = path.strip_prefix(suite).unwrap_or(path).display().to_string();
        let (verdict, why) = match run_file_with(path, &profile, &options) {
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
    (passed, regressions, better)
}

#[test]
fn freebsd_state_event_engine_holds_its_floor() {
    let Some(suite) = suite() else { return };
    let mut scripts = Vec::new();
    scripts_under(&suite, &mut scripts);
    scripts.sort();
    assert!(scripts.len() >= 600, "the suite has its 307 IPv4 and 307 IPv6 scripts, found {}", scripts.len());
    let (passed, regressions, better) = run_against_expectations(&suite, &scripts, &[]);
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

/// The IPv4 scripts once more with `--ip_version=ipv4-mapped-ipv6` on the
/// command line (it overrides their `--ip_version=ipv4`): their sockets become
/// AF_INET6 ones bound and connected to `::ffff:a.b.c.d`, their packets stay
/// the same, and each must do as well as its IPv4 run is expected to.
#[test]
fn the_ipv4_scripts_do_as_well_with_ipv4_mapped_ipv6_sockets() {
    let Some(suite) = suite() else { return };
    let mut scripts = Vec::new();
    scripts_under(&suite, &mut scripts);
    scripts.retain(|p| p.to_string_lossy().ends_with("ipv4.pkt"));
    scripts.sort();
    assert!(scripts.len() >= 300, "the suite's 307 IPv4 scripts, found {}", scripts.len());
    let (passed, regressions, _) = run_against_expectations(&suite, &scripts, &["--ip_version=ipv4-mapped-ipv6"]);
    eprintln!("FreeBSD state-event-engine, ipv4-mapped-ipv6: {passed} of {} IPv4 scripts pass", scripts.len());
    assert!(regressions.is_empty(), "{} regressions:\n{}", regressions.len(), regressions.join("\n"));
}
