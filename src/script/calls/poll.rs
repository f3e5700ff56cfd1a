//! `poll([{fd=N, events=MASK, revents=MASK}, …], nfds, timeout) = COUNT`, as
//! packetdrill scripts write it (Linux's poll(2)). Each descriptor's `revents` is
//! what the stack's readiness says ([`Stack::tcp_readiness`](crate::Stack::tcp_readiness),
//! `udp_can_recv`), limited as the kernel limits it to the events asked for plus
//! POLLERR, POLLHUP and POLLNVAL; the call returns how many descriptors have
//! any. With nothing ready it returns 0 at once for a timeout of 0, waits up to
//! `timeout` ms otherwise (for ever with −1), and each `revents` the script
//! wrote is compared when it returns. At most [`MAX_FDS`] descriptors; O(that).

use super::{Op, Outcome, Sock};
use crate::script::args::eval;
use crate::script::ast::{Call, Expr};
use crate::script::error::{Result, ScriptError};
use crate::script::run::Runner;

/// The most descriptors one `poll` watches (the suites use one or two).
pub(super) const MAX_FDS: usize = 4;

/// One `{fd=…, events=…, revents=…}`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Watch {
    fd: i64,
    events: i64,
    /// What the script expects back (`None`: not written, or `...`).
    revents: Option<i64>,
}

/// The descriptors of a `poll` call and when it gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::script) struct PollSet {
    watches: [Watch; MAX_FDS],
    len: usize,
    /// Script time the call returns 0 at, if nothing got ready (`None`: never).
    pub until: Option<u64>,
}

impl PollSet {
    fn watches(&self) -> &[Watch] {
        &self.watches[..self.len]
    }
}

/// The `revents` bits Linux always reports, asked for or not.
const ALWAYS: i64 = (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) as i64;

/// Read the call's arguments: `(fds, nfds, timeout)`.
fn parse(line: usize, call: &Call, now: u64) -> Result<PollSet> {
    let usage = || ScriptError::parse(line, "`poll` takes ([{fd=N, events=MASK, revents=MASK}, …], nfds, timeout)");
    let [Expr::List(items), nfds, timeout] = call.args.as_slice() else { return Err(usage()) };
    if items.len() > MAX_FDS {
        return Err(ScriptError::unsupported(line, format!("poll on more than {MAX_FDS} descriptors")));
    }
    let mut set = PollSet { watches: [Watch::default(); MAX_FDS], len: items.len(), until: None };
    for (watch, item) in set.watches.iter_mut().zip(items) {
        let Expr::Struct(fields) = item else { return Err(usage()) };
        let (mut fd, mut events) = (None, None);
        for (name, value) in fields {
            let value = eval(line, value)?;
            match name.as_str() {
                "fd" => fd = value,
                "events" => events = value,
                "revents" => watch.revents = value,
                other => return Err(ScriptError::parse(line, format!("`struct pollfd` has no field `{other}`"))),
            }
        }
        let (Some(fd), Some(events)) = (fd, events) else { return Err(usage()) };
        (watch.fd, watch.events) = (fd, events);
    }
    if eval(line, nfds)? != Some(items.len() as i64) {
        return Err(ScriptError::parse(line, "`poll`'s nfds must be the number of entries in its array"));
    }
    let timeout = eval(line, timeout)?.ok_or_else(usage)?;
    set.until = match timeout {
        t if t < 0 => None,
        t => Some(now.saturating_add(u64::try_from(t).unwrap_or(0).saturating_mul(1000))),
    };
    Ok(set)
}

impl Runner {
    /// `poll(…)`: the count now, or wait.
    pub(super) fn poll(&mut self, line: usize, call: &Call) -> Result<Outcome> {
        let set = parse(line, call, self.clock.now)?;
        match self.try_poll(&set) {
            Some(n) => {
                self.check_revents(line, &set)?;
                Ok(Outcome::Done(Ok(n)))
            }
            None => Ok(Outcome::Block(Op::Poll(set))),
        }
    }

    /// How many descriptors are ready; `None` while none is and the timeout has
    /// not passed.
    pub(super) fn try_poll(&self, set: &PollSet) -> Option<i64> {
        let ready = set.watches().iter().filter(|w| self.revents(w) != 0).count() as i64;
        (ready > 0 || set.until.is_some_and(|t| self.clock.now >= t)).then_some(ready)
    }

    /// Compare each `revents` the script wrote with what the stack says now.
    pub(super) fn check_revents(&self, line: usize, set: &PollSet) -> Result<()> {
        for w in set.watches() {
            let actual = self.revents(w);
            if let Some(want) = w.revents.filter(|&want| want != actual) {
                return Err(ScriptError::mismatch(
                    line,
                    format!("poll: fd {} revents {} instead of {}", w.fd, mask_names(actual), mask_names(want)),
                ));
            }
        }
        Ok(())
    }

    /// One descriptor's `revents`.
    fn revents(&self, w: &Watch) -> i64 {
        let Some(f) = self.fds.get(&w.fd) else { return i64::from(libc::POLLNVAL) };
        let bits = |on: bool, bit: i16| if on { i64::from(bit) } else { 0 };
        let all = match f.sock {
            // An unconnected TCP socket: writable and hung up (Linux's TCP_CLOSE).
            Sock::Fresh => bits(true, libc::POLLOUT) | bits(true, libc::POLLHUP),
            Sock::Listener(h) | Sock::Conn(h) => {
                let r = self.stack.tcp_readiness(h);
                bits(r.readable, libc::POLLIN)
                    | bits(r.writable, libc::POLLOUT)
                    | bits(r.read_closed, libc::POLLRDHUP)
                    | bits(r.error, libc::POLLERR)
                    | bits(r.hang_up, libc::POLLHUP)
            }
            Sock::Udp(h) => {
                bits(h.is_some_and(|h| self.stack.udp_can_recv(h)), libc::POLLIN) | bits(true, libc::POLLOUT)
            }
        };
        all & (w.events | ALWAYS)
    }
}

/// `POLLIN|POLLOUT`, or `0`.
fn mask_names(mask: i64) -> String {
    let names = [
        (libc::POLLIN, "POLLIN"),
        (libc::POLLPRI, "POLLPRI"),
        (libc::POLLOUT, "POLLOUT"),
        (libc::POLLERR, "POLLERR"),
        (libc::POLLHUP, "POLLHUP"),
        (libc::POLLNVAL, "POLLNVAL"),
        (libc::POLLRDHUP, "POLLRDHUP"),
    ];
    let set: Vec<&str> = names.iter().filter(|(bit, _)| mask & i64::from(*bit) != 0).map(|(_, n)| *n).collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}
