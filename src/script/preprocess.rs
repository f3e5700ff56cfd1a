//! `#ifdef SYMBOL` … `#else` … `#endif` in scripts, as the C preprocessor reads
//! them.
//!
//! Suites written for several stacks keep each stack's expectations apart this
//! way (the FreeBSD suite has `#ifdef FreeBSD` and `#ifdef STANDARD` blocks). A
//! symbol is defined by `-D SYMBOL` / `--define=SYMBOL[=VALUE]` on the command
//! line, never by the script, and no symbol is defined by default.
//!
//! Only the conditional lines are understood: `#ifdef`, `#ifndef`, `#else` and
//! `#endif`, nested to any depth. A line that is left out becomes an empty line,
//! so every line keeps its number. Any other directive (`#define`, `#if`,
//! `#include`) is unsupported, with its line; an `#else` or `#endif` without its
//! `#ifdef`, or an `#ifdef` never closed, is a syntax error.
//!
//! One pass over the text, O(its length); the stack of open conditionals is as
//! deep as their nesting.

use super::error::{Result, ScriptError};

/// `text` with the lines `#ifdef`s leave out (and the directives) blanked.
pub fn preprocess(text: &str, defined: &[String]) -> Result<String> {
    if !text.lines().any(|l| l.trim_start().starts_with('#')) {
        return Ok(text.to_string());
    }
    // Per open conditional: (its line, whether its current branch is kept, whether
    // the enclosing one is, whether `#else` was seen).
    let mut open: Vec<(usize, bool, bool, bool)> = Vec::new();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let number = i + 1;
        let keeping = open.last().is_none_or(|c| c.1);
        let trimmed = line.trim();
        let Some(directive) = trimmed.strip_prefix('#') else {
            out.push_str(if keeping {
                line
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            });
            continue;
        };
        let mut words = directive.split_whitespace();
        match (words.next(), words.next()) {
            (Some(d @ ("ifdef" | "ifndef")), Some(symbol)) => {
                let is_defined = defined.iter().any(|s| s.split('=').next() == Some(symbol));
                let keep = is_defined == (d == "ifdef");
                open.push((number, keeping && keep, keeping, false));
            }
            (Some("ifdef" | "ifndef"), None) => {
                return Err(ScriptError::parse(number, format!("`{trimmed}` needs a symbol")))
            }
            (Some("else"), _) => match open.last_mut() {
                Some(c) if !c.3 => *c = (c.0, c.2 && !c.1, c.2, true),
                Some(_) => return Err(ScriptError::parse(number, "a second `#else` for one `#ifdef`")),
                None => return Err(ScriptError::parse(number, "`#else` without `#ifdef`")),
            },
            (Some("endif"), _) => {
                if open.pop().is_none() {
                    return Err(ScriptError::parse(number, "`#endif` without `#ifdef`"));
                }
            }
            _ => {
                return Err(ScriptError::unsupported(
                    number,
                    format!("preprocessor directive `{trimmed}` (only #ifdef, #ifndef, #else, #endif)"),
                ))
            }
        }
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    match open.last() {
        Some((line, ..)) => Err(ScriptError::parse(*line, "`#ifdef` without `#endif`")),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    const TEXT: &str = "a\n#ifdef FreeBSD\nb\n#else\nc\n#endif\n#ifndef STANDARD\nd\n#endif\ne";

    #[test]
    fn blocks_are_kept_or_blanked_and_lines_keep_their_numbers() {
        assert_eq!(preprocess(TEXT, &[]).expect("valid"), "a\n\n\n\nc\n\n\nd\n\ne");
        let defined = ["FreeBSD".to_string(), "STANDARD=1".to_string()];
        assert_eq!(preprocess(TEXT, &defined).expect("valid"), "a\n\nb\n\n\n\n\n\n\ne");
    }

    #[test]
    fn nested_blocks_inside_a_dropped_one_stay_dropped() {
        let text = "#ifdef A\n#ifndef B\nx\n#else\ny\n#endif\n#endif\n";
        assert_eq!(preprocess(text, &[]).expect("valid"), "\n\n\n\n\n\n\n");
        assert_eq!(preprocess(text, &["A".into()]).expect("valid"), "\n\nx\n\n\n\n\n");
    }

    #[test]
    fn unbalanced_and_unknown_directives() {
        for (text, kind, line) in [
            ("#endif\n", ErrorKind::Parse, 1),
            ("x\n#else\n", ErrorKind::Parse, 2),
            ("#ifdef A\n#else\n#else\n#endif\n", ErrorKind::Parse, 3),
            ("x\n#ifdef A\ny\n", ErrorKind::Parse, 2),
            ("#ifdef\n#endif\n", ErrorKind::Parse, 1),
            ("#define A 1\n", ErrorKind::Unsupported, 1),
            ("#if 1\n#endif\n", ErrorKind::Unsupported, 1),
        ] {
            let e = preprocess(text, &[]).expect_err(text);
            assert_eq!((e.kind, e.line), (kind, line), "{text}: {e}");
        }
    }

    #[test]
    fn text_without_directives_is_unchanged() {
        assert_eq!(preprocess("0 close(3) = 0\n", &[]).expect("valid"), "0 close(3) = 0\n");
    }
}
