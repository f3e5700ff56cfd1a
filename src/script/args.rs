//! System-call arguments: checking their number and evaluating them to integers.
//!
//! A script writes arguments as packetdrill does: integers, symbolic constants
//! (`SOCK_STREAM`, `O_RDWR|O_NONBLOCK`), a value passed by pointer (`[1]`), and
//! `...` for "whatever the runner chooses" (an address, a buffer). This module
//! turns one into an `i64` with Linux's values, or `None` for `...`.
//!
//! Errors keep packetdrill's distinction: a wrong number of arguments or `...`
//! where a value is needed is a syntax error ([`ErrorKind::Parse`]); a symbol or
//! form the runner does not know (an array of several values, a string) is
//! [`ErrorKind::Unsupported`], never guessed.
//!
//! Evaluation is recursive over `|` and `[...]` (one level deep in practice) and
//! allocation-free; a symbol lookup is a `match`.
//!
//! [`ErrorKind::Parse`]: super::ErrorKind::Parse
//! [`ErrorKind::Unsupported`]: super::ErrorKind::Unsupported

use super::ast::{Call, Expr};
use super::errno::errno_value;
use super::error::{Result, ScriptError};

/// `call` has exactly `n` arguments.
pub(super) fn expect_args(line: usize, call: &Call, n: usize) -> Result<()> {
    if call.args.len() == n {
        Ok(())
    } else {
        Err(ScriptError::parse(line, format!("`{}` takes {n} arguments, not {}", call.name, call.args.len())))
    }
}

/// Argument `i` is `...`; anything else is unsupported, described by `what`.
pub(super) fn require_ellipsis(line: usize, call: &Call, i: usize, what: &str) -> Result<()> {
    match call.args.get(i) {
        Some(Expr::Ellipsis) => Ok(()),
        _ => Err(ScriptError::unsupported(line, what.to_string())),
    }
}

/// The value of argument `i`; `None` for `...`.
pub(super) fn arg_value(line: usize, call: &Call, i: usize) -> Result<Option<i64>> {
    let expr = call
        .args
        .get(i)
        .ok_or_else(|| ScriptError::parse(line, format!("`{}` needs argument {}", call.name, i + 1)))?;
    eval(line, expr)
}

/// The value of argument `i`, which must not be `...`.
pub(super) fn arg_int(line: usize, call: &Call, i: usize) -> Result<i64> {
    arg_value(line, call, i)?.ok_or_else(|| {
        ScriptError::parse(line, format!("argument {} of `{}` needs a value, not `...`", i + 1, call.name))
    })
}

/// An expression's value; `None` for `...`.
pub(super) fn eval(line: usize, expr: &Expr) -> Result<Option<i64>> {
    Ok(Some(match expr {
        Expr::Ellipsis => return Ok(None),
        Expr::Int(v) => *v,
        Expr::Name(n) => constant(n).ok_or_else(|| ScriptError::unsupported(line, format!("symbol `{n}`")))?,
        Expr::Or(parts) => {
            let mut v = 0;
            for p in parts {
                v |= eval(line, p)?.ok_or_else(|| ScriptError::parse(line, "`...` inside `|`"))?;
            }
            v
        }
        Expr::List(items) => match items.as_slice() {
            [one] => return eval(line, one),
            _ => return Err(ScriptError::unsupported(line, "arrays of more than one value")),
        },
        Expr::Str(_) => return Err(ScriptError::unsupported(line, "string arguments")),
        Expr::Struct(_) => return Err(ScriptError::unsupported(line, format!("struct argument `{expr}` here"))),
    }))
}

/// The symbolic constants scripts use, with Linux's values; errno names too.
pub(super) fn constant(name: &str) -> Option<i64> {
    let v = match name {
        "AF_INET" | "PF_INET" => libc::AF_INET,
        "AF_INET6" | "PF_INET6" => libc::AF_INET6,
        "SOCK_STREAM" => libc::SOCK_STREAM,
        "SOCK_DGRAM" => libc::SOCK_DGRAM,
        "IPPROTO_TCP" => libc::IPPROTO_TCP,
        "IPPROTO_UDP" => libc::IPPROTO_UDP,
        "SOL_SOCKET" => libc::SOL_SOCKET,
        "SO_REUSEADDR" => libc::SO_REUSEADDR,
        "SO_ERROR" => libc::SO_ERROR,
        "SO_SNDBUF" => libc::SO_SNDBUF,
        "SO_RCVBUF" => libc::SO_RCVBUF,
        "SO_LINGER" => libc::SO_LINGER,
        "SO_KEEPALIVE" => libc::SO_KEEPALIVE,
        "SOL_TCP" => libc::SOL_TCP,
        "TCP_KEEPIDLE" => libc::TCP_KEEPIDLE,
        "TCP_KEEPINTVL" => libc::TCP_KEEPINTVL,
        "TCP_KEEPCNT" => libc::TCP_KEEPCNT,
        "TCP_USER_TIMEOUT" => libc::TCP_USER_TIMEOUT,
        "TCP_INFO" => libc::TCP_INFO,
        "TCP_NODELAY" => libc::TCP_NODELAY,
        "SHUT_RD" => libc::SHUT_RD,
        "SHUT_WR" => libc::SHUT_WR,
        "SHUT_RDWR" => libc::SHUT_RDWR,
        "F_GETFL" => libc::F_GETFL,
        "F_SETFL" => libc::F_SETFL,
        "O_RDONLY" => libc::O_RDONLY,
        "O_WRONLY" => libc::O_WRONLY,
        "O_RDWR" => libc::O_RDWR,
        "O_NONBLOCK" => libc::O_NONBLOCK,
        "POLLIN" => i32::from(libc::POLLIN),
        "POLLPRI" => i32::from(libc::POLLPRI),
        "POLLOUT" => i32::from(libc::POLLOUT),
        "POLLERR" => i32::from(libc::POLLERR),
        "POLLHUP" => i32::from(libc::POLLHUP),
        "POLLNVAL" => i32::from(libc::POLLNVAL),
        "POLLRDHUP" => i32::from(libc::POLLRDHUP),
        _ => return errno_value(name).map(i64::from),
    };
    Some(i64::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    fn call(args: Vec<Expr>) -> Call {
        Call { name: "f".into(), args, ret: 0, errno: None }
    }

    #[test]
    fn values_symbols_pointers_and_ors() {
        let name = |n: &str| Expr::Name(n.into());
        let c = call(vec![
            Expr::Int(-3),
            name("SOCK_STREAM"),
            Expr::Or(vec![name("O_RDWR"), name("O_NONBLOCK")]),
            Expr::List(vec![Expr::Int(1)]),
            name("ECONNRESET"),
            Expr::Ellipsis,
        ]);
        assert_eq!(arg_int(1, &c, 0), Ok(-3));
        assert_eq!(arg_int(1, &c, 1), Ok(i64::from(libc::SOCK_STREAM)));
        assert_eq!(arg_int(1, &c, 2), Ok(i64::from(libc::O_RDWR | libc::O_NONBLOCK)));
        assert_eq!(arg_int(1, &c, 3), Ok(1));
        assert_eq!(arg_int(1, &c, 4), Ok(i64::from(libc::ECONNRESET)));
        assert_eq!(arg_value(1, &c, 5), Ok(None));
        assert_eq!(arg_int(1, &c, 5).map_err(|e| e.kind), Err(ErrorKind::Parse));
        assert_eq!(arg_value(1, &c, 6).map_err(|e| e.kind), Err(ErrorKind::Parse));
        assert!(require_ellipsis(1, &c, 5, "x").is_ok());
        assert_eq!(require_ellipsis(1, &c, 0, "x").map_err(|e| e.kind), Err(ErrorKind::Unsupported));
    }

    #[test]
    fn unknown_forms_are_unsupported_with_their_line() {
        for expr in [
            Expr::Name("SO_NOSUCH".into()),
            Expr::List(vec![Expr::Int(1), Expr::Int(2)]),
            Expr::List(vec![]),
            Expr::Str("x".into()),
            Expr::Struct(vec![("l_onoff".into(), Expr::Int(1))]),
        ] {
            let e = eval(7, &expr).expect_err("unsupported");
            assert_eq!((e.kind, e.line), (ErrorKind::Unsupported, 7), "{expr:?}");
        }
        let e = eval(7, &Expr::Or(vec![Expr::Int(1), Expr::Ellipsis])).expect_err("... in |");
        assert_eq!(e.kind, ErrorKind::Parse);
    }

    #[test]
    fn argument_counts() {
        assert!(expect_args(1, &call(vec![Expr::Int(1)]), 1).is_ok());
        let e = expect_args(4, &call(vec![]), 2).expect_err("too few");
        assert_eq!((e.kind, e.line, e.message.as_str()), (ErrorKind::Parse, 4, "`f` takes 2 arguments, not 0"));
    }
}
