//! Executing a [`Script`] against the sans-IO [`Stack`] in virtual time.
//!
//! The runner plays everything outside the stack: the program making socket calls
//! and the remote host sending and receiving segments. Time is a number the runner
//! owns; nothing sleeps, so a script that spans minutes of TCP timers runs in
//! microseconds.
//!
//! # Time
//!
//! Script time 0 is the start. Before each inbound packet or system call the runner
//! moves the clock forward to the event's time, running every stack timer that falls
//! due on the way (each at its own deadline, as a real clock would). An outbound
//! packet `>` is looked for the same way: the clock runs, timer by timer, until the
//! stack sends something or the event's time plus the tolerance has passed. The
//! packet must then have been sent within `[time − tolerance, time + tolerance]`
//! (packetdrill's rule; 4 ms unless `--tolerance_usecs=` says otherwise). A relative
//! time `+0.1` counts from the previous event's *scripted* time, or from the moment
//! it actually happened when that event was `*` or a range `a~b`.
//!
//! Every packet the stack sends must be expected: one that is still unclaimed when
//! the next inbound packet or call comes, or when the script ends, fails the script.
//! (packetdrill only notices extra packets at the next `>`; we are stricter.) The
//! script ends at its last event: timers after it are not run.
//!
//! # Blocking calls
//!
//! A call on a blocking socket (no `O_NONBLOCK`) that cannot complete yet — `accept`
//! with an empty queue, `read` with no data, `connect` before the handshake, a
//! `write` larger than the send buffer has room for — is *pending*: the runner
//! carries on with the following events and retries the call after every packet and
//! timer, at the virtual time that happened. When it completes its result is checked,
//! and so is the time: a call written `0.1...0.3 read(...)` must return at 0.3 ±
//! tolerance; one written with a single time must return within the tolerance, as
//! packetdrill requires. As in packetdrill, only one call may block at a time; one
//! still pending when the script ends fails it.
//!
//! # Sequence numbers and timestamps
//!
//! As packetdrill: the script picks the remote host's numbers, written absolute; the
//! stack's are written relative to its ISN, which the runner learns from the SYN or
//! SYN,ACK it sends. So an outbound `seq` and an inbound `ack` (and inbound SACK
//! blocks) are relative; an outbound `ack` and SACK blocks are absolute.
//!
//! The stack's TSval is a per-connection clock (RFC 7323 §5.4) a script cannot
//! predict, so an outbound `TS val` is **not compared** (packetdrill ignores it too
//! unless told the clock rate). The runner remembers which actual TSval each
//! scripted one stood for, and rewrites the `ecr` of inbound packets accordingly: an
//! inbound `TS ecr 100` echoes whatever the stack sent where the script said
//! `TS val 100` (or, for a value never seen, the script value shifted by the latest
//! difference). An outbound `TS ecr` is compared exactly: it echoes the script's own
//! TSval.
//!
//! # One connection
//!
//! The runner talks to one connection at a time, on the profile's 4-tuple: a
//! passive open accepts segments from `remote:remote_port` to `local:local_port`;
//! an active open is to `remote:connect_port` from the stack's ephemeral port.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, SocketAddrV4};

use etherparse::TcpOptionElement;

use super::ast::*;
use super::error::{Result, ScriptError};
use super::packet::{self, flag_letters, Seg, Sent};
use super::Profile;
use crate::shared::TcpHandle;
use crate::stack::Stack;
use crate::time::Instant;

/// Where script time 0 sits on the stack's clock.
const EPOCH: Instant = Instant::from_millis(1_000);

/// Stack timers run while looking for one packet before the runner gives up (a
/// timer that re-arms itself at the same instant would otherwise spin forever).
const MAX_TIMER_STEPS: usize = 100_000;

/// Remembered (script TSval, actual TSval) pairs.
const TS_MEMORY: usize = 64;

/// Run a parsed script with `profile`; `Ok` if the stack did everything the script
/// says and nothing else.
pub fn run(script: &Script, profile: &Profile) -> Result<()> {
    let mut runner = Runner::new(script, profile.clone());
    for event in &script.events {
        runner.event(event)?;
    }
    runner.finish(script.events.last().map_or(0, |e| e.line))
}

/// One file descriptor of the scripted program.
struct Fd {
    sock: Sock,
    nonblocking: bool,
    nodelay: bool,
    send_buffer: Option<usize>,
}

enum Sock {
    /// `socket()` done; not yet listening or connected.
    Fresh,
    Listener(TcpHandle),
    Conn(TcpHandle),
}

/// A call that may have to wait.
#[derive(Clone, Copy)]
enum Op {
    Accept { listener: TcpHandle, nodelay: bool },
    Connect(TcpHandle),
    Read { conn: TcpHandle, len: usize },
    Write { conn: TcpHandle, len: usize, done: usize },
}

/// A blocking call waiting to complete.
struct Pending {
    line: usize,
    call: Call,
    op: Op,
    /// Script time it must return by: `(time, whether written as start...end)`.
    due: u64,
    explicit_end: bool,
}

/// What a call returned: a value, or an errno.
type CallResult = std::result::Result<i64, i32>;

struct Runner {
    profile: Profile,
    tolerance: u64,
    stack: Stack,
    /// The clock, in script microseconds.
    now: u64,
    /// Scripted time of the previous event (the base of `+` times).
    prev: u64,
    local_port: u16,
    remote_port: u16,
    /// The stack's ISN on the connection under test, once it sent a SYN.
    isn: Option<u32>,
    ts_map: VecDeque<(u32, u32)>,
    /// Packets the stack sent that no `>` has claimed yet, with when.
    sent: VecDeque<(u64, std::result::Result<Sent, String>)>,
    fds: BTreeMap<i64, Fd>,
    pending: Option<Pending>,
}

impl Runner {
    fn new(script: &Script, profile: Profile) -> Self {
        let stack = Stack::new(profile.config.clone());
        Runner {
            tolerance: script.tolerance_us,
            stack,
            now: 0,
            prev: 0,
            local_port: profile.local_port,
            remote_port: profile.remote_port,
            profile,
            isn: None,
            ts_map: VecDeque::new(),
            sent: VecDeque::new(),
            fds: BTreeMap::new(),
            pending: None,
        }
    }

    fn instant(&self) -> Instant {
        EPOCH + std::time::Duration::from_micros(self.now)
    }

    fn resolve(&self, p: Point) -> u64 {
        match p {
            Point::Absolute(t) => t,
            Point::Relative(d) => self.prev.saturating_add(d),
        }
    }

    fn event(&mut self, ev: &Event) -> Result<()> {
        // The window the event must happen in, and when the runner makes it happen.
        let (lo, hi, at) = match ev.time {
            Time::At(p) => {
                let t = self.resolve(p);
                (t.saturating_sub(self.tolerance), t.saturating_add(self.tolerance), t)
            }
            Time::Range(a, b) => {
                let (a, b) = (self.resolve(a), self.resolve(b));
                if b < a {
                    return Err(ScriptError::parse(ev.line, "a time range must not end before it starts"));
                }
                (a.saturating_sub(self.tolerance), b.saturating_add(self.tolerance), a)
            }
            Time::Any => (self.now, u64::MAX, self.now),
        };
        match &ev.action {
            Action::Packet(spec) if spec.dir == Direction::Outbound => self.outbound(ev, spec, lo, hi, at)?,
            Action::Packet(spec) => {
                self.advance_to(at)?;
                self.no_unclaimed(ev.line)?;
                self.inbound(ev.line, spec)?;
            }
            Action::Call(call) => {
                self.advance_to(at)?;
                self.no_unclaimed(ev.line)?;
                self.call(ev, call, at)?;
            }
        }
        self.prev = match ev.time {
            Time::At(_) => at,
            Time::Range(..) | Time::Any => self.now,
        };
        Ok(())
    }

    /// The script's end: a blocking call still waiting gets until its deadline.
    fn finish(&mut self, last_line: usize) -> Result<()> {
        if let Some(p) = &self.pending {
            let (line, due) = (p.line, p.due);
            self.advance_to(due.saturating_add(self.tolerance))?;
            if self.pending.is_some() {
                return Err(ScriptError::mismatch(
                    line,
                    format!("blocking call never returned (waited until {})", fmt_time(self.now)),
                ));
            }
        }
        self.no_unclaimed(last_line).map_err(|mut e| {
            e.message = format!("at the end of the script: {}", e.message);
            e
        })
    }

    // ---------------------------------------------------------------------------
    // The clock
    // ---------------------------------------------------------------------------

    /// Run the clock to `target`, firing every timer on the way at its deadline.
    fn advance_to(&mut self, target: u64) -> Result<()> {
        self.run_timers(target, false)?;
        self.now = self.now.max(target);
        Ok(())
    }

    /// Fire timers due by `limit`, one deadline at a time; with `until_packet`, stop
    /// as soon as the stack has sent something.
    fn run_timers(&mut self, limit: u64, until_packet: bool) -> Result<()> {
        self.collect();
        self.retry_pending()?;
        for _ in 0..MAX_TIMER_STEPS {
            if until_packet && !self.sent.is_empty() {
                return Ok(());
            }
            let Some(deadline) = self.stack.poll_deadline() else { return Ok(()) };
            let due = deadline.micros().saturating_sub(EPOCH.micros());
            if due > limit {
                return Ok(());
            }
            self.now = self.now.max(due);
            self.stack.handle_timeout(self.instant());
            self.collect();
            self.retry_pending()?;
        }
        Err(ScriptError::mismatch(0, format!("the stack's timers did not settle by {}", fmt_time(limit))))
    }

    /// Take everything the stack sent, stamped with the current time.
    fn collect(&mut self) {
        while let Some(bytes) = self.stack.poll_transmit() {
            self.sent.push_back((self.now, packet::parse(&bytes)));
        }
        while self.stack.poll_event().is_some() {}
    }

    fn no_unclaimed(&mut self, line: usize) -> Result<()> {
        match self.sent.pop_front() {
            None => Ok(()),
            Some((t, Ok(sent))) => {
                let actual = self.show_sent(&sent);
                Err(ScriptError::mismatch(
                    line,
                    format!(
                        "the stack sent a packet the script does not expect:\n  actual: {actual} at {}",
                        fmt_time(t)
                    ),
                ))
            }
            Some((t, Err(e))) => {
                Err(ScriptError::mismatch(line, format!("the stack sent a bad packet at {}: {e}", fmt_time(t))))
            }
        }
    }

    // ---------------------------------------------------------------------------
    // Packets
    // ---------------------------------------------------------------------------

    fn outbound(&mut self, ev: &Event, spec: &PacketSpec, lo: u64, hi: u64, at: u64) -> Result<()> {
        if self.sent.is_empty() {
            self.run_timers(hi, true)?;
        }
        let Some((t, sent)) = self.sent.pop_front() else {
            self.now = self.now.max(hi.min(u64::MAX / 2));
            return Err(ScriptError::mismatch(
                ev.line,
                format!(
                    "expected an outbound packet at {} (tolerance {}), the stack sent nothing\n  script: {spec}",
                    fmt_time(at),
                    fmt_time(self.tolerance)
                ),
            ));
        };
        let sent = sent.map_err(|e| ScriptError::mismatch(ev.line, format!("the stack sent a bad packet: {e}")))?;
        let problem = self.compare(spec, &sent);
        let actual = self.show_sent(&sent);
        if let Some(problem) = problem {
            return Err(ScriptError::mismatch(
                ev.line,
                format!("outbound packet mismatch: {problem}\n  script: {spec}\n  actual: {actual} at {}", fmt_time(t)),
            ));
        }
        if t < lo || t > hi {
            return Err(ScriptError::mismatch(
                ev.line,
                format!(
                    "timing error: expected the packet at {} (tolerance {}), it was sent at {}\n  actual: {actual}",
                    fmt_time(at),
                    fmt_time(self.tolerance),
                    fmt_time(t)
                ),
            ));
        }
        Ok(())
    }

    /// `None` if `sent` is what `spec` describes, else the first difference.
    fn compare(&mut self, spec: &PacketSpec, sent: &Sent) -> Option<String> {
        let (local, remote) = (self.profile.config.addr.octets(), self.profile.remote.octets());
        if sent.src.octets() != local
            || sent.dst.octets() != remote
            || sent.sport != self.local_port
            || sent.dport != self.remote_port
        {
            return Some(format!(
                "sent {}:{} > {}:{}, the connection under test is {}:{} > {}:{}",
                sent.src,
                sent.sport,
                sent.dst,
                sent.dport,
                self.profile.config.addr,
                self.local_port,
                self.profile.remote,
                self.remote_port
            ));
        }
        let seg = &sent.seg;
        if seg.flags.syn {
            self.isn = Some(seg.seq);
        }
        if seg.flags != spec.flags {
            return Some(format!("flags {} instead of {}", flag_letters(seg.flags), flag_letters(spec.flags)));
        }
        let seq = seg.seq.wrapping_sub(self.isn.unwrap_or(0));
        if seq != spec.start {
            return Some(format!("sequence number {seq} instead of {}", spec.start));
        }
        if seg.data.len() != spec.len as usize {
            return Some(format!("payload length {} instead of {}", seg.data.len(), spec.len));
        }
        if let Some(ack) = spec.ack {
            if seg.ack != ack {
                return Some(format!("ack {} instead of {ack}", seg.ack));
            }
        }
        if let Some(win) = spec.win {
            if seg.win != win {
                return Some(format!("window {} instead of {win}", seg.win));
            }
        }
        if seg.opts.len() != spec.options.len() {
            return Some("different TCP options".into());
        }
        let mut learned = Vec::new();
        for (got, want) in seg.opts.iter().zip(&spec.options) {
            let same = match (got, want) {
                (TcpOptionElement::Noop, OptSpec::Nop)
                | (TcpOptionElement::SelectiveAcknowledgementPermitted, OptSpec::SackOk) => true,
                (TcpOptionElement::MaximumSegmentSize(a), OptSpec::Mss(b)) => a == b,
                (TcpOptionElement::WindowScale(a), OptSpec::Wscale(b)) => a == b,
                (TcpOptionElement::Timestamp(val, ecr), OptSpec::Ts { val: want_val, ecr: want_ecr }) => {
                    learned.push((*want_val, *val));
                    ecr == want_ecr
                }
                (TcpOptionElement::SelectiveAcknowledgement(first, rest), OptSpec::Sack(blocks)) => {
                    let got: Vec<(u32, u32)> = std::iter::once(*first).chain(rest.iter().flatten().copied()).collect();
                    got == *blocks
                }
                _ => false,
            };
            if !same {
                return Some(format!("option `{}` instead of `{want}`", packet::option_text(got)));
            }
        }
        for pair in learned {
            self.ts_map.retain(|(script, _)| *script != pair.0);
            self.ts_map.push_back(pair);
            if self.ts_map.len() > TS_MEMORY {
                self.ts_map.pop_front();
            }
        }
        None
    }

    /// An outbound packet as a script line, its sequence number relative.
    fn show_sent(&self, sent: &Sent) -> String {
        let mut seg = sent.seg.clone();
        let isn = if seg.flags.syn { seg.seq } else { self.isn.unwrap_or(0) };
        seg.seq = seg.seq.wrapping_sub(isn);
        let elsewhere = sent.sport != self.local_port || sent.dport != self.remote_port;
        let ports = if elsewhere {
            format!(" ({}:{} > {}:{})", sent.src, sent.sport, sent.dst, sent.dport)
        } else {
            String::new()
        };
        format!("> {seg}{ports}")
    }

    /// The actual TSval the stack sent where the script wrote `ecr`.
    fn map_ecr(&self, ecr: u32) -> u32 {
        if ecr == 0 {
            return 0;
        }
        if let Some((_, actual)) = self.ts_map.iter().find(|(script, _)| *script == ecr) {
            return *actual;
        }
        self.ts_map.back().map_or(ecr, |(script, actual)| ecr.wrapping_add(actual.wrapping_sub(*script)))
    }

    fn inbound(&mut self, line: usize, spec: &PacketSpec) -> Result<()> {
        let isn = self.isn.unwrap_or(0);
        let mut opts = Vec::with_capacity(spec.options.len());
        for o in &spec.options {
            opts.push(match o {
                OptSpec::Nop => TcpOptionElement::Noop,
                OptSpec::Mss(m) => TcpOptionElement::MaximumSegmentSize(*m),
                OptSpec::SackOk => TcpOptionElement::SelectiveAcknowledgementPermitted,
                OptSpec::Wscale(s) => TcpOptionElement::WindowScale(*s),
                OptSpec::Ts { val, ecr } => TcpOptionElement::Timestamp(*val, self.map_ecr(*ecr)),
                OptSpec::Sack(blocks) => {
                    let rel = |(l, r): (u32, u32)| (l.wrapping_add(isn), r.wrapping_add(isn));
                    let mut rest = [None; 3];
                    for (slot, b) in rest.iter_mut().zip(blocks.iter().skip(1)) {
                        *slot = Some(rel(*b));
                    }
                    // The parser allows 1..=4 blocks; etherparse holds at most 4.
                    let first = blocks.first().copied().map(rel).unwrap_or_default();
                    TcpOptionElement::SelectiveAcknowledgement(first, rest)
                }
            });
        }
        let seg = Seg {
            flags: spec.flags,
            seq: spec.start,
            ack: spec.ack.map_or(0, |a| a.wrapping_add(isn)),
            win: spec.win.unwrap_or(0),
            opts,
            data: vec![0; spec.len as usize],
        };
        let bytes = seg
            .to_packet(self.profile.remote, self.remote_port, self.profile.config.addr, self.local_port)
            .map_err(|e| ScriptError::parse(line, e))?;
        let now = self.instant();
        self.stack.input(now, &bytes);
        self.collect();
        self.retry_pending()
    }

    // ---------------------------------------------------------------------------
    // System calls
    // ---------------------------------------------------------------------------

    fn call(&mut self, ev: &Event, call: &Call, at: u64) -> Result<()> {
        if let Some(p) = &self.pending {
            return Err(ScriptError::unsupported(
                ev.line,
                format!("`{}` while the call on line {} still blocks (one blocking call at a time)", call.name, p.line),
            ));
        }
        let line = ev.line;
        let due = ev.end.map_or(at, |e| self.resolve_end(e, at));
        let outcome = self.start_call(line, call)?;
        match outcome {
            Outcome::Done(result) => {
                self.collect();
                if ev.end.is_some() && self.now + self.tolerance < due {
                    return Err(ScriptError::mismatch(
                        line,
                        format!(
                            "`{}` returned at once ({}), the script expects it to block until {}",
                            call.name,
                            fmt_time(self.now),
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

    /// `start...end`: a relative end counts from the start.
    fn resolve_end(&self, end: Point, start: u64) -> u64 {
        match end {
            Point::Absolute(t) => t,
            Point::Relative(d) => start.saturating_add(d),
        }
    }

    fn retry_pending(&mut self) -> Result<()> {
        let Some(p) = &self.pending else { return Ok(()) };
        let op = p.op;
        let (result, op) = self.try_op(op);
        if let Some(p) = &mut self.pending {
            p.op = op;
        }
        let Some(result) = result else { return Ok(()) };
        let Some(p) = self.pending.take() else { return Ok(()) };
        if self.now + self.tolerance < p.due || self.now > p.due + self.tolerance {
            let expected = if p.explicit_end { "return" } else { "not block beyond the tolerance and return" };
            return Err(ScriptError::mismatch(
                p.line,
                format!(
                    "blocking `{}` returned at {}; the script expects it to {expected} at {} (tolerance {})",
                    p.call.name,
                    fmt_time(self.now),
                    fmt_time(p.due),
                    fmt_time(self.tolerance)
                ),
            ));
        }
        self.collect();
        check_result(p.line, &p.call, result)
    }

    /// Try a call that may wait: `None` if it still would.
    fn try_op(&mut self, op: Op) -> (Option<CallResult>, Op) {
        let now = self.instant();
        let result = match op {
            Op::Accept { listener, nodelay } => match self.stack.tcp_accept(listener) {
                Ok((conn, _)) => {
                    let _ = self.stack.tcp_set_nodelay(conn, nodelay);
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
            Op::Write { conn, len, done } => match self.stack.tcp_send(now, conn, &vec![0; len - done]) {
                Ok(n) if done + n == len => Some(Ok(len as i64)),
                Ok(n) => return (None, Op::Write { conn, len, done: done + n }),
                Err(e) if done > 0 && e.kind() != io::ErrorKind::WouldBlock => Some(Ok(done as i64)),
                Err(e) => would_block(e),
            },
        };
        (result, op)
    }

    fn new_fd(&mut self, sock: Sock) -> i64 {
        let fd = (3..).find(|fd| !self.fds.contains_key(fd)).unwrap_or(3);
        self.fds.insert(fd, Fd { sock, nonblocking: false, nodelay: false, send_buffer: None });
        fd
    }

    fn fd_arg(&self, line: usize, call: &Call) -> Result<i64> {
        let fd = arg_int(line, call, 0)?;
        Ok(fd)
    }

    fn start_call(&mut self, line: usize, call: &Call) -> Result<Outcome> {
        let name = call.name.as_str();
        let done = |r: CallResult| Ok(Outcome::Done(r));
        if name == "socket" {
            expect_args(line, call, 3)?;
            let domain = arg_value(line, call, 0)?;
            let kind = arg_value(line, call, 1)?;
            if domain == Some(i64::from(libc::AF_INET6)) {
                return Err(ScriptError::unsupported(line, "IPv6 sockets (AF_INET6)"));
            }
            if domain.is_some_and(|d| d != i64::from(libc::AF_INET)) {
                return Err(ScriptError::unsupported(line, "socket domains other than AF_INET"));
            }
            if kind != Some(i64::from(libc::SOCK_STREAM)) {
                return Err(ScriptError::unsupported(line, "socket types other than SOCK_STREAM (TCP)"));
            }
            return done(Ok(self.new_fd(Sock::Fresh)));
        }
        if !matches!(
            name,
            "bind"
                | "listen"
                | "accept"
                | "connect"
                | "read"
                | "recv"
                | "write"
                | "send"
                | "close"
                | "shutdown"
                | "setsockopt"
                | "getsockopt"
                | "fcntl"
        ) {
            return Err(ScriptError::unsupported(line, format!("system call `{name}`")));
        }
        let fd = self.fd_arg(line, call)?;
        let Some(f) = self.fds.get(&fd) else { return done(Err(libc::EBADF)) };
        let nonblocking = f.nonblocking;
        let block_or = |op: Op, errno: i32| if nonblocking { Outcome::Done(Err(errno)) } else { Outcome::Block(op) };
        let now = self.instant();
        match name {
            "bind" => {
                expect_args(line, call, 3)?;
                require_ellipsis(line, call, 1, "explicit socket addresses (`...` binds the profile's local address)")?;
                done(if matches!(f.sock, Sock::Fresh) { Ok(0) } else { Err(libc::EINVAL) })
            }
            "listen" => {
                expect_args(line, call, 2)?;
                let backlog = arg_int(line, call, 1)?;
                if !matches!(f.sock, Sock::Fresh) {
                    return done(Err(libc::EINVAL));
                }
                let addr = SocketAddr::V4(SocketAddrV4::new(self.profile.config.addr, self.profile.local_port));
                match self.stack.tcp_listen(addr, usize::try_from(backlog).unwrap_or(0)) {
                    Ok(handle) => {
                        self.local_port = self.profile.local_port;
                        self.remote_port = self.profile.remote_port;
                        if let Some(f) = self.fds.get_mut(&fd) {
                            f.sock = Sock::Listener(handle);
                        }
                        done(Ok(0))
                    }
                    Err(e) => done(Err(errno_of(&e))),
                }
            }
            "accept" => {
                expect_args(line, call, 3)?;
                let Sock::Listener(listener) = f.sock else { return done(Err(libc::EINVAL)) };
                let op = Op::Accept { listener, nodelay: f.nodelay };
                Ok(match self.try_op(op).0 {
                    Some(r) => Outcome::Done(r),
                    None => block_or(op, libc::EAGAIN),
                })
            }
            "connect" => {
                expect_args(line, call, 3)?;
                require_ellipsis(
                    line,
                    call,
                    1,
                    "explicit socket addresses (`...` connects to the profile's remote host)",
                )?;
                match f.sock {
                    Sock::Listener(_) => done(Err(libc::EINVAL)),
                    Sock::Conn(conn) => done(match self.stack.tcp_connect_status(conn) {
                        Ok(()) => Err(libc::EISCONN),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(libc::EALREADY),
                        Err(e) => Err(errno_of(&e)),
                    }),
                    Sock::Fresh => {
                        let (nodelay, send_buffer) = (f.nodelay, f.send_buffer);
                        let remote = SocketAddr::V4(SocketAddrV4::new(self.profile.remote, self.profile.connect_port));
                        let conn = match self.stack.tcp_connect(now, remote) {
                            Ok(conn) => conn,
                            Err(e) => return done(Err(errno_of(&e))),
                        };
                        if let Ok(SocketAddr::V4(local)) = self.stack.tcp_local_addr(conn) {
                            self.local_port = local.port();
                        }
                        self.remote_port = self.profile.connect_port;
                        self.isn = None;
                        let _ = self.stack.tcp_set_nodelay(conn, nodelay);
                        if let Some(bytes) = send_buffer {
                            let _ = self.stack.tcp_set_send_buffer(conn, bytes);
                        }
                        if let Some(f) = self.fds.get_mut(&fd) {
                            f.sock = Sock::Conn(conn);
                        }
                        let op = Op::Connect(conn);
                        Ok(match self.try_op(op).0 {
                            Some(r) => Outcome::Done(r),
                            None => block_or(op, libc::EINPROGRESS),
                        })
                    }
                }
            }
            "read" | "recv" | "write" | "send" => {
                if !(call.args.len() == 3 || (call.args.len() == 4 && matches!(name, "recv" | "send"))) {
                    return Err(ScriptError::parse(
                        line,
                        format!("`{name}` takes (fd, ..., count{})", if name.len() == 4 { "[, flags]" } else { "" }),
                    ));
                }
                if call.args.len() == 4 && arg_value(line, call, 3)? != Some(0) {
                    return Err(ScriptError::unsupported(line, format!("`{name}` flags other than 0")));
                }
                let len = usize::try_from(arg_int(line, call, 2)?)
                    .map_err(|_| ScriptError::parse(line, "a byte count cannot be negative"))?;
                let Sock::Conn(conn) = f.sock else { return done(Err(libc::ENOTCONN)) };
                let op = if matches!(name, "read" | "recv") {
                    Op::Read { conn, len }
                } else {
                    Op::Write { conn, len, done: 0 }
                };
                let (result, op) = self.try_op(op);
                Ok(match (result, op) {
                    (Some(r), _) => Outcome::Done(r),
                    (None, Op::Write { done, .. }) if nonblocking && done > 0 => Outcome::Done(Ok(done as i64)),
                    (None, op) => block_or(op, libc::EAGAIN),
                })
            }
            "close" => {
                expect_args(line, call, 1)?;
                if let Some(f) = self.fds.remove(&fd) {
                    match f.sock {
                        Sock::Fresh => {}
                        Sock::Listener(l) => self.stack.tcp_close_listener(now, l),
                        Sock::Conn(c) => self.stack.tcp_close(now, c),
                    }
                }
                done(Ok(0))
            }
            "shutdown" => {
                expect_args(line, call, 2)?;
                let how = match arg_value(line, call, 1)? {
                    Some(v) if v == i64::from(libc::SHUT_RD) => Shutdown::Read,
                    Some(v) if v == i64::from(libc::SHUT_WR) => Shutdown::Write,
                    Some(v) if v == i64::from(libc::SHUT_RDWR) => Shutdown::Both,
                    _ => return Err(ScriptError::parse(line, "shutdown needs SHUT_RD, SHUT_WR or SHUT_RDWR")),
                };
                let Sock::Conn(conn) = f.sock else { return done(Err(libc::ENOTCONN)) };
                done(self.stack.tcp_shutdown(now, conn, how).map(|()| 0).map_err(|e| errno_of(&e)))
            }
            "setsockopt" => self.setsockopt(line, call, fd),
            "getsockopt" => self.getsockopt(line, call, fd),
            "fcntl" => {
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
            _ => Err(ScriptError::unsupported(line, format!("system call `{name}`"))),
        }
    }

    /// `setsockopt(fd, level, name, [value], len)`.
    fn setsockopt(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 5)?;
        let level = arg_int(line, call, 1)?;
        let opt = arg_int(line, call, 2)?;
        let value = arg_int(line, call, 3)?;
        let Some(f) = self.fds.get_mut(&fd) else { return Ok(Outcome::Done(Err(libc::EBADF))) };
        let conn = match f.sock {
            Sock::Conn(c) => Some(c),
            _ => None,
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
            f.send_buffer = Some(bytes);
            conn.map_or(Ok(()), |c| self.stack.tcp_set_send_buffer(c, bytes))
        } else if (level, opt) == (sol, i64::from(libc::SO_RCVBUF)) {
            let Some(c) = conn else {
                return Err(ScriptError::unsupported(
                    line,
                    "SO_RCVBUF before the connection exists (the SYN's window comes from StackConfig)",
                ));
            };
            self.stack.tcp_set_recv_buffer(c, usize::try_from(value).unwrap_or(0))
        } else {
            return Err(ScriptError::unsupported(line, format!("setsockopt option {level}/{opt}")));
        };
        Ok(Outcome::Done(result.map(|()| 0).map_err(|e| errno_of(&e))))
    }

    /// `getsockopt(fd, SOL_SOCKET, SO_ERROR, [expected], [4])`: the pending error.
    fn getsockopt(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 5)?;
        let level = arg_int(line, call, 1)?;
        let opt = arg_int(line, call, 2)?;
        if (level, opt) != (i64::from(libc::SOL_SOCKET), i64::from(libc::SO_ERROR)) {
            return Err(ScriptError::unsupported(line, "getsockopt other than SOL_SOCKET/SO_ERROR"));
        }
        let want = arg_int(line, call, 3)?;
        let Some(f) = self.fds.get(&fd) else { return Ok(Outcome::Done(Err(libc::EBADF))) };
        let error = match f.sock {
            Sock::Conn(c) => match self.stack.tcp_connect_status(c) {
                Ok(()) => 0,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => errno_of(&e),
            },
            _ => 0,
        };
        if i64::from(error) != want {
            return Err(ScriptError::mismatch(
                line,
                format!("getsockopt SO_ERROR is {} instead of {}", errno_name(error), errno_name(want as i32)),
            ));
        }
        Ok(Outcome::Done(Ok(0)))
    }
}

enum Outcome {
    Done(CallResult),
    Block(Op),
}

fn would_block(e: io::Error) -> Option<CallResult> {
    (e.kind() != io::ErrorKind::WouldBlock).then(|| Err(errno_of(&e)))
}

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

fn expect_args(line: usize, call: &Call, n: usize) -> Result<()> {
    if call.args.len() == n {
        Ok(())
    } else {
        Err(ScriptError::parse(line, format!("`{}` takes {n} arguments, not {}", call.name, call.args.len())))
    }
}

fn require_ellipsis(line: usize, call: &Call, i: usize, what: &str) -> Result<()> {
    match call.args.get(i) {
        Some(Expr::Ellipsis) => Ok(()),
        _ => Err(ScriptError::unsupported(line, what.to_string())),
    }
}

/// The value of argument `i`; `None` for `...`.
fn arg_value(line: usize, call: &Call, i: usize) -> Result<Option<i64>> {
    let expr = call
        .args
        .get(i)
        .ok_or_else(|| ScriptError::parse(line, format!("`{}` needs argument {}", call.name, i + 1)))?;
    eval(line, expr)
}

fn arg_int(line: usize, call: &Call, i: usize) -> Result<i64> {
    arg_value(line, call, i)?.ok_or_else(|| {
        ScriptError::parse(line, format!("argument {} of `{}` needs a value, not `...`", i + 1, call.name))
    })
}

fn eval(line: usize, expr: &Expr) -> Result<Option<i64>> {
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
        Expr::List(items) if items.len() == 1 => return eval(line, &items[0]),
        Expr::List(_) => return Err(ScriptError::unsupported(line, "arrays of more than one value")),
        Expr::Str(_) => return Err(ScriptError::unsupported(line, "string arguments")),
    }))
}

/// The symbolic constants scripts use, with Linux's values.
fn constant(name: &str) -> Option<i64> {
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
        _ => return errno_value(name).map(i64::from),
    };
    Some(i64::from(v))
}

/// errno names and numbers (Linux).
const ERRNOS: &[(&str, i32)] = &[
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("EWOULDBLOCK", libc::EWOULDBLOCK),
    ("ENOMEM", libc::ENOMEM),
    ("EINVAL", libc::EINVAL),
    ("EPIPE", libc::EPIPE),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
];

fn errno_value(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn errno_name(errno: i32) -> String {
    if errno == 0 {
        return "0".into();
    }
    ERRNOS.iter().find(|(_, v)| *v == errno).map_or_else(|| format!("errno {errno}"), |(n, _)| (*n).to_string())
}

/// The errno a Linux socket call would report for this error.
fn errno_of(e: &io::Error) -> i32 {
    if let Some(raw) = e.raw_os_error() {
        return raw;
    }
    use io::ErrorKind::*;
    match e.kind() {
        WouldBlock => libc::EAGAIN,
        ConnectionRefused => libc::ECONNREFUSED,
        ConnectionReset => libc::ECONNRESET,
        ConnectionAborted => libc::ECONNABORTED,
        TimedOut => libc::ETIMEDOUT,
        NotConnected => libc::ENOTCONN,
        BrokenPipe => libc::EPIPE,
        AddrInUse => libc::EADDRINUSE,
        AddrNotAvailable => libc::EADDRNOTAVAIL,
        InvalidInput => libc::EINVAL,
        OutOfMemory => libc::ENOMEM,
        Unsupported => libc::EOPNOTSUPP,
        _ => libc::EINVAL,
    }
}

/// `1.5` s as `1.500`, packetdrill's way.
fn fmt_time(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}.{:03}", us / 1_000_000, (us / 1000) % 1000)
    } else {
        format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
    }
}

impl fmt::Display for OptSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptSpec::Nop => f.write_str("nop"),
            OptSpec::Mss(m) => write!(f, "mss {m}"),
            OptSpec::SackOk => f.write_str("sackOK"),
            OptSpec::Ts { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            OptSpec::Wscale(s) => write!(f, "wscale {s}"),
            OptSpec::Sack(blocks) => {
                let b: Vec<String> = blocks.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                write!(f, "sack {}", b.join(" "))
            }
        }
    }
}

/// A packet as the script wrote it.
impl fmt::Display for PacketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.dir == Direction::Inbound { '<' } else { '>' };
        let end = self.start.wrapping_add(self.len);
        write!(f, "{dir} {} {}:{}({})", flag_letters(self.flags), self.start, end, self.len)?;
        if let Some(ack) = self.ack {
            write!(f, " ack {ack}")?;
        }
        if let Some(win) = self.win {
            write!(f, " win {win}")?;
        }
        if !self.options.is_empty() {
            let o: Vec<String> = self.options.iter().map(ToString::to_string).collect();
            write!(f, " <{}>", o.join(","))?;
        }
        Ok(())
    }
}
