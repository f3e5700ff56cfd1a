//! `%{ python }%` blocks: the assertions on the connection's state that suites
//! write, evaluated without Python.
//!
//! packetdrill takes a `TCP_INFO` snapshot of the socket under test at each
//! `%{ … }%` event and, after the script, runs the blocks in Python against
//! those snapshots. The FreeBSD suite uses the blocks only for
//! `assert tcpi_state == TCPI_ESTABLISHED`; this module understands exactly
//! that family:
//!
//! ```text
//! block      := statement { (newline | ';') statement }
//! statement  := 'assert' condition [ ',' message ]
//! condition  := comparison { ('and' | 'or') comparison }      ('and' binds tighter)
//! comparison := 'tcpi_state' ('==' | '!=') STATE  |  STATE ('==' | '!=') 'tcpi_state'
//! STATE      := TCPI_SYN_RECEIVED, … (FreeBSD) | TCP_SYN_RECV, … (Linux)
//! ```
//!
//! and evaluates it at once against the state of the connection under test.
//! Every other `tcpi_*` field, and any other Python, is unsupported with the
//! block's line (the stack has no `tcp_info` snapshot yet): never skipped.
//!
//! A block is parsed once, into a disjunction of conjunctions of comparisons;
//! evaluating it is O(its comparisons).

use super::error::{Result, ScriptError};

/// One `tcpi_state == STATE` (or `!=`), with the state in FreeBSD's spelling
/// (`SYN_RCVD`, as `sockstat` prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub equal: bool,
    pub state: &'static str,
}

/// One `assert`: true when any of its `or` terms has all its comparisons true.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The statement as written, for messages.
    pub text: String,
    pub any_of: Vec<Vec<Comparison>>,
}

impl Assertion {
    /// Whether the assertion holds for a connection in `state` (FreeBSD's name).
    pub fn holds(&self, state: &str) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| (c.state == state) == c.equal))
    }
}

/// The state names scripts compare `tcpi_state` with, in FreeBSD's spelling.
pub(super) fn state(name: &str) -> Option<&'static str> {
    Some(match name {
        "TCPI_CLOSED" | "TCP_CLOSE" => "CLOSED",
        "TCPI_LISTEN" | "TCP_LISTEN" => "LISTEN",
        "TCPI_SYN_SENT" | "TCP_SYN_SENT" => "SYN_SENT",
        "TCPI_SYN_RECEIVED" | "TCP_SYN_RECV" => "SYN_RCVD",
        "TCPI_ESTABLISHED" | "TCP_ESTABLISHED" => "ESTABLISHED",
        "TCPI_CLOSE_WAIT" | "TCP_CLOSE_WAIT" => "CLOSE_WAIT",
        "TCPI_FIN_WAIT_1" | "TCP_FIN_WAIT1" => "FIN_WAIT_1",
        "TCPI_CLOSING" | "TCP_CLOSING" => "CLOSING",
        "TCPI_LAST_ACK" | "TCP_LAST_ACK" => "LAST_ACK",
        "TCPI_FIN_WAIT_2" | "TCP_FIN_WAIT2" => "FIN_WAIT_2",
        "TCPI_TIME_WAIT" | "TCP_TIME_WAIT" => "TIME_WAIT",
        _ => return None,
    })
}

/// Parse the text of a `%{ … }%` block found on `line`.
pub fn parse(line: usize, text: &str) -> Result<Vec<Assertion>> {
    let unsupported = |what: String| ScriptError::unsupported(line, what);
    let mut out = Vec::new();
    for statement in text.split(['\n', ';']).map(str::trim).filter(|s| !s.is_empty()) {
        let Some(condition) = statement.strip_prefix("assert ") else {
            return Err(unsupported(format!("Python `{statement}` (only `assert tcpi_state == …` is modelled)")));
        };
        // A message after the condition is only shown by Python; a comma never
        // appears in the conditions modelled.
        let condition = condition.split(',').next().unwrap_or_default();
        let mut any_of = Vec::new();
        for term in condition.split(" or ") {
            let mut all = Vec::new();
            for comparison in term.split(" and ") {
                all.push(compare(comparison).ok_or_else(|| {
                    let field = comparison.split_whitespace().find(|w| w.starts_with("tcpi_") && *w != "tcpi_state");
                    match field {
                        Some(field) => {
                            unsupported(format!("tcp_info field `{field}` (the stack has no tcp_info snapshot)"))
                        }
                        None => unsupported(format!(
                            "Python `{}` (only `tcpi_state == STATE` and `!=` are modelled)",
                            comparison.trim()
                        )),
                    }
                })?);
            }
            any_of.push(all);
        }
        out.push(Assertion { text: statement.to_string(), any_of });
    }
    if out.is_empty() {
        return Err(ScriptError::parse(line, "an empty %{ }% block"));
    }
    Ok(out)
}

/// `tcpi_state == STATE`, `STATE != tcpi_state`, … (parentheses around it allowed).
fn compare(text: &str) -> Option<Comparison> {
    let text = text.trim().trim_start_matches('(').trim_end_matches(')');
    let words: Vec<&str> = text.split_whitespace().collect();
    let [left, op, right] = words[..] else { return None };
    let equal = match op {
        "==" => true,
        "!=" => false,
        _ => return None,
    };
    let name = match (left, right) {
        ("tcpi_state", name) | (name, "tcpi_state") => name,
        _ => return None,
    };
    Some(Comparison { equal, state: state(name)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    #[test]
    fn state_assertions() {
        let a = parse(3, "assert tcpi_state == TCPI_SYN_RECEIVED").expect("modelled");
        assert_eq!(a.len(), 1);
        assert!(a[0].holds("SYN_RCVD") && !a[0].holds("ESTABLISHED"));
        let a = parse(3, "assert TCP_ESTABLISHED != tcpi_state, tcpi_state").expect("modelled");
        assert!(!a[0].holds("ESTABLISHED") && a[0].holds("CLOSED"));
        let a = parse(3, "assert tcpi_state == TCPI_CLOSING or tcpi_state == TCPI_TIME_WAIT\n").expect("or");
        assert!(a[0].holds("TIME_WAIT") && a[0].holds("CLOSING") && !a[0].holds("LAST_ACK"));
        let a = parse(
            3,
            "assert tcpi_state != TCPI_CLOSED and tcpi_state != TCPI_LISTEN; assert tcpi_state == TCPI_ESTABLISHED",
        )
        .expect("two");
        assert_eq!(a.len(), 2);
        assert!(a[0].holds("ESTABLISHED") && !a[0].holds("LISTEN"));
    }

    #[test]
    fn other_python_is_unsupported_with_the_field_named() {
        for (text, what) in [
            ("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd", "tcp_info field `tcpi_snd_cwnd`"),
            ("assert tcpi_state < TCPI_CLOSED", "Python"),
            ("assert tcpi_state == TCPI_BOGUS", "Python"),
            ("print(tcpi_rto)", "Python `print(tcpi_rto)`"),
        ] {
            let e = parse(5, text).expect_err(text);
            assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 5), "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
        assert_eq!(parse(5, "  \n ").map_err(|e| e.kind), Err(ErrorKind::Parse));
    }
}
