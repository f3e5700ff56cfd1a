//! `tunstack ports [NAME|NUMBER]`: the well-known table by number (both
//! namespaces), by name, a number's RFC 6335 range, and its exit statuses.

use std::process::Command;

fn ports(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack")).arg("ports").args(args).output().expect("tunstack runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_number_lists_both_namespaces_and_its_range() {
    let (code, out, _) = ports(&["7"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("7/tcp echo\n7/udp echo\n"), "{out}");
    assert!(out.contains("system (well-known) port, 0–1023"), "{out}");
    let (_, out, _) = ports(&["67"]);
    assert!(out.starts_with("67/udp bootps\n"), "UDP 67 only: {out}");
    let (_, out, _) = ports(&["50000"]);
    assert!(out.contains("no well-known service") && out.contains("dynamic (private) port, 49152–65535"), "{out}");
    let (_, out, _) = ports(&["3306"]);
    assert!(out.contains("user (registered) port"), "{out}");
}

#[test]
fn a_name_finds_its_ports() {
    let (code, out, _) = ports(&["HTTP"]);
    assert_eq!((code, out.as_str()), (Some(0), "80/tcp http\n"));
    let (_, all, _) = ports(&[]);
    assert!(all.lines().any(|l| l == "53/udp domain") && all.lines().any(|l| l == "53/tcp domain"));
}

#[test]
fn unknown_names_fail_and_bad_numbers_are_usage_errors() {
    let (code, _, err) = ports(&["nosuch"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no well-known port is named \"nosuch\""), "{err}");
    let (code, _, err) = ports(&["70000"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("70000 is not a port"), "{err}");
}
