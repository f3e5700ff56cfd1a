//! What the simulator remembers of the packets it moves: an in-memory trace to
//! compare runs ([`Sim::record`](super::Sim::record)) and a pcapng capture to
//! look at one in Wireshark ([`Sim::capture`](super::Sim::capture)).
//!
//! The capture has one interface per host, as if tcpdump ran on each: host A's
//! (interface 0, `host-a`) shows what A sent (outbound) and what reached A
//! (inbound), host B's (interface 1, `host-b`) the same for B. A packet the link
//! delivered thus appears twice, once leaving and once arriving — compare the two
//! to see what the link did to it (delay, a flipped bit); one it lost appears
//! only leaving. A packet the receiving host dropped carries the reason as its
//! comment (`dropped: tcp bad checksum`), as in `tunstack serve --pcap`.
//! Timestamps are virtual time counted from 1970-01-01, so the same seed writes
//! the same file, byte for byte. To see one host's view only, filter on
//! `frame.interface_id == 0` (or 1).
//!
//! With a [middlebox](super::middlebox) installed when the capture starts, a
//! third interface (2, named after the box: `nat`) shows its hop: each packet it
//! took in (inbound; commented `dropped by nat` if it went no further) and each
//! it sent on (outbound; commented `rewritten by nat` if it differs from what
//! came in, `injected by nat` if the box made it up). So a NAT's translation is
//! one filter away: `frame.interface_id == 2`, or compare a packet on `host-a`
//! with the next one on `nat`. The trace has the same hops as
//! [`TraceKind::Intercepted`] and [`TraceKind::Forwarded`] entries.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::link::Direction;
use crate::capture::{self, drop_comment, Capture};
use crate::shared::DropReason;
use crate::time::Instant;

/// Whether a traced packet was entering the link or leaving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceKind {
    /// A host transmitted it (before the middlebox and the link's faults).
    Sent,
    /// It reached the other host (after the link's faults and the middlebox).
    Delivered,
    /// The middlebox took it in (A's packets as A sent them, B's as the link
    /// delivered them).
    Intercepted,
    /// The middlebox sent it on: passed, rewritten or injected. A packet it
    /// dropped has an `Intercepted` entry and no `Forwarded` one.
    Forwarded,
}

/// One packet seen by the simulator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    pub at: Instant,
    pub direction: Direction,
    pub kind: TraceKind,
    pub packet: Vec<u8>,
    /// For a delivered packet: why the receiving host dropped it, if it did.
    pub dropped: Option<DropReason>,
}

/// One line per packet, tcpdump-like with packetdrill's segment notation:
/// `1.234567 A>B sent 49152>80 P. 1:1449(1448) ack 1 win 256 <…>`, and the
/// receiver's drop reason after a delivered packet it dropped. Packets that do
/// not parse as TCP say why (`bad TCP checksum`, `not TCP but IP protocol 17`).
impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.at.micros();
        let way = match self.direction {
            Direction::AToB => "A>B",
            Direction::BToA => "B>A",
        };
        let kind = match self.kind {
            TraceKind::Sent => "sent",
            TraceKind::Delivered => "delivered",
            TraceKind::Intercepted => "intercepted",
            TraceKind::Forwarded => "forwarded",
        };
        write!(f, "{}.{:06} {way} {kind} ", micros / 1_000_000, micros % 1_000_000)?;
        match crate::script::packet::parse(&self.packet) {
            Ok(p) => write!(f, "{}>{} {}", p.sport, p.dport, p.seg)?,
            Err(why) => write!(f, "({} bytes: {why})", self.packet.len())?,
        }
        match self.dropped {
            Some(reason) => write!(f, " [dropped: {reason}]"),
            None => Ok(()),
        }
    }
}

/// The capture's interface for the middlebox's hop.
const MIDDLEBOX: u32 = 2;

/// The trace and the capture, each kept only once asked for.
#[derive(Default)]
pub(super) struct Recorder {
    trace: Option<Vec<TraceEntry>>,
    capture: Option<Capture>,
    /// The first capture write that failed (later packets are not written).
    error: Option<io::Error>,
    /// The capture has the middlebox's interface (2).
    middlebox_interface: bool,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("trace", &self.trace.as_ref().map(Vec::len))
            .field("capture", &self.capture.is_some())
            .field("error", &self.error)
            .finish()
    }
}

impl Recorder {
    pub(super) fn record(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    pub(super) fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or_default()
    }

    /// Whether packets are being traced or captured at all.
    pub(super) fn active(&self) -> bool {
        self.trace.is_some() || self.capture.is_some()
    }

    /// Start writing a pcapng file at `path` (replacing any capture before), with
    /// an interface for the middlebox named `middlebox`, if there is one.
    pub(super) fn capture(&mut self, path: &Path, middlebox: Option<&str>) -> io::Result<()> {
        let file =
            std::fs::File::create(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut interfaces = vec!["host-a", "host-b"];
        interfaces.extend(middlebox);
        self.capture = Some(Capture::with_interfaces(io::BufWriter::new(file), &interfaces)?);
        self.middlebox_interface = middlebox.is_some();
        self.error = None;
        Ok(())
    }

    /// Write what is buffered, and report the first write that failed.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.capture.as_ref().map_or(Ok(()), Capture::flush)
    }

    /// One packet: `Sent` by the host `direction` starts from, or `Delivered` to
    /// the other one (`dropped` by it, or not taken in at all: `halted`).
    pub(super) fn note(
        &mut self,
        at: Instant,
        direction: Direction,
        kind: TraceKind,
        packet: &[u8],
        dropped: Option<DropReason>,
        halted: bool,
    ) {
        self.push(at, direction, kind, packet, dropped, || match (halted, dropped) {
            (true, _) => Some("dropped: host halted".to_string()),
            (false, reason) => reason.map(drop_comment),
        });
    }

    /// One packet through the middlebox `name`: `seen` going `direction`, what
    /// it `passed` on (`None`: dropped), and what it injected.
    pub(super) fn note_middlebox(
        &mut self,
        at: Instant,
        direction: Direction,
        name: &str,
        seen: &[u8],
        passed: Option<&[u8]>,
        injected: &[(Direction, Vec<u8>)],
    ) {
        let dropped = || passed.is_none().then(|| format!("dropped by {name}"));
        self.push(at, direction, TraceKind::Intercepted, seen, None, dropped);
        if let Some(packet) = passed {
            let rewritten = || (packet != seen).then(|| format!("rewritten by {name}"));
            self.push(at, direction, TraceKind::Forwarded, packet, None, rewritten);
        }
        for (direction, packet) in injected {
            self.push(at, *direction, TraceKind::Forwarded, packet, None, || Some(format!("injected by {name}")));
        }
    }

    /// Keep one packet in the trace and write it to the capture on the interface
    /// of its hop, with the `comment` (made only if there is a capture).
    fn push(
        &mut self,
        at: Instant,
        direction: Direction,
        kind: TraceKind,
        packet: &[u8],
        dropped: Option<DropReason>,
        comment: impl FnOnce() -> Option<String>,
    ) {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEntry { at, direction, kind, packet: packet.to_vec(), dropped });
        }
        let (interface, way) = match (kind, direction) {
            (TraceKind::Sent, Direction::AToB) => (0, capture::Direction::Outbound),
            (TraceKind::Sent, Direction::BToA) => (1, capture::Direction::Outbound),
            (TraceKind::Delivered, Direction::AToB) => (1, capture::Direction::Inbound),
            (TraceKind::Delivered, Direction::BToA) => (0, capture::Direction::Inbound),
            (TraceKind::Intercepted, _) => (MIDDLEBOX, capture::Direction::Inbound),
            (TraceKind::Forwarded, _) => (MIDDLEBOX, capture::Direction::Outbound),
        };
        let Some(file) = &self.capture else { return };
        if self.error.is_some() || (interface == MIDDLEBOX && !self.middlebox_interface) {
            return;
        }
        let timestamp = Duration::from_micros(at.micros());
        if let Err(e) = file.record_on(interface, timestamp, way, packet, comment().as_deref()) {
            self.error = Some(e);
        }
    }
}
