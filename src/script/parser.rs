//! Tokens → [`Script`]: packetdrill's grammar, the subset this runner models.
//!
//! ```text
//! script   := { option-line | event }*                           (options: see `options.rs`)
//! event    := time ( packet | call ) | [ time ] ( '`' shell '`' | '%{' code '}%' )   (`shell.rs`, `code.rs`)
//! time     := '*' | point [ '~' point ] | point '...' point      (the last for calls)
//! point    := [ '+' ] seconds                                     (0.100, +.1, +0)
//! packet   := ('<' | '>') flags ( start ':' end | '...' ) '(' len ')' [ 'ack' n ] [ 'win' n ] [ '<' ( option,* | '...' ) '>' ]
//!           | ('<' | '>') 'udp' '(' len ')'
//!           | ('<' | '>') 'icmp' 'unreachable' code [ 'mtu' n ] [ '[' start ':' end '(' len ')' ']' ]
//! option   := eol | nop | mss n | sackOK | TS val n ecr n | wscale n | sack l:r { l:r }
//! call     := name '(' arg,* ')' '=' int [ ERRNO [ '(' text ')' ] ]
//! arg      := '...' | int | NAME { '|' NAME } | '[' arg,* ']' | "string" | '{' NAME '=' arg,* '}'
//! ```
//!
//! Anything packetdrill accepts beyond this is refused with
//! [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported) and its line, never
//! skipped.

use std::path::Path;

use super::ast::*;
use super::error::{Result, ScriptError};
use super::lexer::{lex, Tok, Token};
use super::{code, options, shell};
use crate::wire::tcp::Flags;

/// packetdrill's default tolerance: 4 ms.
pub const DEFAULT_TOLERANCE_US: u64 = 4_000;

/// Parse a whole script that has no file: a shell script it runs
/// (`` `../common/defaults.sh` ``) cannot be found, and is unsupported.
pub fn parse(text: &str) -> Result<Script> {
    parse_in(text, None)
}

/// Parse a whole script whose file is in `dir`, where the shell scripts it runs
/// are looked for (`source.rs`).
pub fn parse_in(text: &str, dir: Option<&Path>) -> Result<Script> {
    let tokens = lex(text);
    let mut script = Script { tolerance_us: DEFAULT_TOLERANCE_US, settings: Settings::default(), events: Vec::new() };
    for statement in tokens.split(|t| t.tok == Tok::Newline).filter(|s| !s.is_empty()) {
        let mut p = Parser { toks: statement, pos: 0, line: statement[0].line, dir };
        match &statement[0].tok {
            Tok::Option(option) => p.option(option, &mut script)?,
            _ => script.events.push(p.event()?),
        }
    }
    Ok(script)
}

/// A cursor over one statement's tokens.
struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    /// The statement's first line: where errors point.
    line: usize,
    /// The script file's directory, if it has one.
    dir: Option<&'a Path>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<&Tok> {
        let t = self.toks.get(self.pos).map(|t| &t.tok);
        self.pos += 1;
        t
    }

    /// The line of the current token (for statements wrapped over several lines).
    fn here(&self) -> usize {
        self.toks.get(self.pos).or(self.toks.last()).map_or(self.line, |t| t.line)
    }

    fn err(&self, message: impl Into<String>) -> ScriptError {
        ScriptError::parse(self.here(), message)
    }

    fn unsupported(&self, message: impl Into<String>) -> ScriptError {
        ScriptError::unsupported(self.here(), message)
    }

    fn describe(tok: Option<&Tok>) -> String {
        match tok {
            None | Some(Tok::Newline) => "the end of the line".into(),
            Some(Tok::Num(n)) => format!("`{n}`"),
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(Tok::Str(s)) => format!("\"{s}\""),
            Some(Tok::Ellipsis) => "`...`".into(),
            Some(Tok::Punct(c)) => format!("`{c}`"),
            Some(Tok::Shell(_)) => "a shell command".into(),
            Some(Tok::Python(_)) => "a python block".into(),
            Some(Tok::Option(o)) => format!("`{o}`"),
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<()> {
        match self.next() {
            Some(Tok::Punct(p)) if *p == c => Ok(()),
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                Err(self.err(format!("expected `{c}`, found {found}")))
            }
        }
    }

    fn at_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Tok::Punct(p)) if *p == c)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// An unsigned integer (decimal or hex) that fits `T`.
    fn int<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T> {
        let value = match self.next() {
            Some(Tok::Num(n)) if !n.contains('.') => parse_u64(n),
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                return Err(self.err(format!("expected {what} (an integer), found {found}")));
            }
        };
        self.pos -= 1;
        let value = value.ok_or_else(|| self.err(format!("{what} is not a valid integer")))?;
        let value = T::try_from(value).map_err(|_| self.err(format!("{what} {value} is out of range")))?;
        self.pos += 1;
        Ok(value)
    }

    fn word(&mut self, want: &str) -> Result<()> {
        match self.next() {
            Some(Tok::Word(w)) if w == want => Ok(()),
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                Err(self.err(format!("expected `{want}`, found {found}")))
            }
        }
    }

    /// A `--name=value` line: see [`options`](super::options).
    fn option(&mut self, option: &str, script: &mut Script) -> Result<()> {
        options::apply(script, self.line, option)
    }

    fn event(&mut self) -> Result<Event> {
        // A shell command or a Python block may stand without a time, as at the
        // top of upstream scripts: it happens right after the previous event.
        let time = match self.peek() {
            Some(Tok::Shell(_) | Tok::Python(_)) => Time::At(Point::Relative(0)),
            _ => self.time()?,
        };
        let mut end = None;
        if matches!(self.peek(), Some(Tok::Ellipsis)) {
            self.pos += 1;
            if !matches!(time, Time::At(_)) {
                return Err(self.err("a blocking call `start...end` needs a plain start time"));
            }
            end = Some(self.point()?);
        }
        let action = match self.peek() {
            Some(Tok::Punct('<' | '>')) if matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Word(w)) if w == "udp") =>
            {
                let dir = if self.at_punct('<') { Direction::Inbound } else { Direction::Outbound };
                Action::Datagram(self.datagram(dir)?)
            }
            Some(Tok::Punct('<' | '>')) if matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Word(w)) if w == "icmp") =>
            {
                let dir = if self.at_punct('<') { Direction::Inbound } else { Direction::Outbound };
                Action::Icmp(self.icmp(dir)?)
            }
            Some(Tok::Punct('<')) => Action::Packet(self.packet(Direction::Inbound)?),
            Some(Tok::Punct('>')) => Action::Packet(self.packet(Direction::Outbound)?),
            Some(Tok::Word(_)) => Action::Call(self.call()?),
            Some(Tok::Shell(text)) => {
                let action = Action::Shell(shell::interpret(self.here(), text, self.dir)?);
                self.pos += 1;
                action
            }
            Some(Tok::Python(text)) => {
                let action = Action::Code(code::parse(self.here(), text)?);
                self.pos += 1;
                action
            }
            other => {
                return Err(self.err(format!("expected a packet or a system call, found {}", Self::describe(other))))
            }
        };
        if end.is_some() && !matches!(action, Action::Call(_)) {
            return Err(self.err("only a system call can block (`start...end`)"));
        }
        if !self.at_end() {
            return Err(self.err(format!("unexpected {} at the end of the event", Self::describe(self.peek()))));
        }
        Ok(Event { line: self.line, time, end, action })
    }

    fn time(&mut self) -> Result<Time> {
        if self.at_punct('*') {
            self.pos += 1;
            return Ok(Time::Any);
        }
        let start = self.point()?;
        if self.at_punct('~') {
            self.pos += 1;
            return Ok(Time::Range(start, self.point()?));
        }
        Ok(Time::At(start))
    }

    fn point(&mut self) -> Result<Point> {
        let relative = self.at_punct('+');
        if relative {
            self.pos += 1;
        }
        if self.at_punct('-') {
            return Err(self.err("a time cannot be negative"));
        }
        let micros = match self.next() {
            Some(Tok::Num(n)) => seconds_to_micros(n),
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                return Err(self.err(format!("expected a time in seconds, found {found}")));
            }
        };
        self.pos -= 1;
        let micros = micros.ok_or_else(|| self.err("bad time (seconds with at most 6 decimals)"))?;
        self.pos += 1;
        Ok(if relative { Point::Relative(micros) } else { Point::Absolute(micros) })
    }

    fn packet(&mut self, dir: Direction) -> Result<PacketSpec> {
        self.pos += 1; // '<' or '>'
        let port = if self.at_punct(':') {
            self.pos += 1;
            match self.int("remote port (`<:PORT`)")? {
                0 => return Err(self.err("remote port 0 (`<:PORT` names a port of the remote host, 1 to 65535)")),
                port => Some(port),
            }
        } else {
            None
        };
        if self.at_punct('[') {
            return Err(self.unsupported("ECN or IP annotations in `[...]`"));
        }
        let flags = match self.next() {
            Some(Tok::Word(w)) => w.clone(),
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                return Err(self.err(format!("expected TCP flags (S, S., ., P., F., R, …), found {found}")));
            }
        };
        self.pos -= 1;
        let flags = self.flags(&flags)?;
        self.pos += 1;
        let any_seq = matches!(self.peek(), Some(Tok::Ellipsis));
        let start: u32 = if any_seq {
            if dir == Direction::Inbound {
                return Err(self.err("an inbound packet needs its sequence number (`...` only on `>`)"));
            }
            self.pos += 1;
            0
        } else {
            let start = self.int("start sequence number")?;
            self.expect_punct(':')?;
            start
        };
        let end: u32 = if any_seq { 0 } else { self.int("end sequence number")? };
        self.expect_punct('(')?;
        let len: u32 = self.int("payload length")?;
        self.expect_punct(')')?;
        if !any_seq && end.wrapping_sub(start) != len {
            return Err(self.err(format!("{start}:{end}({len}): end minus start must equal the length")));
        }
        let mut spec = PacketSpec {
            dir,
            port,
            flags,
            start,
            any_seq,
            len,
            ack: None,
            win: None,
            options: Vec::new(),
            any_options: false,
        };
        while !self.at_end() {
            match self.peek() {
                Some(Tok::Word(w)) if w == "ack" => {
                    self.pos += 1;
                    spec.ack = Some(self.int("ACK number")?);
                }
                Some(Tok::Word(w)) if w == "win" => {
                    self.pos += 1;
                    spec.win = Some(self.int("window")?);
                }
                Some(Tok::Word(w)) if w == "urg" => return Err(self.unsupported("urgent pointer (`urg`)")),
                Some(Tok::Punct('<')) if matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Ellipsis)) => {
                    if dir == Direction::Inbound {
                        return Err(self.err("an inbound packet needs its options (`<...>` only on `>`)"));
                    }
                    self.pos += 2;
                    self.expect_punct('>')?;
                    spec.any_options = true;
                }
                Some(Tok::Punct('<')) => {
                    self.pos += 1;
                    spec.options = self.options()?;
                }
                Some(Tok::Punct('[')) => return Err(self.unsupported("ECN or IP annotations in `[...]`")),
                Some(Tok::Punct('(')) => return Err(self.unsupported("IP-level annotations in `(...)`")),
                other => return Err(self.err(format!("unexpected {} in a packet", Self::describe(other)))),
            }
        }
        if dir == Direction::Inbound {
            // The runner has to put something on the wire: packetdrill requires these too.
            if spec.win.is_none() {
                return Err(self.err("an inbound packet needs a window (`win N`)"));
            }
            if flags.ack && spec.ack.is_none() {
                return Err(self.err("an inbound packet with the ACK flag needs `ack N`"));
            }
        }
        // `ack N` without the ACK flag is allowed, as in packetdrill: an inbound
        // segment carries N in its (meaningless) acknowledgment field; on an
        // outbound one it is not compared (see `matching.rs`).
        Ok(spec)
    }

    /// `icmp unreachable CODE [mtu N] [ '[' start:end(len) ']' ]`.
    fn icmp(&mut self, dir: Direction) -> Result<IcmpSpec> {
        self.pos += 2; // '<' or '>', and `icmp`
        match self.next() {
            Some(Tok::Word(w)) if w == "unreachable" => {}
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                return Err(self.unsupported(format!("ICMP messages other than `unreachable` ({found})")));
            }
        }
        let code = match self.next() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                let code = ICMP_UNREACHABLE_CODES.iter().position(|c| *c == w);
                self.pos -= 1;
                let code = code.ok_or_else(|| self.err(format!("`{w}` is not an ICMP unreachable code")))?;
                self.pos += 1;
                u8::try_from(code).map_err(|_| self.err("ICMP code out of range"))?
            }
            other => {
                let found = Self::describe(other);
                self.pos -= 1;
                return Err(self.err(format!("expected an ICMP unreachable code (port_unreachable, …), found {found}")));
            }
        };
        let mut spec = IcmpSpec { dir, code, mtu: None, quoted: None };
        if matches!(self.peek(), Some(Tok::Word(w)) if w == "mtu") {
            self.pos += 1;
            spec.mtu = Some(self.int("MTU")?);
        }
        if self.at_punct('[') {
            self.pos += 1;
            if matches!(self.peek(), Some(Tok::Num(_))) {
                let start: u32 = self.int("quoted start sequence number")?;
                self.expect_punct(':')?;
                let end: u32 = self.int("quoted end sequence number")?;
                self.expect_punct('(')?;
                let len: u32 = self.int("quoted payload length")?;
                self.expect_punct(')')?;
                if end.wrapping_sub(start) != len {
                    return Err(self.err(format!("{start}:{end}({len}): end minus start must equal the length")));
                }
                spec.quoted = Some((start, len));
                self.expect_punct(']')?;
            } else if dir == Direction::Outbound {
                // What an outbound error quotes is not compared.
                while !self.at_end() && !self.at_punct(']') {
                    self.pos += 1;
                }
                self.expect_punct(']')?;
            } else {
                return Err(self.unsupported("an inbound ICMP error quoting something other than a TCP segment"));
            }
        }
        if dir == Direction::Inbound && spec.quoted.is_none() {
            return Err(self.err("an inbound ICMP error needs the TCP segment it quotes (`[start:end(len)]`)"));
        }
        if !self.at_end() {
            return Err(self.err(format!("unexpected {} after an ICMP message", Self::describe(self.peek()))));
        }
        Ok(spec)
    }

    /// `< udp (len)` or `> udp (len)`.
    fn datagram(&mut self, dir: Direction) -> Result<DatagramSpec> {
        self.pos += 2; // '<' or '>', and `udp`
        if !self.at_punct('(') {
            return Err(self.unsupported(format!("UDP datagram fields ({})", Self::describe(self.peek()))));
        }
        self.pos += 1;
        let len = self.int("datagram length")?;
        self.expect_punct(')')?;
        if !self.at_end() {
            return Err(self.unsupported(format!("{} after a UDP datagram", Self::describe(self.peek()))));
        }
        Ok(DatagramSpec { dir, len })
    }

    fn flags(&self, word: &str) -> Result<Flags> {
        if matches!(word, "udp" | "icmp" | "tcp") || word.starts_with("udp") {
            return Err(self.unsupported(format!("`{word}` packets (only TCP segments are modelled)")));
        }
        let mut f = Flags::default();
        for letter in word.chars() {
            let bit = match letter {
                'S' => &mut f.syn,
                'F' => &mut f.fin,
                'R' => &mut f.rst,
                'P' => &mut f.psh,
                'U' => &mut f.urg,
                '.' => &mut f.ack,
                'E' | 'W' => return Err(self.unsupported(format!("ECN flag `{letter}` in `{word}`"))),
                _ => return Err(self.err(format!("`{letter}` is not a TCP flag (in `{word}`)"))),
            };
            if *bit {
                return Err(self.err(format!("flag `{letter}` twice in `{word}`")));
            }
            *bit = true;
        }
        Ok(f)
    }

    /// The option list after `<`, up to and including `>`.
    fn options(&mut self) -> Result<Vec<OptSpec>> {
        let mut out = Vec::new();
        loop {
            let name = match self.next() {
                Some(Tok::Word(w)) => w.clone(),
                other => {
                    let found = Self::describe(other);
                    self.pos -= 1;
                    return Err(self.err(format!("expected a TCP option, found {found}")));
                }
            };
            let opt = match name.as_str() {
                "nop" => OptSpec::Nop,
                "eol" => OptSpec::Eol,
                "mss" => OptSpec::Mss(self.int("MSS")?),
                "sackOK" => OptSpec::SackOk,
                "wscale" => OptSpec::Wscale(self.int("window scale")?),
                "TS" => {
                    self.word("val")?;
                    let val = self.int("TS val")?;
                    self.word("ecr")?;
                    OptSpec::Ts { val, ecr: self.int("TS ecr")? }
                }
                "sack" => {
                    let mut blocks = Vec::new();
                    while matches!(self.peek(), Some(Tok::Num(_))) {
                        let left = self.int("SACK left edge")?;
                        self.expect_punct(':')?;
                        blocks.push((left, self.int("SACK right edge")?));
                    }
                    if blocks.is_empty() || blocks.len() > 4 {
                        return Err(self.err("`sack` needs one to four blocks `left:right`"));
                    }
                    OptSpec::Sack(blocks)
                }
                "FO" | "md5" | "exp" | "FOEXP" | "mptcp" | "tfo" => {
                    self.pos -= 1;
                    return Err(self.unsupported(format!("TCP option `{name}`")));
                }
                other => {
                    self.pos -= 1;
                    return Err(self.err(format!("unknown TCP option `{other}`")));
                }
            };
            out.push(opt);
            match self.next() {
                Some(Tok::Punct(',')) => {}
                Some(Tok::Punct('>')) => return Ok(out),
                other => {
                    let found = Self::describe(other);
                    self.pos -= 1;
                    return Err(self.err(format!("expected `,` or `>` in the option list, found {found}")));
                }
            }
        }
    }

    fn call(&mut self) -> Result<Call> {
        let name = match self.next() {
            Some(Tok::Word(w)) => w.clone(),
            _ => return Err(self.err("expected a system call")),
        };
        self.expect_punct('(')?;
        let mut args = Vec::new();
        if !self.at_punct(')') {
            loop {
                args.push(self.expr()?);
                if self.at_punct(',') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect_punct(')')?;
        self.expect_punct('=')?;
        let negative = self.at_punct('-');
        if negative {
            self.pos += 1;
        }
        let magnitude: i64 = self.int("return value")?;
        let ret = if negative { -magnitude } else { magnitude };
        let mut errno = None;
        if let Some(Tok::Word(w)) = self.peek() {
            errno = Some(w.clone());
            self.pos += 1;
        }
        if ret == -1 && errno.is_none() {
            return Err(self.err("a call returning -1 needs the errno name (e.g. `-1 EAGAIN`)"));
        }
        if ret != -1 && errno.is_some() && !self.at_punct('(') {
            return Err(self.err("an errno name after a return value other than -1"));
        }
        // A comment in parentheses: `(Operation now in progress)`.
        if self.at_punct('(') {
            let mut depth = 0;
            while let Some(t) = self.next() {
                match t {
                    Tok::Punct('(') => depth += 1,
                    Tok::Punct(')') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Call { name, args, ret, errno: if ret == -1 { errno } else { None } })
    }

    fn expr(&mut self) -> Result<Expr> {
        let first = self.atom()?;
        if !self.at_punct('|') {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.at_punct('|') {
            self.pos += 1;
            parts.push(self.atom()?);
        }
        Ok(Expr::Or(parts))
    }

    fn atom(&mut self) -> Result<Expr> {
        match self.peek() {
            Some(Tok::Ellipsis) => {
                self.pos += 1;
                Ok(Expr::Ellipsis)
            }
            Some(Tok::Num(_)) => Ok(Expr::Int(self.int::<i64>("argument")?)),
            Some(Tok::Punct('-')) => {
                self.pos += 1;
                Ok(Expr::Int(-self.int::<i64>("argument")?))
            }
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(Expr::Name(w))
            }
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(Expr::Str(s))
            }
            Some(Tok::Punct('[')) => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.at_punct(']') {
                    items.push(self.expr()?);
                    if self.at_punct(',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect_punct(']')?;
                Ok(Expr::List(items))
            }
            Some(Tok::Punct('{')) => {
                self.pos += 1;
                let mut fields = Vec::new();
                while !self.at_punct('}') {
                    let name = match self.next() {
                        Some(Tok::Word(w)) => w.clone(),
                        other => {
                            let found = Self::describe(other);
                            self.pos -= 1;
                            return Err(self.err(format!("expected a struct field name, found {found}")));
                        }
                    };
                    if self.at_punct('(') {
                        return Err(self.unsupported(format!("struct field `{name}(...)`")));
                    }
                    self.expect_punct('=')?;
                    fields.push((name, self.expr()?));
                    if self.at_punct(',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect_punct('}')?;
                Ok(Expr::Struct(fields))
            }
            other => Err(self.err(format!("expected an argument, found {}", Self::describe(other)))),
        }
    }
}

/// `123` or `0x7b`.
fn parse_u64(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// `0.100` seconds → 100000 µs, exactly (no floating point).
fn seconds_to_micros(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 6 || text.starts_with("0x") {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse().ok()? };
    whole.checked_mul(1_000_000)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    #[test]
    fn times() {
        assert_eq!(seconds_to_micros("0.100"), Some(100_000));
        assert_eq!(seconds_to_micros(".1"), Some(100_000));
        assert_eq!(seconds_to_micros("2"), Some(2_000_000));
        assert_eq!(seconds_to_micros("0.0000001"), None);
    }

    #[test]
    fn a_small_script() {
        let s = parse(
            "--tolerance_usecs=10000\n\
             0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
             +0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
             0.1~0.2 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n\
             +0.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,nop,sack 1:2 3:4>\n\
             0.3...0.4 read(3, ..., 1000) = 1000\n",
        )
        .expect("valid");
        assert_eq!(s.tolerance_us, 10_000);
        assert_eq!(s.events.len(), 6);
        assert_eq!(s.events[3].line, 5);
        let Action::Call(call) = &s.events[2].action else { panic!("a call") };
        assert_eq!((call.ret, call.errno.as_deref()), (-1, Some("EINPROGRESS")));
        let Action::Packet(p) = &s.events[4].action else { panic!("a packet") };
        assert_eq!(p.options[3], OptSpec::Sack(vec![(1, 2), (3, 4)]));
        assert_eq!(s.events[5].end, Some(Point::Absolute(400_000)));
    }

    #[test]
    fn errors_carry_the_line() {
        let e = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 < S 0:0(0)\n").expect_err("no win");
        assert_eq!((e.kind, e.line), (ErrorKind::Parse, 3));
        let e = parse("0 %{ assert tcpi_ca_state == 0 }%\n").expect_err("python");
        assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 1));
        let s = parse("0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n").expect("struct");
        let Action::Call(c) = &s.events[0].action else { panic!("a call") };
        assert_eq!(c.args[3], Expr::Struct(vec![("l_onoff".into(), Expr::Int(1)), ("l_linger".into(), Expr::Int(0))]));
        let e = parse("// c\n0 sendmsg(4, {msg_name(...)=...}, 0) = 10\n").expect_err("struct");
        assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 2));
        let e = parse("0 `sockstat -4`\n").expect_err("shell");
        assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 1));
        let e = parse("0 `sysctl -q net.ipv4.tcp_sack=0\n").expect_err("unterminated");
        assert_eq!((e.kind, e.line), (ErrorKind::Parse, 1));
        let s = parse("--ip_version=ipv4-mapped-ipv6\n").expect("an option applied");
        assert!(s.settings.v4_mapped && !s.settings.ipv6);
        let s = parse("0 < F 17:20(3) ack 34 win 32767\n").expect("ack without the ACK flag");
        let Action::Packet(p) = &s.events[0].action else { panic!("a packet") };
        assert_eq!((p.flags.ack, p.ack), (false, Some(34)));
        let s = parse("0 <:40002 S 0:0(0) win 65535\n0 > S. 0:0(0) ack 1\n").expect("a remote port");
        let ports: Vec<Option<u16>> =
            s.events.iter().map(|e| if let Action::Packet(p) = &e.action { p.port } else { None }).collect();
        assert_eq!(ports, [Some(40002), None]);
        for bad in ["0 <:0 S 0:0(0) win 1\n", "0 <:70000 S 0:0(0) win 1\n", "0 <: S 0:0(0) win 1\n"] {
            assert_eq!(parse(bad).expect_err(bad).kind, ErrorKind::Parse, "{bad}");
        }
        let s = parse("0 > S. ...(0) ack 65538 win 65535\n").expect("any sequence number");
        let Action::Packet(p) = &s.events[0].action else { panic!("a packet") };
        assert!(p.any_seq);
        let s = parse("0 > S 0:0(0) <...>\n").expect("any options");
        let Action::Packet(p) = &s.events[0].action else { panic!("a packet") };
        assert!(p.any_options && p.options.is_empty());
        assert_eq!(parse("0 < S 0:0(0) win 1 <...>\n").map_err(|e| e.kind), Err(ErrorKind::Parse));
        assert_eq!(parse("0 < S ...(0) win 1\n").map_err(|e| e.kind), Err(ErrorKind::Parse));
        let s = parse("0 < udp (100)\n+0 > udp(5)\n").expect("datagrams");
        assert_eq!(s.events[0].action, Action::Datagram(DatagramSpec { dir: Direction::Inbound, len: 100 }));
        assert_eq!(s.events[1].action, Action::Datagram(DatagramSpec { dir: Direction::Outbound, len: 5 }));
        let s = parse("0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n").expect("icmp");
        assert_eq!(
            s.events[0].action,
            Action::Icmp(IcmpSpec { dir: Direction::Inbound, code: 4, mtu: Some(1200), quoted: Some((1, 1460)) })
        );
        let s = parse("0 > icmp unreachable port_unreachable [udp (10)]\n").expect("outbound icmp");
        assert_eq!(
            s.events[0].action,
            Action::Icmp(IcmpSpec { dir: Direction::Outbound, code: 3, mtu: None, quoted: None })
        );
        assert_eq!(parse("0 < icmp unreachable port_unreachable\n").map_err(|e| e.kind), Err(ErrorKind::Parse));
        assert_eq!(parse("0 < icmp echo_request\n").map_err(|e| e.kind), Err(ErrorKind::Unsupported));
        assert_eq!(parse("0 < icmp unreachable nowhere [1:1(0)]\n").map_err(|e| e.kind), Err(ErrorKind::Parse));
        let e = parse("0 > udp sum 0x3643 (1000)\n").expect_err("checksum");
        assert_eq!(e.kind, ErrorKind::Unsupported);
        let e = parse("0 > S 0:10(5)\n").expect_err("bad length");
        assert_eq!(e.kind, ErrorKind::Parse);
    }
}
