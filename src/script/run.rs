//! The event loop: executing a [`Script`] against the sans-IO [`Stack`] in
//! virtual time.
//!
//! The runner plays everything outside the stack: the program making socket calls
//! and the remote host sending and receiving segments. Time is a number the runner
//! owns (`clock.rs`); nothing sleeps, so a script that spans minutes
//! of TCP timers runs in microseconds.
//!
//! # One event at a time
//!
//! For each event, in script order:
//!
//! - **`<` (inbound: a TCP segment, `udp`, `icmp`), calls, shell commands and
//!   `%{ }%` blocks**: the clock runs to the event's time, firing every stack
//!   timer that falls due on the way, each at its own deadline (as a real clock
//!   would). Then the packet goes in (`matching.rs` builds it), the call is made
//!   (`calls/`), the command is applied (`shell.rs`: settings before the first
//!   call or packet rebuild the stack) or the assertion checked (`code.rs`).
//! - **`>` (outbound)**: the clock runs, timer by timer, until the stack sends
//!   something or the event's window has passed. The packet must then match the
//!   script's (a TCP segment field by field, a datagram's length, an ICMP error's
//!   code) and have been sent within the window.
//!
//! After every packet and every timer the pending blocking call, if any, is
//! retried (`calls/`).
//!
//! Every packet the stack sends must be expected: one that is still unclaimed when
//! the next inbound packet or call comes, or when the script ends, fails the
//! script. (packetdrill only notices extra packets at the next `>`; we are
//! stricter.) The script ends at its last event: timers after it are not run,
//! except to let a pending call reach its deadline.
//!
//! # Bounds and cost
//!
//! Sent packets wait in a queue until a `>` claims them; it holds at most what the
//! stack sends between two events. Looking for one packet fires at most
//! `MAX_TIMER_STEPS` timers, so a timer that re-arms itself at the same instant
//! fails the script instead of hanging it. Each packet is parsed once, by
//! etherparse, checksums verified.

use std::collections::{BTreeMap, VecDeque};

use super::ast::*;
use super::calls::{Fd, Pending};
use super::clock::{fmt_time, Clock, Window};
use super::error::{Result, ScriptError};
use super::matching::{Matcher, Tuple};
use super::packet::{self, Outbound};
use super::shell::{freebsd_state, Sysctl};
use super::{Profile, Report};
use crate::stack::Stack;

/// Stack timers run while looking for one packet before the runner gives up (a
/// timer that re-arms itself at the same instant would otherwise spin forever).
const MAX_TIMER_STEPS: usize = 100_000;

/// Run a parsed script with `profile`; `Ok` if the stack did everything the script
/// says and nothing else.
pub fn run(script: &Script, profile: &Profile) -> Result<Report> {
    run_traced(script, profile, &mut |_| {})
}

/// [`run`], and with `-v` (`Settings::verbose`) each event as it happens goes to
/// `trace`, one line each, before the verdict.
pub fn run_traced(script: &Script, profile: &Profile, trace: &mut dyn FnMut(&str)) -> Result<Report> {
    let mut runner = Runner::new(script, script.settings.apply_to(profile));
    for event in &script.events {
        let result = runner.event(event);
        for line in runner.trace.drain(..) {
            trace(&line);
        }
        result?;
    }
    runner.finish(script.events.last().map_or(0, |e| e.line))?;
    let mut notes = script.settings.notes.clone();
    notes.append(&mut runner.notes);
    Ok(Report { notes })
}

/// The runner's whole state: the stack under test, the clock, what it knows of the
/// connection's numbers, and the scripted program's descriptors.
pub(super) struct Runner {
    pub(super) profile: Profile,
    pub(super) clock: Clock,
    pub(super) stack: Stack,
    pub(super) matcher: Matcher,
    /// The other connections a listener accepted, by the remote host's port
    /// (`<:40002`), each with what the runner knows of its numbers. A line
    /// naming one swaps it into `matcher` for that line.
    accepted: BTreeMap<u16, Matcher>,
    /// The remote port of the accepted connection swapped in for this line.
    selected: Option<u16>,
    /// Packets the stack sent that no `>` has claimed yet, with when.
    sent: VecDeque<(u64, std::result::Result<Outbound, String>)>,
    pub(super) fds: BTreeMap<i64, Fd>,
    pub(super) pending: Option<Pending>,
    /// Whether a call or an inbound packet has happened: from then on the stack's
    /// settings are fixed.
    started: bool,
    /// Shell commands accepted without effect, and why.
    notes: Vec<(usize, String)>,
    /// A `sysctl` that would change a setting after the stack started: its line
    /// and name. Unsupported if a call or packet follows; a cleanup otherwise.
    late_setting: Option<(usize, String)>,
    /// `-v`: trace lines not yet handed out.
    verbose: bool,
    trace: Vec<String>,
}

impl Runner {
    fn new(script: &Script, profile: Profile) -> Self {
        let stack = Stack::new(profile.config.clone());
        let tuple = Tuple {
            local: profile.local_ip(),
            local_port: profile.local_port,
            remote: profile.remote_ip(),
            remote_port: profile.remote_port,
        };
        Runner {
            clock: Clock {
                tolerance_ppm: script.settings.tolerance_ppm.unwrap_or(0),
                ..Clock::new(script.tolerance_us)
            },
            stack,
            matcher: Matcher::new(tuple),
            accepted: BTreeMap::new(),
            selected: None,
            profile,
            sent: VecDeque::new(),
            fds: BTreeMap::new(),
            pending: None,
            started: false,
            late_setting: None,
            notes: Vec::new(),
            verbose: script.settings.verbose,
            trace: Vec::new(),
        }
    }

    fn event(&mut self, ev: &Event) -> Result<()> {
        let w = self.clock.window(ev.time).map_err(|e| ScriptError::parse(ev.line, e))?;
        let outbound = match &ev.action {
            Action::Packet(p) => p.dir == Direction::Outbound,
            Action::Datagram(d) => d.dir == Direction::Outbound,
            Action::Icmp(i) => i.dir == Direction::Outbound,
            _ => false,
        };
        if self.verbose && !outbound {
            let what = match &ev.action {
                Action::Packet(spec) => spec.to_string(),
                Action::Datagram(spec) => spec.to_string(),
                Action::Icmp(spec) => spec.to_string(),
                Action::Call(call) => call.to_string(),
                Action::Shell(commands) => {
                    let c: Vec<String> = commands.iter().map(ToString::to_string).collect();
                    format!("`{}`", c.join("; "))
                }
                Action::Code(assertions) => {
                    let a: Vec<&str> = assertions.iter().map(|a| a.text.as_str()).collect();
                    format!("%{{ {} }}%", a.join("; "))
                }
            };
            self.trace.push(format!("{:>10} line {}: {what}", fmt_time(w.at.max(self.clock.now)), ev.line));
        }
        match &ev.action {
            Action::Packet(spec) => {
                let default = self.select_connection(spec.port);
                let result = if spec.dir == Direction::Outbound {
                    self.outbound(ev, spec, w)
                } else {
                    self.advance_to(w.at)
                        .and_then(|()| self.no_unclaimed(ev.line))
                        .and_then(|()| self.start())
                        .and_then(|()| self.inbound(ev.line, spec))
                };
                if let Some(default) = default {
                    self.restore_connection(default);
                }
                result?;
            }
            Action::Datagram(spec) if spec.dir == Direction::Outbound => self.outbound_datagram(ev, spec, w)?,
            Action::Datagram(spec) => {
                self.advance_to(w.at)?;
                self.no_unclaimed(ev.line)?;
                self.start()?;
                let t = self.matcher.tuple;
                let bytes = packet::udp_packet(t.remote, t.remote_port, t.local, t.local_port, spec.len as usize)
                    .map_err(|e| ScriptError::parse(ev.line, e))?;
                self.stack.input(self.clock.instant(), &bytes);
                self.collect();
                self.retry_pending()?;
            }
            Action::Icmp(spec) if spec.dir == Direction::Outbound => self.outbound_icmp(ev, spec, w)?,
            Action::Icmp(spec) => {
                self.advance_to(w.at)?;
                self.no_unclaimed(ev.line)?;
                self.start()?;
                let bytes = self.matcher.icmp_packet(spec).map_err(|e| ScriptError::parse(ev.line, e))?;
                self.stack.input(self.clock.instant(), &bytes);
                self.collect();
                self.retry_pending()?;
            }
            Action::Call(call) => {
                self.advance_to(w.at)?;
                self.no_unclaimed(ev.line)?;
                self.start()?;
                self.call(ev, call, w.at)?;
            }
            Action::Shell(commands) => {
                self.advance_to(w.at)?;
                self.no_unclaimed(ev.line)?;
                self.shell(ev.line, commands)?;
            }
            Action::Code(assertions) => {
                self.advance_to(w.at)?;
                self.no_unclaimed(ev.line)?;
                let snap = self.snapshot_under_test();
                if let Some(failed) = assertions.iter().find(|a| !a.holds(&snap)) {
                    return Err(ScriptError::mismatch(
                        ev.line,
                        format!("assertion failed: `{}` ({})", failed.text, failed.explain(&snap)),
                    ));
                }
            }
        }
        self.clock.done(ev.time, w.at);
        Ok(())
    }

    /// A packet line naming the remote port `port` (`<:40002`) is about the
    /// passive connection from that port to the listener's: unless that is the
    /// connection under test already, its matcher takes the place of the
    /// default one, which is returned to be put back by
    /// [`restore_connection`](Self::restore_connection) after the line.
    fn select_connection(&mut self, port: Option<u16>) -> Option<Matcher> {
        let port = port?;
        let local_port = self.profile.local_port;
        let t = self.matcher.tuple;
        if (t.local_port, t.remote_port) == (local_port, port) {
            return None;
        }
        let tuple =
            Tuple { local: self.profile.local_ip(), local_port, remote: self.profile.remote_ip(), remote_port: port };
        let other = self.accepted.remove(&port).unwrap_or_else(|| Matcher::new(tuple));
        self.selected = Some(port);
        Some(std::mem::replace(&mut self.matcher, other))
    }

    /// Put the connection under test back after a line about another one.
    fn restore_connection(&mut self, default: Matcher) {
        let other = std::mem::replace(&mut self.matcher, default);
        self.selected = None;
        self.accepted.insert(other.tuple.remote_port, other);
    }

    /// The script's end: a blocking call still waiting gets until its deadline.
    fn finish(&mut self, last_line: usize) -> Result<()> {
        if let Some(p) = &self.pending {
            let (line, due) = (p.line, p.due);
            self.advance_to(due.saturating_add(self.clock.tolerance))?;
            if self.pending.is_some() {
                return Err(ScriptError::mismatch(
                    line,
                    format!("blocking call never returned (waited until {})", fmt_time(self.clock.now)),
                ));
            }
        }
        self.no_unclaimed(last_line).map_err(|mut e| {
            e.message = format!("at the end of the script: {}", e.message);
            e
        })?;
        if let Some((line, name)) = self.late_setting.take() {
            self.notes.push((line, format!("`{name}` changed after the last call or packet: no effect (a cleanup)")));
        }
        Ok(())
    }

    /// A call or packet is about to happen: from now on the settings are fixed,
    /// and a setting changed since is unsupported.
    fn start(&mut self) -> Result<()> {
        if let Some((line, name)) = &self.late_setting {
            return Err(ScriptError::unsupported(
                *line,
                format!("changing `{name}` after the first call or packet (settings are fixed once the stack runs)"),
            ));
        }
        self.started = true;
        Ok(())
    }

    /// Run the clock to `target`, firing every timer on the way at its deadline.
    fn advance_to(&mut self, target: u64) -> Result<()> {
        self.run_timers(target, false)?;
        self.clock.advance(target);
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
            // The stack's next timer, or a pending `poll`'s timeout if sooner.
            let stack_due = self.stack.poll_deadline().map(Clock::script_time);
            let Some(due) = stack_due.into_iter().chain(self.pending_deadline()).min() else { return Ok(()) };
            if due > limit {
                return Ok(());
            }
            self.clock.advance(due);
            if stack_due.is_some_and(|d| d <= due) {
                self.stack.handle_timeout(self.clock.instant());
            }
            self.collect();
            self.retry_pending()?;
        }
        Err(ScriptError::mismatch(0, format!("the stack's timers did not settle by {}", fmt_time(limit))))
    }

    /// Take everything the stack sent, stamped with the current time.
    pub(super) fn collect(&mut self) {
        while let Some(bytes) = self.stack.poll_transmit() {
            self.sent.push_back((self.clock.now, packet::parse_outbound(&bytes)));
        }
        while self.stack.poll_event().is_some() {}
    }

    /// Fail if the stack sent a packet no `>` claimed.
    fn no_unclaimed(&mut self, line: usize) -> Result<()> {
        match self.sent.pop_front() {
            None => Ok(()),
            Some((t, Ok(sent))) => {
                let actual = self.show_outbound(&sent);
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

    /// The next packet the stack sends for the `>` line `line` (`script` as
    /// written), waiting for timers up to the end of its window.
    fn take_sent(&mut self, line: usize, script: &dyn std::fmt::Display, w: Window) -> Result<(u64, Outbound)> {
        if self.sent.is_empty() {
            self.run_timers(w.hi, true)?;
        }
        let Some((t, sent)) = self.sent.pop_front() else {
            self.clock.advance(w.hi.min(u64::MAX / 2));
            return Err(ScriptError::mismatch(
                line,
                format!(
                    "expected an outbound packet at {} (tolerance {}), the stack sent nothing\n  script: {script}",
                    fmt_time(w.at),
                    fmt_time(self.clock.tolerance)
                ),
            ));
        };
        let sent = sent.map_err(|e| ScriptError::mismatch(line, format!("the stack sent a bad packet: {e}")))?;
        Ok((t, sent))
    }

    /// Anything the stack sent, as a script line.
    fn show_outbound(&self, out: &Outbound) -> String {
        match out {
            // A segment of another accepted connection shows as its `>:PORT`
            // line would, numbers relative to that connection's ISN.
            Outbound::Tcp(sent) => match self.accepted.get(&sent.dport) {
                Some(m) if m.tuple.local_port == sent.sport => {
                    m.show(sent).replacen('>', &format!(">:{}", sent.dport), 1)
                }
                _ if self.selected == Some(sent.dport) => {
                    self.matcher.show(sent).replacen('>', &format!(">:{}", sent.dport), 1)
                }
                _ => self.matcher.show(sent),
            },
            Outbound::Udp(d) => format!("> udp ({}) ({}:{} > {}:{})", d.len, d.src, d.sport, d.dst, d.dport),
            Outbound::Icmp { src, dst, kind: 3, code, rest } => {
                let name = icmp_code_name(*code).map_or_else(|| format!("code {code}"), str::to_string);
                let mtu = u16::from_be_bytes([rest[2], rest[3]]);
                let mtu = if *code == 4 { format!(" mtu {mtu}") } else { String::new() };
                format!("> icmp unreachable {name}{mtu} ({src} > {dst})")
            }
            Outbound::Icmp { src, dst, kind, code, .. } => format!("> icmp type {kind} code {code} ({src} > {dst})"),
            Outbound::Other(what) => format!("> {what}"),
        }
    }

    /// A packet sent at `t` must be within the event's window.
    fn check_time(&self, line: usize, t: u64, w: Window, actual: &str) -> Result<()> {
        if t < w.lo || t > w.hi {
            return Err(ScriptError::mismatch(
                line,
                format!(
                    "timing error: expected the packet at {} (tolerance {}), it was sent at {}\n  actual: {actual}",
                    fmt_time(w.at),
                    fmt_time(self.clock.tolerance),
                    fmt_time(t)
                ),
            ));
        }
        Ok(())
    }

    /// A `>` line: the next packet the stack sends must match and be on time.
    fn outbound(&mut self, ev: &Event, spec: &PacketSpec, w: Window) -> Result<()> {
        self.start()?;
        let (t, out) = self.take_sent(ev.line, spec, w)?;
        let actual = self.show_outbound(&out);
        if self.verbose {
            self.trace.push(format!("{:>10} line {}: {actual}", fmt_time(t), ev.line));
        }
        let Outbound::Tcp(sent) = out else {
            return Err(ScriptError::mismatch(
                ev.line,
                format!(
                    "outbound packet mismatch: not a TCP segment\n  script: {spec}\n  actual: {actual} at {}",
                    fmt_time(t)
                ),
            ));
        };
        if let Err(problem) = self.matcher.compare(spec, &sent) {
            let fields = if self.verbose { format!("\n{}", self.matcher.fields(spec, &sent)) } else { String::new() };
            return Err(ScriptError::mismatch(
                ev.line,
                format!(
                    "outbound packet mismatch: {problem}\n  script: {spec}\n  actual: {actual} at {}{fields}",
                    fmt_time(t)
                ),
            ));
        }
        self.check_time(ev.line, t, w, &actual)
    }

    /// A `> udp (len)` line: the next packet must be a datagram of that length on
    /// the UDP socket's tuple, on time.
    fn outbound_datagram(&mut self, ev: &Event, spec: &DatagramSpec, w: Window) -> Result<()> {
        self.outbound_judged(ev, spec, w, |out, tuple| match out {
            Outbound::Udp(d)
                if (d.src, d.sport, d.dst, d.dport)
                    != (tuple.local, tuple.local_port, tuple.remote, tuple.remote_port) =>
            {
                Some(format!(
                    "sent {}:{} > {}:{}, the socket under test is {}:{} > {}:{}",
                    d.src, d.sport, d.dst, d.dport, tuple.local, tuple.local_port, tuple.remote, tuple.remote_port
                ))
            }
            Outbound::Udp(d) if d.len != spec.len as usize => {
                Some(format!("payload length {} instead of {}", d.len, spec.len))
            }
            Outbound::Udp(_) => None,
            _ => Some("not a UDP datagram".to_string()),
        })
    }

    /// A `> icmp unreachable CODE [mtu N]` line: the next packet must be that
    /// error, from the stack to the remote host, on time.
    fn outbound_icmp(&mut self, ev: &Event, spec: &IcmpSpec, w: Window) -> Result<()> {
        self.outbound_judged(ev, spec, w, |out, tuple| match *out {
            Outbound::Icmp { src, dst, .. } if (src, dst) != (tuple.local, tuple.remote) => {
                Some(format!("sent {src} > {dst}, the remote host is {}", tuple.remote))
            }
            Outbound::Icmp { kind: 3, code, rest, .. } => {
                let mtu = u16::from_be_bytes([rest[2], rest[3]]);
                if code != spec.code {
                    Some(format!("code {code} instead of {}", spec.code))
                } else if spec.mtu.is_some_and(|m| m != mtu) {
                    Some(format!("mtu {mtu} instead of {}", spec.mtu.unwrap_or_default()))
                } else {
                    None
                }
            }
            _ => Some("not an ICMP destination unreachable".to_string()),
        })
    }

    /// The frame of a datagram or ICMP `>` line: take the next packet the stack
    /// sent, trace it, let `judge` name its first difference from the script
    /// (`None`: it matches), then check its time.
    fn outbound_judged(
        &mut self,
        ev: &Event,
        spec: &dyn std::fmt::Display,
        w: Window,
        judge: impl FnOnce(&Outbound, Tuple) -> Option<String>,
    ) -> Result<()> {
        self.start()?;
        let (t, out) = self.take_sent(ev.line, spec, w)?;
        let actual = self.show_outbound(&out);
        if self.verbose {
            self.trace.push(format!("{:>10} line {}: {actual}", fmt_time(t), ev.line));
        }
        if let Some(problem) = judge(&out, self.matcher.tuple) {
            return Err(ScriptError::mismatch(
                ev.line,
                format!("outbound packet mismatch: {problem}\n  script: {spec}\n  actual: {actual} at {}", fmt_time(t)),
            ));
        }
        self.check_time(ev.line, t, w, &actual)
    }

    /// A backticked shell command, as read by `shell.rs`: settings change the
    /// profile's configuration and the stack is built afresh with it — only
    /// before the first call or packet, while the stack is still untouched;
    /// socket-table commands ask the stack.
    fn shell(&mut self, line: usize, commands: &[Command]) -> Result<()> {
        let mut changed = false;
        for command in commands {
            match command {
                Command::Sysctl(s) => changed |= self.sysctl(line, s)?,
                Command::CountSockets { text, ipv6, port, own, state, expect } => {
                    // Every socket of a script is of its IP version: `sockstat
                    // -4` in an IPv6 script (or `-6` in an IPv4 one) sees none.
                    let states = match ipv6 {
                        Some(v6) if *v6 != self.profile.ipv6 => Vec::new(),
                        _ => self.socket_states(*port, *own),
                    };
                    let count = states.iter().filter(|s| s.contains(state)).count();
                    // `grep N` succeeds when the count's line contains N.
                    if !count.to_string().contains(expect.as_str()) {
                        return Err(ScriptError::mismatch(
                            line,
                            format!(
                                "`{text}` failed: {count} sockets in {state}, the script expects {expect} \
                                 (the sockets: {})",
                                if states.is_empty() { "none".to_string() } else { states.join(", ") }
                            ),
                        ));
                    }
                }
                Command::NoEffect { text, why } => {
                    self.notes.push((line, format!("`{text}` changes nothing here: {why}")));
                }
                Command::Drop { state, .. } => {
                    let now = self.clock.instant();
                    for socket in self.stack.tcp_sockets() {
                        if socket.peer.is_some() && freebsd_state(socket.state) == *state {
                            self.stack.tcp_abort(now, socket.handle);
                        }
                    }
                    self.collect();
                }
            }
        }
        if changed {
            self.stack = Stack::new(self.profile.config.clone());
        }
        Ok(())
    }

    /// Apply one `sysctl`; `true` if it changed the configuration.
    fn sysctl(&mut self, line: usize, s: &Sysctl) -> Result<bool> {
        if let Some(why) = &s.no_effect {
            self.notes.push((line, format!("`sysctl {}={}` changes nothing here: {why}", s.name, s.value)));
        }
        if s.settings.is_empty() {
            return Ok(false);
        }
        if self.started {
            // Settings are fixed once the stack runs. A change that changes
            // nothing is fine; a real one is only harmless if nothing runs after
            // it (a cleanup line at the end): decided at the next call or packet.
            let mut tcp = self.profile.config.tcp.clone();
            for setting in &s.settings {
                setting.apply(&mut tcp);
            }
            if format!("{tcp:?}") != format!("{:?}", self.profile.config.tcp) && self.late_setting.is_none() {
                self.late_setting = Some((line, s.name.clone()));
            }
            return Ok(false);
        }
        for setting in &s.settings {
            setting.apply(&mut self.profile.config.tcp);
        }
        Ok(true)
    }

    /// A `<` line: the remote host's segment goes into the stack now.
    fn inbound(&mut self, line: usize, spec: &PacketSpec) -> Result<()> {
        let bytes = self.matcher.inbound_packet(spec).map_err(|e| ScriptError::parse(line, e))?;
        self.stack.input(self.clock.instant(), &bytes);
        self.collect();
        self.retry_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parser;
    use std::net::{IpAddr, SocketAddr};

    /// Run `text` to its end and hand back the runner, to look at the stack's
    /// socket table as the script left it.
    fn ran(text: &str) -> Runner {
        let script = parser::parse(text).expect("parses");
        let mut runner = Runner::new(&script, script.settings.apply_to(&Profile::linux()));
        for event in &script.events {
            runner.event(event).expect("the script passes");
        }
        runner
    }

    /// `(local, peer)` of every socket in the stack's table, in its order.
    fn names(runner: &Runner) -> Vec<(String, Option<String>)> {
        let table = runner.stack.socket_table();
        table.iter().map(|r| (r.local.to_string(), r.peer.map(|p| p.to_string()))).collect()
    }

    const PASSIVE: &str = "\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1000>
+0  > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0  accept(3, ..., ...) = 4
+0  socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
+0  fcntl(5, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0  connect(5, ..., ...) = -1 EINPROGRESS
+0  > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0  socket(..., SOCK_DGRAM, IPPROTO_UDP) = 6
+0  bind(6, ..., ...) = 0
";

    #[test]
    fn ipv4_mapped_ipv6_sockets_name_every_address_as_mapped_while_the_packets_stay_ipv4() {
        let runner = ran(&format!("--ip_version=ipv4-mapped-ipv6\n{PASSIVE}"));
        let local = |port: &str| format!("[::ffff:192.168.0.1]:{port}");
        let mut got = names(&runner);
        // The active open's ephemeral port is the stack's choice.
        let connecting = got.iter().position(|(_, p)| p.as_deref() == Some("[::ffff:192.0.2.1]:8080"));
        let (ephemeral, _) = got.remove(connecting.expect("the connecting socket names its peer mapped"));
        assert!(ephemeral.starts_with("[::ffff:192.168.0.1]:"), "{ephemeral}");
        got.sort();
        let mut want = vec![
            (local("8080"), None),                                         // the listener
            (local("8080"), Some("[::ffff:192.0.2.1]:48271".to_string())), // the accepted one
            (local("8080"), None),                                         // the UDP socket
        ];
        want.sort();
        assert_eq!(got, want);
        // On the wire: IPv4 addresses (the SYN above matched an IPv4 packet).
        assert_eq!(runner.matcher.tuple.local, "192.168.0.1".parse::<IpAddr>().expect("literal"));
        assert_eq!(runner.matcher.tuple.remote, "192.0.2.1".parse::<IpAddr>().expect("literal"));

        // The same script over plain IPv4 names the same sockets in IPv4.
        let plain = ran(PASSIVE);
        assert!(names(&plain).iter().all(|(l, _)| l.parse::<SocketAddr>().expect("an address").is_ipv4()));
    }
}
