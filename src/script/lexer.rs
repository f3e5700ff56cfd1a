//! Script text → tokens, each with its line number.
//!
//! packetdrill is line-oriented: one event per line. The lexer therefore emits a
//! [`Tok::Newline`] at the end of each line — except inside `(…)`, `[…]` and `{…}`,
//! so a long system call may be wrapped. Comments are C++ (`// …`) and C (`/* … */`)
//! style. Shell commands in backticks (which the runner interprets, see
//! `shell.rs`), `%{ python }%` blocks (see `code.rs`) and `--option` lines come
//! out as whole tokens of their own.
//!
//! Lexing never fails: a character with no meaning becomes [`Tok::Punct`] and the
//! parser reports it with its line.

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// Digits, with an optional fraction (`0.100`) or in hex (`0x802`), as written.
    Num(String),
    /// A name or flag word: starts with a letter, `_` or a lone `.`; may contain
    /// letters, digits, `_` and `.` (so `S.` and `P.` are one word each).
    Word(String),
    /// A double-quoted string.
    Str(String),
    /// `...`
    Ellipsis,
    /// Any other single character: `+ - * ~ < > ( ) [ ] { } , = | :`.
    Punct(char),
    /// `` `shell command` ``: the text between the backticks (it may span lines).
    Shell(String),
    /// `%{ python }%`: the text between the braces.
    Python(String),
    /// A line starting with `--`: a command-line option (`--tolerance_usecs=10000`).
    Option(String),
    /// End of a statement.
    Newline,
}

/// A token and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

/// Split `text` into tokens.
pub fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let mut i = 0;
    let mut at_line_start = true;
    let push = |out: &mut Vec<Token>, tok, line| out.push(Token { tok, line });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            if depth == 0 && out.last().is_some_and(|t: &Token| t.tok != Tok::Newline) {
                push(&mut out, Tok::Newline, line);
            }
            line += 1;
            i += 1;
            at_line_start = true;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start_line = line;
        let was_line_start = at_line_start;
        at_line_start = false;
        match (c, next) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                at_line_start = was_line_start;
            }
            ('/', Some('*')) => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
                at_line_start = was_line_start;
            }
            ('-', Some('-')) if was_line_start => {
                let begin = i;
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                let option: String = chars[begin..i].iter().collect();
                push(&mut out, Tok::Option(option.trim().to_string()), start_line);
            }
            ('`', _) => match chars[i + 1..].iter().position(|&c| c == '`') {
                Some(len) => {
                    let text: String = chars[i + 1..i + 1 + len].iter().collect();
                    line += text.matches('\n').count();
                    i += len + 2;
                    push(&mut out, Tok::Shell(text), start_line);
                }
                // No closing backtick: a lone character for the parser to refuse.
                None => {
                    i += 1;
                    push(&mut out, Tok::Punct('`'), start_line);
                }
            },
            ('%', Some('{')) => {
                i += 2;
                let begin = i;
                while i < chars.len() && !(chars[i] == '}' && chars.get(i + 1) == Some(&'%')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                let code: String = chars[begin..i.min(chars.len())].iter().collect();
                i += 2;
                push(&mut out, Tok::Python(code), start_line);
            }
            ('"', _) => {
                i += 1;
                let begin = i;
                while i < chars.len() && chars[i] != '"' && chars[i] != '\n' {
                    i += 1;
                }
                push(&mut out, Tok::Str(chars[begin..i].iter().collect()), start_line);
                i += 1;
            }
            ('.', Some('.')) if chars.get(i + 2) == Some(&'.') => {
                i += 3;
                push(&mut out, Tok::Ellipsis, start_line);
            }
            _ if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let begin = i;
                if c == '0' && matches!(next, Some('x' | 'X')) {
                    i += 2;
                    while i < chars.len() && chars[i].is_ascii_hexdigit() {
                        i += 1;
                    }
                } else {
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    // A fraction only if a digit follows the dot: `0...1` is 0, `...`, 1.
                    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                        i += 1;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                push(&mut out, Tok::Num(chars[begin..i].iter().collect()), start_line);
            }
            _ if c.is_ascii_alphabetic() || c == '_' || c == '.' => {
                let begin = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                push(&mut out, Tok::Word(chars[begin..i].iter().collect()), start_line);
            }
            _ => {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += 1;
                push(&mut out, Tok::Punct(c), start_line);
            }
        }
    }
    if out.last().is_some_and(|t| t.tok != Tok::Newline) {
        push(&mut out, Tok::Newline, line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn a_packet_line() {
        use Tok::*;
        let w = |s: &str| Word(s.into());
        let n = |s: &str| Num(s.into());
        assert_eq!(
            toks("+0.1 > S. 0:0(0) ack 1 <nop,wscale 7> // comment\n"),
            [
                Punct('+'),
                n("0.1"),
                Punct('>'),
                w("S."),
                n("0"),
                Punct(':'),
                n("0"),
                Punct('('),
                n("0"),
                Punct(')'),
                w("ack"),
                n("1"),
                Punct('<'),
                w("nop"),
                Punct(','),
                w("wscale"),
                n("7"),
                Punct('>'),
                Newline
            ]
        );
    }

    #[test]
    fn blocking_times_ellipsis_and_line_numbers() {
        let t = lex("/* two\nlines */\n0.1...0.2 read(4,\n ..., 10) = 10\n`ls`\n");
        assert_eq!(t[0], Token { tok: Tok::Num("0.1".into()), line: 3 });
        assert_eq!(t[1].tok, Tok::Ellipsis);
        assert_eq!(t[2].tok, Tok::Num("0.2".into()));
        // The newline inside the parentheses does not end the statement.
        let newline = t.iter().position(|t| t.tok == Tok::Newline).expect("a newline");
        assert_eq!(t[newline].line, 4);
        assert_eq!(t[newline + 1], Token { tok: Tok::Shell("ls".into()), line: 5 });
    }
}
