//! `setsockopt` and `getsockopt`: the options scripts set and read.
//!
//! Set: `SO_REUSEADDR` (accepted: our listen never fails because of TIME-WAIT
//! connections), `TCP_NODELAY`, `SO_SNDBUF`, `SO_KEEPALIVE` with `TCP_KEEPIDLE`,
//! `TCP_KEEPINTVL`, `TCP_KEEPCNT` (seconds, count) and `TCP_USER_TIMEOUT` (ms)
//! (each kept for a connection made later, and inherited by accepted ones),
//! `SO_RCVBUF` and `SO_SNDBUF` (on a connection; on a listener, for the
//! connections it accepts; before `connect`, for the SYN — `tcp/buffers.rs`),
//! and `SO_LINGER` off or with 0 s (close then resets). Read: `SO_ERROR`, the
//! buffer sizes as the stack reports them (doubled when set, under the `linux`
//! profile, as Linux does), and `TCP_INFO`'s `tcpi_state` and numeric
//! `tcpi_*` fields (`code::FIELDS`). The value in `[N]` is compared with the
//! script's; any other option is unsupported with its level and number. O(1).

use std::io;
use std::time::Duration;

use super::{done, Outcome, Sock};
use crate::script::args::{arg_int, eval, expect_args};
use crate::script::ast::{Call, Expr};
use crate::script::errno::{errno_name, errno_of};
use crate::script::error::{Result, ScriptError};
use crate::script::run::Runner;
use crate::script::{code, shell};

impl Runner {
    /// `setsockopt(fd, level, name, [value], len)`.
    pub(super) fn setsockopt(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 5)?;
        let level = arg_int(line, call, 1)?;
        let opt = arg_int(line, call, 2)?;
        if (level, opt) == (i64::from(libc::SOL_SOCKET), i64::from(libc::SO_LINGER)) {
            return self.set_linger(line, call, fd);
        }
        let value = arg_int(line, call, 3)?;
        let Some(f) = self.fds.get_mut(&fd) else { return done(Err(libc::EBADF)) };
        let conn = match f.sock {
            Sock::Conn(c) => Some(c),
            _ => None,
        };
        // Buffer sizes go to the connection or the listener; on a fresh socket
        // they wait for `listen` or `connect`.
        let sized = match f.sock {
            Sock::Conn(h) | Sock::Listener(h) => Some(h),
            Sock::Fresh | Sock::Udp(_) => None,
        };
        let (sol, tcp) = (i64::from(libc::SOL_SOCKET), i64::from(libc::IPPROTO_TCP));
        let result = if (level, opt) == (sol, i64::from(libc::SO_REUSEADDR)) {
            // Our listen never fails because of TIME-WAIT connections on the port, so
            // there is nothing to relax: accepted and ignored.
            Ok(())
        } else if (level, opt) == (tcp, i64::from(libc::TCP_NODELAY)) {
            f.nodelay = value != 0;
            conn.map_or(Ok(()), |c| self.stack.tcp_set_nodelay(c, value != 0))
        } else if (level, opt) == (sol, i64::from(libc::SO_SNDBUF)) {
            let bytes = usize::try_from(value).unwrap_or(0);
            f.buffers.send = Some(bytes);
            sized.map_or(Ok(()), |h| self.stack.tcp_set_send_buffer(h, bytes))
        } else if (level, opt) == (sol, i64::from(libc::SO_KEEPALIVE))
            || (level == tcp
                && [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT].map(i64::from).contains(&opt))
        {
            let mut k = match conn {
                Some(c) => self.stack.tcp_keepalive(c).unwrap_or(self.profile.config.tcp.keepalive),
                None => f.keepalive.unwrap_or(self.profile.config.tcp.keepalive),
            };
            let seconds = Duration::from_secs(u64::try_from(value).unwrap_or(0));
            match opt {
                o if o == i64::from(libc::TCP_KEEPIDLE) => k.idle = seconds,
                o if o == i64::from(libc::TCP_KEEPINTVL) => k.interval = seconds,
                o if o == i64::from(libc::TCP_KEEPCNT) => k.probes = u32::try_from(value).unwrap_or(0),
                _ => k.enabled = value != 0,
            }
            f.keepalive = Some(k);
            let now = self.clock.instant();
            conn.map_or(Ok(()), |c| self.stack.tcp_set_keepalive(now, c, k))
        } else if (level, opt) == (tcp, i64::from(libc::TCP_USER_TIMEOUT)) {
            let limit = (value > 0).then(|| Duration::from_millis(u64::try_from(value).unwrap_or(0)));
            f.user_timeout = Some(limit);
            let now = self.clock.instant();
            conn.map_or(Ok(()), |c| self.stack.tcp_set_user_timeout(now, c, limit))
        } else if (level, opt) == (sol, i64::from(libc::SO_RCVBUF)) {
            let bytes = usize::try_from(value).unwrap_or(0);
            f.buffers.recv = Some(bytes);
            sized.map_or(Ok(()), |h| self.stack.tcp_set_recv_buffer(h, bytes))
        } else {
            return Err(ScriptError::unsupported(line, format!("setsockopt option {level}/{opt}")));
        };
        done(result.map(|()| 0).map_err(|e| errno_of(&e)))
    }

    /// `getsockopt(fd, SOL_TCP, TCP_INFO, {tcpi_state=STATE, tcpi_snd_cwnd=N, …}, len)`:
    /// each field is compared with the descriptor's connection's `tcp_info`
    /// (see [`code::FIELDS`]); a field written `...` is not; any other field
    /// is unsupported, named.
    fn tcp_info(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 5)?;
        let Some(Expr::Struct(fields)) = call.args.get(3) else {
            return Err(ScriptError::unsupported(line, "TCP_INFO without a `{tcpi_…=…}` struct"));
        };
        let Some(f) = self.fds.get(&fd) else { return done(Err(libc::EBADF)) };
        let snap = match f.sock {
            Sock::Conn(c) => {
                let state = self.stack.tcp_sockets().iter().find(|s| s.handle == c).map(|s| s.state);
                self.snapshot(state.map_or("CLOSED", shell::freebsd_state), Some(c))
            }
            Sock::Listener(_) => self.snapshot("LISTEN", None),
            Sock::Fresh | Sock::Udp(_) => self.snapshot("CLOSED", None),
        };
        for (name, value) in fields {
            let (actual, want) = match (name.as_str(), value) {
                (_, Expr::Ellipsis) => continue,
                ("tcpi_state", Expr::Name(want)) => {
                    let want = code::state(want)
                        .ok_or_else(|| ScriptError::unsupported(line, format!("tcpi_state `{want}`")))?;
                    (snap.state.to_string(), want.to_string())
                }
                (field, Expr::Int(want)) if code::field(field).is_some() => {
                    let actual = snap.get(field).map_or_else(|| "unknown (no connection)".into(), |v| v.to_string());
                    (actual, want.to_string())
                }
                (field, _) if code::field(field).is_some() => {
                    return Err(ScriptError::unsupported(
                        line,
                        format!("tcp_info field `{field}` not set to an integer"),
                    ))
                }
                (field, _) => {
                    return Err(ScriptError::unsupported(
                        line,
                        format!("tcp_info field `{field}` (not in the stack's tcp_info snapshot)"),
                    ))
                }
            };
            if actual != want {
                return Err(ScriptError::mismatch(line, format!("TCP_INFO {name} is {actual} instead of {want}")));
            }
        }
        done(Ok(0))
    }

    /// `setsockopt(fd, SOL_SOCKET, SO_LINGER, {l_onoff=N, l_linger=M}, len)`: off,
    /// or on with 0 s (close resets). A linger time the stack would have to wait
    /// out is unsupported.
    fn set_linger(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        let Some(Expr::Struct(fields)) = call.args.get(3) else {
            return Err(ScriptError::parse(line, "SO_LINGER takes `{l_onoff=N, l_linger=M}`"));
        };
        let field = |name: &str| -> Result<i64> {
            let (_, value) = fields
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| ScriptError::parse(line, format!("SO_LINGER needs `{name}`")))?;
            eval(line, value)?.ok_or_else(|| ScriptError::parse(line, format!("`{name}` needs a value")))
        };
        let (onoff, linger) = (field("l_onoff")?, field("l_linger")?);
        if onoff != 0 && linger != 0 {
            return Err(ScriptError::unsupported(line, "SO_LINGER with a time other than 0 (close would block)"));
        }
        let Some(f) = self.fds.get_mut(&fd) else { return done(Err(libc::EBADF)) };
        f.linger_zero = onoff != 0;
        done(Ok(0))
    }

    /// `getsockopt(fd, SOL_SOCKET, SO_ERROR | SO_RCVBUF | SO_SNDBUF, [expected], [4])`:
    /// the value is compared with the script's. `SO_ERROR` is the pending error; the
    /// buffer sizes are what a new connection of a fresh socket or a listener gets
    /// (the configuration, or `SO_SNDBUF` as set), and a connection's own.
    pub(super) fn getsockopt(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 5)?;
        let level = arg_int(line, call, 1)?;
        let opt = arg_int(line, call, 2)?;
        if (level, opt) == (i64::from(libc::IPPROTO_TCP), i64::from(libc::TCP_INFO)) {
            return self.tcp_info(line, call, fd);
        }
        let sol = i64::from(libc::SOL_SOCKET);
        let option = match (level, opt) {
            (l, o) if l == sol && o == i64::from(libc::SO_ERROR) => "SO_ERROR",
            (l, o) if l == sol && o == i64::from(libc::SO_RCVBUF) => "SO_RCVBUF",
            (l, o) if l == sol && o == i64::from(libc::SO_SNDBUF) => "SO_SNDBUF",
            _ => return Err(ScriptError::unsupported(line, format!("getsockopt option {level}/{opt}"))),
        };
        let want = arg_int(line, call, 3)?;
        let Some(f) = self.fds.get(&fd) else { return done(Err(libc::EBADF)) };
        let tcp = &self.profile.config.tcp;
        let (rcv, snd) = match f.sock {
            Sock::Conn(h) | Sock::Listener(h) => {
                self.stack.tcp_buffer_sizes(h).unwrap_or((tcp.recv_buffer, tcp.send_buffer))
            }
            Sock::Fresh | Sock::Udp(_) => f.buffers.reported(tcp, (tcp.recv_buffer, tcp.send_buffer)),
        };
        let (got, show): (i64, fn(i64) -> String) = match (option, f.sock) {
            ("SO_ERROR", Sock::Conn(c)) => {
                let error = match self.stack.tcp_connect_status(c) {
                    Ok(()) => 0,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => errno_of(&e),
                };
                (i64::from(error), |v| errno_name(i32::try_from(v).unwrap_or(i32::MAX)))
            }
            ("SO_ERROR", _) => (0, |v| errno_name(i32::try_from(v).unwrap_or(i32::MAX))),
            ("SO_RCVBUF", _) => (rcv as i64, |v| v.to_string()),
            _ => (snd as i64, |v| v.to_string()),
        };
        if got != want {
            return Err(ScriptError::mismatch(
                line,
                format!("getsockopt {option} is {} instead of {}", show(got), show(want)),
            ));
        }
        done(Ok(0))
    }
}
