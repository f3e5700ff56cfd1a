//! The scripted program: file descriptors, system calls, and calls that block.
//!
//! # The socket-call model
//!
//! Each call of the script becomes calls on the [`Stack`](crate::Stack)'s socket
//! API. File descriptors are the runner's own ([`Fd`]): numbered from 3 like a
//! process's, each a fresh socket, a listener, a connection or a UDP socket
//! (`udp.rs`), with the flags
//! that live on a descriptor in a real kernel (`O_NONBLOCK`) and the socket
//! options set before the connection exists (applied when it does). Results are
//! compared as numbers: a value, or -1 and an errno ([`super::errno`]).
//!
//! One function per family of calls: `socket`; `bind`/`listen`/`accept`;
//! `connect`; `read`/`recv`/`recvfrom`/`readv` and their writing twins;
//! `close`/`shutdown`; `fcntl`; `setsockopt`/`getsockopt` (`sockopt.rs`). Any
//! other call is unsupported, with its name. `table.rs` answers the questions
//! `sockstat` and `%{ tcpi_state }%` ask.
//! Addresses are always the profile's: `bind(3, ..., ...)` and
//! `connect(3, ..., ...)`; an explicit address is unsupported. In an
//! `ipv4-mapped-ipv6` script they are the IPv4 ones written IPv4-mapped
//! (`Profile::socket_ip`), so the sockets are the stack's IPv6 sockets.
//!
//! # Blocking calls
//!
//! A call on a blocking socket (no `O_NONBLOCK`) that cannot complete yet —
//! `accept` with an empty queue, `read` with no data, `connect` before the
//! handshake, a `write` larger than the send buffer has room for — is
//! *pending*: the runner carries on with the following events and retries the
//! call ([`Runner::retry_pending`]) after every packet and timer, at the virtual
//! time that happened. When it completes its result is checked, and so is the
//! time: a call written `0.1...0.3 read(...)` must return at 0.3 ± tolerance;
//! one written with a single time must return within the tolerance, as
//! packetdrill requires. As in packetdrill, only one call may block at a time;
//! one still pending when the script ends fails it.
//!
//! # Bounds and cost
//!
//! Descriptors live in an ordered map; a new one takes the lowest free number,
//! O(open descriptors). A `read` or `write` allocates a buffer of the size the
//! script names (its bytes are zeros going out and ignored coming in).

mod poll;
mod sockopt;
mod table;
mod udp;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use super::args::{arg_int, arg_value, eval, expect_args, require_ellipsis};
use super::ast::{Call, Event, Expr};
use super::clock::{fmt_time, Clock};
use super::errno::{errno_name, errno_of, errno_value};
use super::error::{Result, ScriptError};
use super::run::Runner;
use crate::config::Keepalive;
use crate::config::SocketBuffers;
use crate::shared::TcpHandle;
use crate::shared::UdpHandle;

/// One file descriptor of the scripted program.
#[derive(Clone, Copy)]
pub(super) struct Fd {
    sock: Sock,
    nonblocking: bool,
    nodelay: bool,
    /// `SO_RCVBUF`/`SO_SNDBUF` set before `listen` or `connect`.
    buffers: SocketBuffers,
    /// `SO_LINGER` with `l_onoff=1, l_linger=0`: `close` resets the connection.
    linger_zero: bool,
    /// Keepalive as `SO_KEEPALIVE`/`TCP_KEEP*` set it before the connection
    /// exists (applied on `connect`, inherited on `accept`).
    keepalive: Option<Keepalive>,
    /// `TCP_USER_TIMEOUT` set before the connection exists.
    user_timeout: Option<Option<Duration>>,
}

#[derive(Clone, Copy)]
enum Sock {
    /// `socket()` done; not yet listening or connected.
    Fresh,
    Listener(TcpHandle),
    Conn(TcpHandle),
    /// A UDP socket, once bound (by `bind`, or `connect` choosing a port).
    Udp(Option<UdpHandle>),
}

/// A call that may have to wait.
#[derive(Clone, Copy)]
pub(super) enum Op {
    Accept {
        listener: TcpHandle,
        nodelay: bool,
        keepalive: Option<Keepalive>,
        user_timeout: Option<Option<Duration>>,
    },
    Connect(TcpHandle),
    Read {
        conn: TcpHandle,
        len: usize,
    },
    Write {
        conn: TcpHandle,
        len: usize,
        done: usize,
    },
    /// A datagram for a buffer of `len` bytes (the rest of a longer one is lost).
    UdpRecv {
        socket: UdpHandle,
        len: usize,
    },
    /// `poll`: until a descriptor is ready or the timeout passes.
    Poll(poll::PollSet),
}

/// A blocking call waiting to complete.
pub(super) struct Pending {
    pub line: usize,
    call: Call,
    op: Op,
    /// Script time it must return by.
    pub due: u64,
    /// Whether it was written `start...end` (else: a single time).
    explicit_end: bool,
}

/// What a call returned: a value, or an errno.
type CallResult = std::result::Result<i64, i32>;

/// A call either returned, or waits.
pub(super) enum Outcome {
    Done(CallResult),
    Block(Op),
}

/// The names [`Runner::start_call`] knows besides `socket`; each takes a
/// descriptor first.
const FD_CALLS: &[&str] = &[
    "bind",
    "listen",
    "accept",
    "connect",
    "read",
    "recv",
    "recvfrom",
    "readv",
    "write",
    "send",
    "sendto",
    "writev",
    "close",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "fcntl",
];

fn done(r: CallResult) -> Result<Outcome> {
    Ok(Outcome::Done(r))
}

/// A call that cannot complete yet: `errno` on a non-blocking descriptor, else it
/// waits.
fn block_or(f: &Fd, op: Op, errno: i32) -> Outcome {
    if f.nonblocking {
        Outcome::Done(Err(errno))
    } else {
        Outcome::Block(op)
    }
}

impl Runner {
    /// Make `call`, written on `ev`, at `at`: check its result now, or leave it
    /// pending.
    pub(super) fn call(&mut self, ev: &Event, call: &Call, at: u64) -> Result<()> {
        if let Some(p) = &self.pending {
            return Err(ScriptError::unsupported(
                ev.line,
                format!("`{}` while the call on line {} still blocks (one blocking call at a time)", call.name, p.line),
            ));
        }
        let line = ev.line;
        let due = ev.end.map_or(at, |e| Clock::resolve_end(e, at));
        match self.start_call(line, call)? {
            Outcome::Done(result) => {
                self.collect();
                if ev.end.is_some() && self.clock.early(due) {
                    return Err(ScriptError::mismatch(
                        line,
                        format!(
                            "`{}` returned at once ({}), the script expects it to block until {}",
                            call.name,
                            fmt_time(self.clock.now),
                            fmt_time(due)
                        ),
                    ));
                }
                check_result(line, call, result)
            }
            Outcome::Block(op) => {
                self.pending = Some(Pending { line, call: call.clone(), op, due, explicit_end: ev.end.is_some() });
                self.collect();
                Ok(())
            }
        }
    }

    /// Retry the pending call, if any; when it completes, check its time and result.
    pub(super) fn retry_pending(&mut self) -> Result<()> {
        let Some(p) = &self.pending else { return Ok(()) };
        let (result, op) = self.try_op(p.op);
        if let Some(p) = &mut self.pending {
            p.op = op;
        }
        let Some(result) = result else { return Ok(()) };
        let Some(p) = self.pending.take() else { return Ok(()) };
        if !self.clock.on_time(p.due) {
            let expected = if p.explicit_end { "return" } else { "not block beyond the tolerance and return" };
            return Err(ScriptError::mismatch(
                p.line,
                format!(
                    "blocking `{}` returned at {}; the script expects it to {expected} at {} (tolerance {})",
                    p.call.name,
                    fmt_time(self.clock.now),
                    fmt_time(p.due),
                    fmt_time(self.clock.tolerance)
                ),
            ));
        }
        self.collect();
        if let Op::Poll(set) = &p.op {
            self.check_revents(p.line, set)?;
        }
        check_result(p.line, &p.call, result)
    }

    /// When the pending call gives up by itself (a `poll` timeout), in script
    /// time: the runner's clock must stop there even if the stack has no timer.
    pub(super) fn pending_deadline(&self) -> Option<u64> {
        match self.pending.as_ref()?.op {
            Op::Poll(set) => set.until,
            _ => None,
        }
    }

    /// Try a call that may wait: `None` if it still would, with the call's progress.
    fn try_op(&mut self, op: Op) -> (Option<CallResult>, Op) {
        let now = self.clock.instant();
        let result = match op {
            Op::Accept { listener, nodelay, keepalive, user_timeout } => match self.stack.tcp_accept(listener) {
                Ok((conn, _)) => {
                    let _ = self.stack.tcp_set_nodelay(conn, nodelay);
                    self.apply_timers(conn, keepalive, user_timeout);
                    let fd = self.new_fd(Sock::Conn(conn));
                    if let Some(f) = self.fds.get_mut(&fd) {
                        f.nodelay = nodelay;
                    }
                    Some(Ok(fd))
                }
                Err(e) => would_block(e),
            },
            Op::Connect(conn) => match self.stack.tcp_connect_status(conn) {
                Ok(()) => Some(Ok(0)),
                Err(e) => would_block(e),
            },
            Op::Read { conn, len } => {
                let mut buf = vec![0; len];
                match self.stack.tcp_recv(now, conn, &mut buf) {
                    Ok(n) => Some(Ok(n as i64)),
                    Err(e) => would_block(e),
                }
            }
            Op::UdpRecv { socket, len } => match self.stack.udp_recv(socket) {
                Ok(datagram) => Some(Ok(datagram.data.len().min(len) as i64)),
                Err(e) => would_block(e),
            },
            Op::Poll(set) => self.try_poll(&set).map(Ok),
            Op::Write { conn, len, done } => match self.stack.tcp_send(now, conn, &vec![0; len - done]) {
                Ok(n) if done + n == len => Some(Ok(len as i64)),
                Ok(n) => return (None, Op::Write { conn, len, done: done + n }),
                Err(e) if done > 0 && e.kind() != io::ErrorKind::WouldBlock => Some(Ok(done as i64)),
                Err(e) => would_block(e),
            },
        };
        (result, op)
    }

    /// Keepalive and user timeout set on a descriptor before its connection existed.
    fn apply_timers(&mut self, conn: TcpHandle, keepalive: Option<Keepalive>, user_timeout: Option<Option<Duration>>) {
        let now = self.clock.instant();
        if let Some(k) = keepalive {
            let _ = self.stack.tcp_set_keepalive(now, conn, k);
        }
        if let Some(limit) = user_timeout {
            let _ = self.stack.tcp_set_user_timeout(now, conn, limit);
        }
    }

    /// The lowest free descriptor, from 3, now holding `sock`.
    fn new_fd(&mut self, sock: Sock) -> i64 {
        let fd = (3..).find(|fd| !self.fds.contains_key(fd)).unwrap_or(3);
        self.fds.insert(
            fd,
            Fd {
                sock,
                nonblocking: false,
                nodelay: false,
                buffers: SocketBuffers::default(),
                linger_zero: false,
                keepalive: None,
                user_timeout: None,
            },
        );
        fd
    }

    /// Start a call: its outcome now, or the operation to wait on.
    fn start_call(&mut self, line: usize, call: &Call) -> Result<Outcome> {
        let name = call.name.as_str();
        if name == "socket" {
            return self.socket(line, call);
        }
        if name == "poll" {
            return self.poll(line, call);
        }
        if !FD_CALLS.contains(&name) {
            return Err(ScriptError::unsupported(line, format!("system call `{name}`")));
        }
        let fd = arg_int(line, call, 0)?;
        let Some(&f) = self.fds.get(&fd) else { return done(Err(libc::EBADF)) };
        match name {
            "bind" if matches!(f.sock, Sock::Udp(None)) => self.udp_bind(line, call, fd),
            "bind" => bind(line, call, &f),
            "listen" => self.listen(line, call, fd, &f),
            "accept" => self.accept(line, call, &f),
            "connect" => self.connect(line, call, fd, &f),
            "read" | "recv" | "recvfrom" | "readv" | "write" | "send" | "sendto" | "writev" => {
                self.transfer(line, call, &f)
            }
            "close" => self.close(line, call, fd),
            "shutdown" => self.shutdown(line, call, &f),
            "setsockopt" => self.setsockopt(line, call, fd),
            "getsockopt" => self.getsockopt(line, call, fd),
            _ => self.fcntl(line, call, fd),
        }
    }

    /// `socket(AF_INET or ..., SOCK_STREAM | SOCK_DGRAM, ...)`.
    fn socket(&mut self, line: usize, call: &Call) -> Result<Outcome> {
        expect_args(line, call, 3)?;
        let domain = arg_value(line, call, 0)?;
        let kind = arg_value(line, call, 1)?;
        // The script's IP version decides the family (`...` is either):
        // `AF_INET6` over IPv6 and in an `ipv4-mapped-ipv6` script, whose
        // sockets are IPv6 ones naming IPv4 addresses as `::ffff:a.b.c.d`.
        let v6_sockets = self.profile.ipv6 || self.profile.v4_mapped;
        let family = if v6_sockets { libc::AF_INET6 } else { libc::AF_INET };
        if domain == Some(i64::from(libc::AF_INET6)) && !v6_sockets {
            return Err(ScriptError::unsupported(
                line,
                "IPv6 sockets (AF_INET6) in an IPv4 script (--ip_version=ipv4-mapped-ipv6 runs them over IPv4)",
            ));
        }
        if domain.is_some_and(|d| d != i64::from(family)) {
            return Err(ScriptError::unsupported(line, "a socket domain other than the script's IP version"));
        }
        if kind == Some(i64::from(libc::SOCK_DGRAM)) {
            return done(Ok(self.new_fd(Sock::Udp(None))));
        }
        if kind != Some(i64::from(libc::SOCK_STREAM)) {
            return Err(ScriptError::unsupported(line, "socket types other than SOCK_STREAM and SOCK_DGRAM"));
        }
        done(Ok(self.new_fd(Sock::Fresh)))
    }

    /// `listen(fd, backlog)` on the profile's local address and port.
    fn listen(&mut self, line: usize, call: &Call, fd: i64, f: &Fd) -> Result<Outcome> {
        expect_args(line, call, 2)?;
        let backlog = arg_int(line, call, 1)?;
        if matches!(f.sock, Sock::Udp(_)) {
            return done(Err(libc::EOPNOTSUPP));
        }
        if !matches!(f.sock, Sock::Fresh) {
            return done(Err(libc::EINVAL));
        }
        let addr = SocketAddr::new(self.profile.socket_ip(self.profile.local_ip()), self.profile.local_port);
        match self.stack.tcp_listen(addr, usize::try_from(backlog).unwrap_or(0)) {
            Ok(handle) => {
                // Sizes set before `listen` are the listener's, for the
                // connections it accepts.
                if let Some(bytes) = f.buffers.recv {
                    let _ = self.stack.tcp_set_recv_buffer(handle, bytes);
                }
                if let Some(bytes) = f.buffers.send {
                    let _ = self.stack.tcp_set_send_buffer(handle, bytes);
                }
                self.matcher.tuple.local_port = self.profile.local_port;
                self.matcher.tuple.remote_port = self.profile.remote_port;
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.sock = Sock::Listener(handle);
                }
                done(Ok(0))
            }
            Err(e) => done(Err(errno_of(&e))),
        }
    }

    /// `accept(fd, ..., ...)`: the next established connection; may block.
    fn accept(&mut self, line: usize, call: &Call, f: &Fd) -> Result<Outcome> {
        expect_args(line, call, 3)?;
        if matches!(f.sock, Sock::Udp(_)) {
            return done(Err(libc::EOPNOTSUPP));
        }
        let Sock::Listener(listener) = f.sock else { return done(Err(libc::EINVAL)) };
        let op = Op::Accept { listener, nodelay: f.nodelay, keepalive: f.keepalive, user_timeout: f.user_timeout };
        Ok(match self.try_op(op).0 {
            Some(r) => Outcome::Done(r),
            None => block_or(f, op, libc::EAGAIN),
        })
    }

    /// `connect(fd, ..., ...)` to the profile's remote host; may block. The new
    /// connection becomes the one under test.
    fn connect(&mut self, line: usize, call: &Call, fd: i64, f: &Fd) -> Result<Outcome> {
        expect_args(line, call, 3)?;
        require_ellipsis(line, call, 1, "explicit socket addresses (`...` connects to the profile's remote host)")?;
        let conn = match f.sock {
            Sock::Udp(socket) => return self.udp_connect(fd, socket),
            Sock::Listener(_) => return done(Err(libc::EINVAL)),
            Sock::Conn(conn) => {
                return done(match self.stack.tcp_connect_status(conn) {
                    Ok(()) => Err(libc::EISCONN),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(libc::EALREADY),
                    Err(e) => Err(errno_of(&e)),
                })
            }
            Sock::Fresh => {
                let remote =
                    SocketAddr::new(self.profile.socket_ip(self.profile.remote_ip()), self.profile.connect_port);
                match self.stack.tcp_connect_with(self.clock.instant(), remote, f.buffers) {
                    Ok(conn) => conn,
                    Err(e) => return done(Err(errno_of(&e))),
                }
            }
        };
        if let Ok(local) = self.stack.tcp_local_addr(conn) {
            self.matcher.tuple.local_port = local.port();
        }
        self.matcher.tuple.remote_port = self.profile.connect_port;
        self.matcher.isn = None;
        let _ = self.stack.tcp_set_nodelay(conn, f.nodelay);
        self.apply_timers(conn, f.keepalive, f.user_timeout);
        if let Some(f) = self.fds.get_mut(&fd) {
            f.sock = Sock::Conn(conn);
        }
        let op = Op::Connect(conn);
        Ok(match self.try_op(op).0 {
            Some(r) => Outcome::Done(r),
            None => block_or(f, op, libc::EINPROGRESS),
        })
    }

    /// `read`/`write(fd, ..., count)`, `recv`/`send(fd, ..., count[, 0])`,
    /// `recvfrom`/`sendto(fd, ..., count, 0, ..., ...)` and
    /// `readv`/`writev(fd, [{iov_base=..., iov_len=N}, …], count)`; may block. A
    /// non-blocking write that fits only partly returns what it wrote.
    fn transfer(&mut self, line: usize, call: &Call, f: &Fd) -> Result<Outcome> {
        let name = call.name.as_str();
        let len = match name {
            "readv" | "writev" => io_vector_len(line, call)?,
            _ => {
                let (usage, flags_at) = match name {
                    "recv" | "send" => ("(fd, ..., count[, flags])", (call.args.len() == 4).then_some(3)),
                    "recvfrom" | "sendto" => ("(fd, ..., count, flags, ..., ...)", Some(3)),
                    _ => ("(fd, ..., count)", None),
                };
                let arity_ok = match name {
                    "recv" | "send" => matches!(call.args.len(), 3 | 4),
                    "recvfrom" | "sendto" => call.args.len() == 6,
                    _ => call.args.len() == 3,
                };
                if !arity_ok {
                    return Err(ScriptError::parse(line, format!("`{name}` takes {usage}")));
                }
                if let Some(i) = flags_at {
                    if arg_value(line, call, i)? != Some(0) {
                        return Err(ScriptError::unsupported(line, format!("`{name}` flags other than 0")));
                    }
                }
                if matches!(name, "recvfrom" | "sendto") {
                    require_ellipsis(line, call, 4, "explicit socket addresses (`...` is the connection's peer)")?;
                }
                usize::try_from(arg_int(line, call, 2)?)
                    .map_err(|_| ScriptError::parse(line, "a byte count cannot be negative"))?
            }
        };
        let reading = matches!(name, "read" | "recv" | "recvfrom" | "readv");
        if let Sock::Udp(socket) = f.sock {
            return self.udp_transfer(socket, f, reading, name == "sendto", len);
        }
        let Sock::Conn(conn) = f.sock else { return done(Err(libc::ENOTCONN)) };
        let op = if reading { Op::Read { conn, len } } else { Op::Write { conn, len, done: 0 } };
        Ok(match self.try_op(op) {
            (Some(r), _) => Outcome::Done(r),
            (None, Op::Write { done, .. }) if f.nonblocking && done > 0 => Outcome::Done(Ok(done as i64)),
            (None, op) => block_or(f, op, libc::EAGAIN),
        })
    }

    /// `close(fd)`: the descriptor goes; a connection closes (FIN, or RST after
    /// `SO_LINGER` 0), a listener stops.
    fn close(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 1)?;
        let now = self.clock.instant();
        if let Some(f) = self.fds.remove(&fd) {
            match f.sock {
                Sock::Fresh | Sock::Udp(None) => {}
                Sock::Udp(Some(u)) => self.stack.udp_close(u),
                Sock::Listener(l) => self.stack.tcp_close_listener(now, l),
                // SO_LINGER 0: an abortive close, RST (RFC 9293 §3.10.5 ABORT).
                Sock::Conn(c) if f.linger_zero => self.stack.tcp_abort(now, c),
                Sock::Conn(c) => self.stack.tcp_close(now, c),
            }
        }
        done(Ok(0))
    }

    /// `shutdown(fd, SHUT_RD | SHUT_WR | SHUT_RDWR)`.
    fn shutdown(&mut self, line: usize, call: &Call, f: &Fd) -> Result<Outcome> {
        expect_args(line, call, 2)?;
        let how = match arg_value(line, call, 1)? {
            Some(v) if v == i64::from(libc::SHUT_RD) => Shutdown::Read,
            Some(v) if v == i64::from(libc::SHUT_WR) => Shutdown::Write,
            Some(v) if v == i64::from(libc::SHUT_RDWR) => Shutdown::Both,
            _ => return Err(ScriptError::parse(line, "shutdown needs SHUT_RD, SHUT_WR or SHUT_RDWR")),
        };
        let Sock::Conn(conn) = f.sock else { return done(Err(libc::ENOTCONN)) };
        let now = self.clock.instant();
        done(self.stack.tcp_shutdown(now, conn, how).map(|()| 0).map_err(|e| errno_of(&e)))
    }

    /// `fcntl(fd, F_GETFL)` and `fcntl(fd, F_SETFL, flags)`: only `O_NONBLOCK` matters.
    fn fcntl(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        let cmd = arg_value(line, call, 1)?;
        let Some(f) = self.fds.get_mut(&fd) else { return done(Err(libc::EBADF)) };
        if cmd == Some(i64::from(libc::F_GETFL)) {
            expect_args(line, call, 2)?;
            let flags = i64::from(libc::O_RDWR) | if f.nonblocking { i64::from(libc::O_NONBLOCK) } else { 0 };
            return done(Ok(flags));
        }
        if cmd != Some(i64::from(libc::F_SETFL)) {
            return Err(ScriptError::unsupported(line, "fcntl commands other than F_GETFL and F_SETFL"));
        }
        expect_args(line, call, 3)?;
        let flags = arg_int(line, call, 2)?;
        f.nonblocking = flags & i64::from(libc::O_NONBLOCK) != 0;
        done(Ok(0))
    }
}

/// `bind(fd, ..., ...)`: to the profile's local address (for TCP the listen does
/// the work).
fn bind(line: usize, call: &Call, f: &Fd) -> Result<Outcome> {
    expect_args(line, call, 3)?;
    require_ellipsis(line, call, 1, "explicit socket addresses (`...` binds the profile's local address)")?;
    done(if matches!(f.sock, Sock::Fresh) { Ok(0) } else { Err(libc::EINVAL) })
}

/// The total of `readv`/`writev`'s `[{iov_base=..., iov_len=N}, …]`, checked
/// against its count argument.
fn io_vector_len(line: usize, call: &Call) -> Result<usize> {
    expect_args(line, call, 3)?;
    let Some(Expr::List(items)) = call.args.get(1) else {
        return Err(ScriptError::parse(
            line,
            format!("`{}` takes (fd, [{{iov_base=..., iov_len=N}}, …], count)", call.name),
        ));
    };
    let mut total = 0usize;
    for item in items {
        let Expr::Struct(fields) = item else {
            return Err(ScriptError::parse(line, "an I/O vector entry is `{iov_base=..., iov_len=N}`"));
        };
        let len = fields
            .iter()
            .find(|(name, _)| name == "iov_len")
            .ok_or_else(|| ScriptError::parse(line, "an I/O vector entry needs `iov_len`"))?;
        let len = eval(line, &len.1)?.ok_or_else(|| ScriptError::parse(line, "`iov_len` needs a value"))?;
        let len = usize::try_from(len).map_err(|_| ScriptError::parse(line, "a byte count cannot be negative"))?;
        total = total.saturating_add(len);
    }
    if usize::try_from(arg_int(line, call, 2)?).ok() != Some(items.len()) {
        return Err(ScriptError::parse(line, format!("`{}`'s count is not the number of entries", call.name)));
    }
    Ok(total)
}

/// `None` for "would block", else the call's errno.
fn would_block(e: io::Error) -> Option<CallResult> {
    (e.kind() != io::ErrorKind::WouldBlock).then(|| Err(errno_of(&e)))
}

/// Compare a call's result with the script's `= ret [ERRNO]`.
fn check_result(line: usize, call: &Call, got: CallResult) -> Result<()> {
    let expected = match &call.errno {
        Some(errno) => format!("-1 {errno}"),
        None => call.ret.to_string(),
    };
    let actual = match got {
        Ok(v) => v.to_string(),
        Err(errno) => format!("-1 {}", errno_name(errno)),
    };
    let same = match (&call.errno, got) {
        (Some(name), Err(errno)) => errno_value(name) == Some(errno),
        (None, Ok(v)) => v == call.ret,
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(ScriptError::mismatch(line, format!("`{}` returned {actual}, the script expects {expected}", call.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ErrorKind;

    fn call(ret: i64, errno: Option<&str>) -> Call {
        Call { name: "read".into(), args: vec![], ret, errno: errno.map(String::from) }
    }

    #[test]
    fn results_compare_as_values_or_errnos() {
        assert!(check_result(1, &call(10, None), Ok(10)).is_ok());
        assert!(check_result(1, &call(-1, Some("EAGAIN")), Err(libc::EAGAIN)).is_ok());
        assert!(check_result(1, &call(-1, Some("EWOULDBLOCK")), Err(libc::EAGAIN)).is_ok(), "an alias");
        let e = check_result(3, &call(10, None), Ok(9)).expect_err("value");
        assert_eq!((e.kind, e.line), (ErrorKind::Mismatch, 3));
        assert_eq!(e.message, "`read` returned 9, the script expects 10");
        let e = check_result(3, &call(-1, Some("ECONNRESET")), Err(libc::EAGAIN)).expect_err("errno");
        assert_eq!(e.message, "`read` returned -1 EAGAIN, the script expects -1 ECONNRESET");
        assert!(check_result(3, &call(-1, Some("ECONNRESET")), Ok(-1)).is_err(), "-1 is not an errno");
        assert!(check_result(3, &call(0, None), Err(0)).is_err());
    }

    #[test]
    fn would_block_is_not_a_result() {
        assert_eq!(would_block(io::ErrorKind::WouldBlock.into()), None);
        assert_eq!(would_block(io::ErrorKind::ConnectionReset.into()), Some(Err(libc::ECONNRESET)));
    }
}
