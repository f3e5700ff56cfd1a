//! The stack's trace events told in plain words, one line each: `tunstack
//! --explain`, and a layer any program (a simulation, a test) can install.
//!
//! The core emits `tracing` events with terse fields (`tcp state from=LISTEN
//! to=SYN-RECEIVED cause="rcvd SYN"`); this layer, outside the core, turns the
//! ones a learner wants into sentences with the rule behind them:
//!
//! ```text
//! 0.100000s 192.168.0.1:8080 ↔ 192.0.2.1:48271: SYN-RECEIVED → ESTABLISHED: the ACK of our SYN arrived (RFC 9293 §3.5)
//! 0.400000s 192.168.0.1:8080 ↔ 192.0.2.1:48271: retransmitted seq=1 len=1000: the retransmission timer expired … (RFC 6298 §5.4)
//! ```
//!
//! * **Which events**: state changes (`tunstack::tcp::state`), retransmissions
//!   and timeouts (`tunstack::tcp::retransmit`), path MTU changes, drops
//!   (`tunstack::drop`) and queue overflows (`tunstack::queue`) — at debug
//!   level, whatever `RUST_LOG` says (it still filters the ordinary trace).
//! * **Numbers** are relative, as tshark shows them: the core traces sequence
//!   numbers counted from the connection's initial ones.
//! * **Time** is virtual under `tunstack script` and the simulator
//!   (`tunstack::script::virtual_time`), else seconds since the command started.
//! * **Repeated drops** are summarised: the core traces a drop reason at most
//!   once a second and counts the rest; a line says how many it stands for. On
//!   top of that this layer keeps one line a second per reason *and socket*
//!   (the `detail` that names it), counting what it held back into the next one.
//! * **Colour** only when asked (`tunstack` asks when standard error is a
//!   terminal: state changes in bold); a file or a pipe gets plain text.
//!
//! In a program of your own (a simulation), install it next to anything else:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::{EnvFilter, Layer};
//! use tunstack::explain::{Explain, TARGETS};
//!
//! let narrator = Explain::new(std::io::stderr(), false).with_filter(EnvFilter::new(TARGETS));
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(narrator));
//! // … run the simulation: its events are told at virtual time.
//! ```
//!
//! [`VirtualTime`] is the matching timer for `tracing_subscriber`'s own format
//! (`fmt::layer().with_timer(VirtualTime)`), which `tunstack` uses for `RUST_LOG`.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::script::virtual_time;

/// A `tracing_subscriber` timer: the virtual time of the thread when it keeps
/// one (under a script or a simulation: `0.400000s`), else the wall clock
/// (RFC 3339, UTC).
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match virtual_time::now() {
            Some(t) => w.write_str(&seconds(t)),
            None => SystemTime.format_time(w),
        }
    }
}

/// `0.400000s`: seconds with every microsecond, as scripts and `Instant` print.
pub fn seconds(t: Duration) -> String {
    format!("{}.{:06}s", t.as_secs(), t.subsec_micros())
}

/// The event targets narrated, at debug level.
pub const TARGETS: &str = "tunstack::tcp::state=debug,tunstack::tcp::retransmit=debug,tunstack::tcp::pmtu=debug,\
tunstack::drop=debug,tunstack::queue=debug";

/// The shortest time between two lines about one drop reason on one socket.
const DROP_INTERVAL: Duration = Duration::from_secs(1);

/// The narrating layer: writes to `W` (standard error in `tunstack`); `ansi`
/// puts state changes in bold.
pub struct Explain<W> {
    out: Mutex<W>,
    ansi: bool,
    started: Instant,
    /// Per (reason, detail): when its last line was written and how many drops
    /// were held back since.
    drops: Mutex<HashMap<(String, String), (Duration, u64)>>,
}

impl<W: Write> Explain<W> {
    pub fn new(out: W, ansi: bool) -> Self {
        Explain { out: Mutex::new(out), ansi, started: Instant::now(), drops: Mutex::new(HashMap::new()) }
    }
}

/// An event's fields as text, by name (`message` is the event's own text).
#[derive(Default)]
struct Fields(HashMap<&'static str, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    fn number(&self, name: &str) -> u64 {
        self.get(name).parse().unwrap_or(0)
    }
}

impl<S: Subscriber, W: Write + 'static> Layer<S> for Explain<W> {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = virtual_time::now().unwrap_or_else(|| self.started.elapsed());
        let target = event.metadata().target();
        let text = if target == "tunstack::drop" || target == "tunstack::queue" {
            match self.admit_drop(&fields, now) {
                Some(held) => drop_line(target, &fields, held),
                None => return,
            }
        } else {
            match narrate(target, &fields, self.ansi) {
                Some(text) => text,
                None => return,
            }
        };
        // A closed standard error has nobody to tell.
        let _ = writeln!(self.out.lock(), "{} {text}", seconds(now));
    }
}

impl<W> Explain<W> {
    /// Whether a drop may have its line now; if so, how many drops of the same
    /// reason and socket this layer held back since the last one.
    fn admit_drop(&self, fields: &Fields, now: Duration) -> Option<u64> {
        let key = (fields.get("reason").to_string(), fields.get("detail").to_string());
        let core_held = fields.number("repeated");
        let mut drops = self.drops.lock();
        match drops.get_mut(&key) {
            Some((last, held)) if now.saturating_sub(*last) < DROP_INTERVAL => {
                *held += 1 + core_held;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held) + core_held)
            }
            None => {
                drops.insert(key, (now, 0));
                Some(core_held)
            }
        }
    }
}

/// `local ↔ remote: ` for events of a connection.
fn connection(fields: &Fields) -> String {
    format!("{} ↔ {}: ", fields.get("local"), fields.get("remote"))
}

/// One event in words, or `None` for an event not narrated.
fn narrate(target: &str, fields: &Fields, ansi: bool) -> Option<String> {
    match (target, fields.get("message")) {
        ("tunstack::tcp::state", _) => {
            let (from, to, cause) = (fields.get("from"), fields.get("to"), fields.get("cause"));
            let change = if ansi { format!("\x1b[1m{from} → {to}\x1b[0m") } else { format!("{from} → {to}") };
            Some(format!("{}{change}: {}", connection(fields), why_state(from, to, cause)))
        }
        (_, "tcp retransmit") => {
            let what = if fields.get("syn") == "true" {
                "retransmitted our SYN".to_string()
            } else {
                let fin = if fields.get("fin") == "true" { " with FIN" } else { "" };
                format!("retransmitted seq={} len={}{fin}", fields.get("seq"), fields.get("len"))
            };
            Some(format!("{}{what}: {}", connection(fields), why_retransmit(fields)))
        }
        (_, "tcp retransmission timeout") => Some(format!(
            "{}the retransmission timer expired with {} bytes unacknowledged: cwnd falls to one segment \
             (RFC 5681 §3.1)",
            connection(fields),
            fields.get("flight")
        )),
        (_, "tcp loss probe") => Some(format!(
            "{}tail loss probe: sent new data at seq={} to make the receiver's ACK reveal a lost tail (RFC 8985 §7.3)",
            connection(fields),
            fields.get("seq")
        )),
        (_, "path MTU lowered") => Some(format!(
            "{}the path MTU fell from {} to {} bytes ({}): segments now carry at most {} bytes (RFC 1191, RFC 8201)",
            connection(fields),
            fields.get("from"),
            fields.get("to"),
            fields.get("cause"),
            fields.get("mss")
        )),
        _ => None,
    }
}

/// Why a state changed, with the rule: from the core's `cause`.
fn why_state(from: &str, to: &str, cause: &str) -> String {
    let (why, rule) = match (cause, to) {
        ("connect", _) => ("our program connects: we send a SYN", "RFC 9293 §3.5"),
        ("rcvd SYN", _) => ("a SYN arrived at our listener: we answer with SYN,ACK", "RFC 9293 §3.5"),
        ("rcvd SYN,ACK", _) => ("the SYN,ACK answering our SYN arrived: we acknowledge it", "RFC 9293 §3.5"),
        ("rcvd ACK of SYN", _) => ("the ACK of our SYN arrived", "RFC 9293 §3.5"),
        ("rcvd ACK with a valid SYN cookie", _) => {
            ("an ACK carrying a valid SYN cookie arrived: the handshake completes from the cookie", "RFC 4987 §3.6")
        }
        ("rcvd SYN (simultaneous open)", _) => ("the peer's SYN crossed ours (simultaneous open)", "RFC 9293 §3.5"),
        ("close", "FIN-WAIT-1") => ("our program closed: we send a FIN", "RFC 9293 §3.6"),
        ("close", "LAST-ACK") => ("our program closed after the peer's FIN: we send ours", "RFC 9293 §3.6"),
        ("close", _) | ("close in SYN-SENT", _) => {
            ("our program closed before the connection was established", "RFC 9293 §3.10.4")
        }
        ("rcvd FIN", "CLOSE-WAIT") => ("the peer's FIN arrived: it sends no more, we still may", "RFC 9293 §3.6"),
        ("rcvd FIN", _) => ("the peer's FIN arrived after ours was acknowledged", "RFC 9293 §3.6"),
        ("rcvd FIN (simultaneous close)", _) => ("the peer's FIN crossed ours (simultaneous close)", "RFC 9293 §3.6"),
        ("rcvd ACK of FIN", "FIN-WAIT-2") => {
            ("the ACK of our FIN arrived: waiting for the peer's FIN", "RFC 9293 §3.6")
        }
        ("rcvd ACK of FIN", "TIME-WAIT") => ("the ACK of our FIN arrived: both FINs are acknowledged", "RFC 9293 §3.6"),
        ("rcvd ACK of FIN", _) => ("the ACK of our FIN arrived: the connection is done", "RFC 9293 §3.6"),
        ("2MSL timer", _) => ("TIME-WAIT lasted its 2×MSL", "RFC 9293 §3.4.2"),
        ("FIN-WAIT-2 timeout", _) => {
            ("the peer's FIN did not come within the FIN-WAIT-2 timeout (Linux's tcp_fin_timeout)", "RFC 9293 §3.6")
        }
        ("rcvd RST in SYN-SENT", _) => ("a RST answered our SYN: connection refused", "RFC 9293 §3.10.7.3"),
        ("rcvd RST", _) => ("a RST arrived: the peer refused or aborted the connection", "RFC 9293 §3.10.7.4"),
        ("rcvd SYN in the window", _) => {
            ("a SYN arrived in the window of a synchronized connection", "RFC 9293 §3.10.7.4")
        }
        ("new SYN reuses the 4-tuple", _) => {
            ("a new SYN reused the endpoints of a connection in TIME-WAIT", "RFC 6191")
        }
        ("retransmission limit", _) => {
            ("nothing was acknowledged after the last retransmission: giving up", "RFC 9293 §3.8.3")
        }
        ("user timeout", _) => ("data stayed unacknowledged longer than the user timeout", "RFC 5482"),
        ("keepalive probes unanswered", _) => ("the peer did not answer keep-alive probes", "RFC 9293 §3.8.4"),
        ("zero-window probes unanswered", _) => {
            ("the peer's window stayed shut and did not answer window probes", "RFC 9293 §3.8.6.1")
        }
        ("abort", _) => ("our program aborted the connection", "RFC 9293 §3.10.5"),
        ("listener closed", _) => ("its listener closed before the program accepted it", "RFC 9293 §3.10.5"),
        ("accept queue full", _) => ("the accept queue had no room for it", "RFC 9293 §3.10.7.2"),
        ("closed with unread data", _) => ("our program closed with data unread: a RST, not a FIN", "RFC 2525 §2.17"),
        ("data after close", _) => ("data arrived for a connection our program has closed: a RST", "RFC 2525 §2.17"),
        ("ICMP destination unreachable", _) => ("an ICMP destination unreachable ended it", "RFC 1122 §4.2.3.9"),
        _ => return format!("{cause} ({from} to {to})"),
    };
    format!("{why} ({rule})")
}

/// Why a segment was sent again.
fn why_retransmit(fields: &Fields) -> String {
    match fields.get("cause") {
        "RTO" => format!(
            "the oldest unacknowledged segment again, after the timeout; the timer now waits {} ms, double \
             (RFC 6298 §5.4–5.5)",
            fields.get("rto_ms")
        ),
        "duplicate SYN" => "the peer sent its SYN again, so our SYN,ACK was lost (RFC 9293 §3.10.7.4)".into(),
        "RACK loss" => {
            "RACK judged it lost: later data was acknowledged a reordering window ago (RFC 8985 §6.2)".into()
        }
        "duplicate ACKs" => "three duplicate ACKs said it was lost: fast retransmit (RFC 5681 §3.2)".into(),
        "TLP" => "tail loss probe: the last segment again, to draw an ACK (RFC 8985 §7.3)".into(),
        other => other.to_string(),
    }
}

/// What a drop reason means, in words, with the rule where one applies.
fn why_drop(reason: &str) -> &'static str {
    match reason {
        "bad header checksum" => "the IPv4 header checksum is wrong (RFC 791 §3.1)",
        "not for us" => "it is addressed to another host",
        "tcp bad checksum" | "udp bad checksum" | "icmp bad checksum" => "its checksum is wrong: damaged on the way",
        "tcp no socket" => "no connection or listener has this port: answered with RST (RFC 9293 §3.10.7.1)",
        "udp no port" => "no socket is bound to this UDP port: answered with ICMP port unreachable (RFC 1122 §4.1.3.1)",
        "udp queue full" => {
            "the socket's receive queue is at its bound: the program reads slower than datagrams arrive"
        }
        "raw queue full" => "the raw socket's receive queue is at its bound",
        "accept queue full" => {
            "the program has not accepted the established connections waiting (the accept queue is full)"
        }
        "listen backlog full" => "the listener's half-open connections are at their bound (the SYN backlog)",
        "connection limit" => "the stack holds as many connections as it may",
        "tcp out of window" => "no byte of it falls in the receive window: we answer with an ACK (RFC 9293 §3.10.7.4)",
        "tcp PAWS rejected" => "its timestamp is older than the last one seen: an old duplicate (RFC 7323 §5.3)",
        "tcp data after close" => "data for a connection nobody holds any more: answered with RST (RFC 2525 §2.17)",
        "out-of-order queue full" => "the out-of-order queue holds as many ranges as it may",
        "tcp SYN and FIN" => "SYN and FIN together make no sense: refused",
        "tcp SYN,ACK to a listener" => "a SYN,ACK reached a listener, which never sent a SYN",
        "reassembly full" => "the fragment reassembly buffer is at its bound",
        "reassembly timeout" => "not all fragments of a datagram arrived in time (RFC 791 §3.2)",
        "icmp rate limit" => "the ICMP error rate limit held an error back (RFC 1812 §4.3.2.8)",
        _ => "",
    }
}

/// A drop or overflow in words; `held` is how many like it had no line.
fn drop_line(target: &str, fields: &Fields, held: u64) -> String {
    let reason = fields.get("reason");
    let mut line = if target == "tunstack::queue" {
        format!(
            "{} queue overflowed at {}/{}: dropped ({reason})",
            fields.get("queue"),
            fields.get("len"),
            fields.get("limit")
        )
    } else {
        format!("dropped ({reason})")
    };
    let why = why_drop(reason);
    if !why.is_empty() {
        let _ = write!(line, ": {why}");
    }
    let detail = fields.get("detail");
    if !detail.is_empty() {
        let _ = write!(line, " [{detail}]");
    }
    if held > 0 {
        let _ = write!(line, "; {held} more like it since the last line");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn repeated_drops_on_one_socket_are_one_line_a_second() {
        let out = Shared::default();
        let subscriber = tracing_subscriber::registry().with(Explain::new(out.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            for ms in [0u64, 10, 20, 1_000, 1_500, 2_100] {
                virtual_time::set(Duration::from_millis(ms));
                tracing::debug!(target: "tunstack::drop", reason = "udp no port", repeated = 0u64, detail = "port=9", "drop");
            }
            tracing::debug!(target: "tunstack::drop", reason = "udp no port", repeated = 0u64, detail = "port=10", "drop");
        });
        let text = String::from_utf8(out.0.lock().clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "0.000000s dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable (RFC 1122 §4.1.3.1) [port=9]",
                "1.000000s dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable (RFC 1122 §4.1.3.1) [port=9]; 2 more like it since the last line",
                "2.100000s dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable (RFC 1122 §4.1.3.1) [port=9]; 1 more like it since the last line",
                "2.100000s dropped (udp no port): no socket is bound to this UDP port: answered with ICMP port unreachable (RFC 1122 §4.1.3.1) [port=10]",
            ]
        );
    }

    #[test]
    fn unknown_causes_are_still_told() {
        assert_eq!(why_state("CLOSED", "ESTABLISHED", "planted"), "planted (CLOSED to ESTABLISHED)");
    }
}
