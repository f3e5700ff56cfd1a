//! `%{ python }%` blocks: the assertions on the connection's `tcp_info` that
//! suites write, evaluated without Python.
//!
//! packetdrill takes a `TCP_INFO` snapshot of the socket under test at each
//! `%{ … }%` event and, after the script, runs the blocks in Python against
//! those snapshots. Scripts use the blocks for assertions such as
//! `assert tcpi_state == TCPI_ESTABLISHED` or `assert tcpi_snd_cwnd == 10`;
//! this module understands exactly that family:
//!
//! ```text
//! block      := statement { (newline | ';') statement }
//! statement  := 'assert' condition [ ',' message ]
//! condition  := conjunct { 'or' conjunct }
//! conjunct   := operand  { 'and' operand }             ('and' binds tighter)
//! operand    := comparison | '(' condition ')'
//! comparison := VALUE OP VALUE                         (OP: == != < <= > >=)
//! VALUE      := tcpi_FIELD | INTEGER | STATE
//! STATE      := TCPI_SYN_RECEIVED, … (FreeBSD) | TCP_SYN_RECV, … (Linux)
//! ```
//!
//! A state is compared only with `tcpi_state`, and only by `==` or `!=`; the
//! numeric fields are those of [`FIELDS`], in Linux's units (µs, segments: see
//! the stack's `TcpInfo`). Each block is evaluated at once, against a
//! [`Snapshot`] of the connection under test. Any other `tcpi_*` field, and
//! any other Python, is unsupported with the block's line and the thing named:
//! never skipped.
//!
//! A block is parsed once, into a tree of comparisons; evaluating it is
//! O(its comparisons).

use super::error::{Result, ScriptError};

/// The numeric `tcp_info` fields a block may name (besides `tcpi_state`).
pub const FIELDS: [&str; 13] = [
    "tcpi_rto",
    "tcpi_snd_mss",
    "tcpi_rcv_mss",
    "tcpi_unacked",
    "tcpi_sacked",
    "tcpi_lost",
    "tcpi_retrans",
    "tcpi_rtt",
    "tcpi_rttvar",
    "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd",
    "tcpi_reordering",
    "tcpi_total_retrans",
];

/// What a block is evaluated against: the connection under test at the
/// block's time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `tcpi_state`, in FreeBSD's spelling (`SYN_RCVD`, as `sockstat` prints it).
    pub state: &'static str,
    /// The fields of [`FIELDS`] with their values; empty when there is no
    /// connection (a listener, or nothing on the tuple).
    pub fields: Vec<(&'static str, i64)>,
}

impl Snapshot {
    /// The value of numeric field `name`, if the snapshot has one.
    pub fn get(&self, name: &str) -> Option<i64> {
        self.fields.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    /// `name is VALUE`, for messages.
    fn describe(&self, name: &str) -> String {
        if name == "tcpi_state" {
            return format!("tcpi_state is {}", self.state);
        }
        match self.get(name) {
            Some(v) => format!("{name} is {v}"),
            None => format!("{name} is unknown (no connection under test)"),
        }
    }
}

/// One side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `tcpi_state`.
    State,
    /// A state name, in FreeBSD's spelling.
    StateName(&'static str),
    /// A numeric field of [`FIELDS`].
    Field(&'static str),
    Int(i64),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

/// A condition: comparisons combined with `and` and `or`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Compare(Value, Op, Value),
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

impl Condition {
    /// Whether it holds in `snap`; a comparison with a field the snapshot lacks
    /// does not.
    fn holds(&self, snap: &Snapshot) -> bool {
        match self {
            Condition::All(all) => all.iter().all(|c| c.holds(snap)),
            Condition::Any(any) => any.iter().any(|c| c.holds(snap)),
            Condition::Compare(left, op, right) => match (left, right) {
                (Value::State, Value::StateName(s)) | (Value::StateName(s), Value::State) => op.holds(snap.state, s),
                _ => match (number(*left, snap), number(*right, snap)) {
                    (Some(l), Some(r)) => op.holds(l, r),
                    _ => false,
                },
            },
        }
    }

    /// The fields it names, in order, each once.
    fn fields(&self, out: &mut Vec<&'static str>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.fields(out)),
            Condition::Compare(left, _, right) => {
                for v in [left, right] {
                    let name = match v {
                        Value::State => "tcpi_state",
                        Value::Field(f) => f,
                        Value::StateName(_) | Value::Int(_) => continue,
                    };
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
    }
}

/// A numeric value: an integer, or a field of the snapshot.
fn number(value: Value, snap: &Snapshot) -> Option<i64> {
    match value {
        Value::Int(n) => Some(n),
        Value::Field(f) => snap.get(f),
        Value::State | Value::StateName(_) => None,
    }
}

/// One `assert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The statement as written, for messages.
    pub text: String,
    pub condition: Condition,
}

impl Assertion {
    /// Whether the assertion holds for the connection in `snap`.
    pub fn holds(&self, snap: &Snapshot) -> bool {
        self.condition.holds(snap)
    }

    /// Each field the assertion names with its value in `snap`
    /// (`tcpi_snd_cwnd is 12, tcpi_state is ESTABLISHED`), to say why it failed.
    pub fn explain(&self, snap: &Snapshot) -> String {
        let mut fields = Vec::new();
        self.condition.fields(&mut fields);
        fields.iter().map(|f| snap.describe(f)).collect::<Vec<_>>().join(", ")
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

/// A numeric field by name (`None` if not in [`FIELDS`]).
pub(super) fn field(name: &str) -> Option<&'static str> {
    FIELDS.iter().copied().find(|f| *f == name)
}

/// Parse the text of a `%{ … }%` block found on `line`.
pub fn parse(line: usize, text: &str) -> Result<Vec<Assertion>> {
    let mut out = Vec::new();
    for statement in text.split(['\n', ';']).map(str::trim).filter(|s| !s.is_empty()) {
        let Some(condition) = statement.strip_prefix("assert ") else {
            return Err(ScriptError::unsupported(
                line,
                format!("Python `{statement}` (only `assert` on tcpi_ fields is modelled)"),
            ));
        };
        // A message after the condition is only shown by Python.
        let condition = condition.split(',').next().unwrap_or_default();
        let tokens = tokens(condition).unwrap_or_default();
        let mut parser = Parser { tokens: &tokens, at: 0 };
        let parsed = parser.condition().filter(|_| parser.at == tokens.len() && !tokens.is_empty());
        let Some(condition) = parsed else {
            return Err(ScriptError::unsupported(line, why_not(statement)));
        };
        out.push(Assertion { text: statement.to_string(), condition });
    }
    if out.is_empty() {
        return Err(ScriptError::parse(line, "an empty %{ }% block"));
    }
    Ok(out)
}

/// What an unmodelled statement is: a `tcpi_` field the snapshot lacks, named,
/// or Python beyond the comparisons.
fn why_not(statement: &str) -> String {
    let words = statement.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    match words.filter(|w| w.starts_with("tcpi_") && *w != "tcpi_state").find(|w| field(w).is_none()) {
        Some(unknown) => format!("tcp_info field `{unknown}` (not in the stack's tcp_info snapshot)"),
        None => format!(
            "Python `{statement}` (only comparisons of tcpi_ fields with numbers, fields or, for tcpi_state, \
             `==`/`!=` a state are modelled)"
        ),
    }
}

/// A token of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    /// A name or a number.
    Word(&'a str),
    Op(Op),
    Open,
    Close,
}

/// The tokens of `text`, or `None` at a character no condition has.
fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_alphanumeric() || c == '_' {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            out.push(Token::Word(&rest[..len]));
            len
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Token::Open } else { Token::Close });
            1
        } else {
            let two = rest.get(..2).and_then(Op::parse);
            let (op, len) = match two {
                Some(op) => (op, 2),
                None => (rest.get(..1).and_then(Op::parse)?, 1),
            };
            out.push(Token::Op(op));
            len
        };
        rest = rest[len..].trim_start();
    }
    Some(out)
}

/// Recursive descent over the tokens of one condition.
struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    at: usize,
}

impl<'a> Parser<'_, 'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.at).copied()
    }

    /// Take the next token if it is `want`.
    fn eat(&mut self, want: Token<'_>) -> bool {
        let hit = self.peek() == Some(want);
        self.at += usize::from(hit);
        hit
    }

    /// `conjunct { 'or' conjunct }`.
    fn condition(&mut self) -> Option<Condition> {
        let mut any = vec![self.conjunct()?];
        while self.eat(Token::Word("or")) {
            any.push(self.conjunct()?);
        }
        Some(if any.len() == 1 { any.swap_remove(0) } else { Condition::Any(any) })
    }

    /// `operand { 'and' operand }`.
    fn conjunct(&mut self) -> Option<Condition> {
        let mut all = vec![self.operand()?];
        while self.eat(Token::Word("and")) {
            all.push(self.operand()?);
        }
        Some(if all.len() == 1 { all.swap_remove(0) } else { Condition::All(all) })
    }

    /// `comparison | '(' condition ')'`.
    fn operand(&mut self) -> Option<Condition> {
        if self.eat(Token::Open) {
            let inner = self.condition()?;
            return self.eat(Token::Close).then_some(inner);
        }
        let left = self.value()?;
        let Some(Token::Op(op)) = self.peek() else { return None };
        self.at += 1;
        let right = self.value()?;
        let states = |v: Value| matches!(v, Value::State | Value::StateName(_));
        match (left, right) {
            (Value::State, Value::StateName(_)) | (Value::StateName(_), Value::State)
                if matches!(op, Op::Eq | Op::Ne) => {}
            (l, r) if states(l) || states(r) => return None,
            _ => {}
        }
        Some(Condition::Compare(left, op, right))
    }

    /// `tcpi_FIELD | INTEGER | STATE`.
    fn value(&mut self) -> Option<Value> {
        let Some(Token::Word(word)) = self.peek() else { return None };
        self.at += 1;
        if word == "tcpi_state" {
            return Some(Value::State);
        }
        if let Some(f) = field(word) {
            return Some(Value::Field(f));
        }
        if let Some(s) = state(word) {
            return Some(Value::StateName(s));
        }
        match word.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => word.parse().ok(),
        }
        .map(Value::Int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    /// A connection in `state` with `fields`.
    fn snap(state: &'static str, fields: &[(&'static str, i64)]) -> Snapshot {
        Snapshot { state, fields: fields.to_vec() }
    }

    #[test]
    fn state_assertions() {
        let (syn, est) = (snap("SYN_RCVD", &[]), snap("ESTABLISHED", &[]));
        let a = parse(3, "assert tcpi_state == TCPI_SYN_RECEIVED").expect("modelled");
        assert_eq!(a.len(), 1);
        assert!(a[0].holds(&syn) && !a[0].holds(&est));
        let a = parse(3, "assert TCP_ESTABLISHED != tcpi_state, tcpi_state").expect("modelled");
        assert!(!a[0].holds(&est) && a[0].holds(&snap("CLOSED", &[])));
        let a = parse(3, "assert tcpi_state == TCPI_CLOSING or tcpi_state == TCPI_TIME_WAIT\n").expect("or");
        assert!(a[0].holds(&snap("TIME_WAIT", &[])) && a[0].holds(&snap("CLOSING", &[])));
        assert!(!a[0].holds(&snap("LAST_ACK", &[])));
        let a = parse(
            3,
            "assert tcpi_state != TCPI_CLOSED and tcpi_state != TCPI_LISTEN; assert tcpi_state == TCPI_ESTABLISHED",
        )
        .expect("two");
        assert_eq!(a.len(), 2);
        assert!(a[0].holds(&est) && !a[0].holds(&snap("LISTEN", &[])));
    }

    #[test]
    fn numeric_fields_compare_with_numbers_and_each_other() {
        let s = snap("ESTABLISHED", &[("tcpi_snd_cwnd", 12), ("tcpi_snd_ssthresh", 12), ("tcpi_rto", 200_000)]);
        for (text, holds) in [
            ("assert tcpi_snd_cwnd == 12", true),
            ("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd", false),
            ("assert 10 < tcpi_snd_cwnd", true),
            ("assert tcpi_snd_cwnd<=11", false),
            ("assert tcpi_snd_cwnd >= tcpi_snd_ssthresh", true),
            ("assert tcpi_snd_cwnd > tcpi_snd_ssthresh", false),
            ("assert tcpi_rto != 0x30d40", false),
            ("assert (tcpi_rto == 1) or (tcpi_snd_cwnd == 12 and tcpi_state == TCP_ESTABLISHED)", true),
            ("assert tcpi_rto == 1 or tcpi_snd_cwnd == 12 and tcpi_state == TCP_CLOSE", false),
            // A field the snapshot lacks (no connection) makes the comparison fail.
            ("assert tcpi_unacked == 0", false),
        ] {
            let a = parse(3, text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a[0].holds(&s), holds, "{text}");
        }
    }

    #[test]
    fn a_failed_assertion_explains_each_field_it_names() {
        let s = snap("ESTABLISHED", &[("tcpi_snd_cwnd", 12)]);
        let a = parse(3, "assert tcpi_snd_cwnd == 10 and tcpi_state == TCPI_ESTABLISHED or tcpi_snd_cwnd > 20")
            .expect("modelled");
        assert_eq!(a[0].explain(&s), "tcpi_snd_cwnd is 12, tcpi_state is ESTABLISHED");
        let a = parse(3, "assert tcpi_rto == 1").expect("modelled");
        assert_eq!(a[0].explain(&s), "tcpi_rto is unknown (no connection under test)");
    }

    #[test]
    fn other_python_is_unsupported_with_the_field_named() {
        for (text, what) in [
            ("assert tcpi_ca_state == 0, tcpi_ca_state", "tcp_info field `tcpi_ca_state`"),
            ("assert tcpi_snd_cwnd == tcpi_rcv_rtt", "tcp_info field `tcpi_rcv_rtt`"),
            ("assert tcpi_state < TCPI_CLOSED", "Python"),
            ("assert tcpi_state == TCPI_BOGUS", "Python"),
            ("assert tcpi_state == 1", "Python"),
            ("assert tcpi_snd_cwnd == TCP_CLOSE", "Python"),
            ("assert 1 < tcpi_snd_cwnd < 20", "Python"),
            ("assert (tcpi_snd_cwnd == 10", "Python"),
            ("assert tcpi_snd_cwnd + 1 == 10", "Python"),
            ("assert not tcpi_snd_cwnd", "Python"),
            ("print(tcpi_rto)", "Python `print(tcpi_rto)`"),
        ] {
            let e = parse(5, text).expect_err(text);
            assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 5), "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
        assert_eq!(parse(5, "  \n ").map_err(|e| e.kind), Err(ErrorKind::Parse));
    }
}
