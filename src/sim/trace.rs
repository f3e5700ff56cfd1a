//! What the simulator remembers of the packets it moves: an in-memory trace to
//! compare runs ([`Sim::record`](super::Sim::record)) and a pcapng capture to
//! look at one in Wireshark ([`Sim::capture`](super::Sim::capture)).
//!
//! The capture has one interface per host, as if tcpdump ran on each: host A's
//! (interface 0, `host-a`) shows what A sent (outbound) and what reached A
//! (inbound), host B's (interface 1, `host-b`) the same for B. A packet the link
//! delivered thus appears twice, once leaving and once arriving — compare the two
//! to see what the link did to it (delay, a flipped bit); one it lost appears
//! only leaving. A packet the receiving stack dropped carries the reason as its
//! comment (`dropped: tcp bad checksum`), as in `tunstack serve --pcap`.
//! Timestamps are virtual time counted from 1970-01-01, so the same seed writes
//! the same file, byte for byte. To see one host's view only, filter on
//! `frame.interface_id == 0` (or 1).

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
    /// A stack transmitted it (before the link's faults).
    Sent,
    /// The link delivered it to the other stack (after them).
    Delivered,
}

/// One packet seen by the simulator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceEntry {
    pub at: Instant,
    pub direction: Direction,
    pub kind: TraceKind,
    pub packet: Vec<u8>,
    /// For a delivered packet: why the receiving stack dropped it, if it did.
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

/// The trace and the capture, each kept only once asked for.
#[derive(Default)]
pub(super) struct Recorder {
    trace: Option<Vec<TraceEntry>>,
    capture: Option<Capture>,
    /// The first capture write that failed (later packets are not written).
    error: Option<io::Error>,
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

    /// Start writing a pcapng file at `path` (replacing any capture before).
    pub(super) fn capture(&mut self, path: &Path) -> io::Result<()> {
        let file =
            std::fs::File::create(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.capture = Some(Capture::with_interfaces(io::BufWriter::new(file), &["host-a", "host-b"])?);
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
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEntry { at, direction, kind, packet: packet.to_vec(), dropped });
        }
        let Some(file) = &self.capture else { return };
        if self.error.is_some() {
            return;
        }
        let (interface, way) = match (kind, direction) {
            (TraceKind::Sent, Direction::AToB) => (0, capture::Direction::Outbound),
            (TraceKind::Sent, Direction::BToA) => (1, capture::Direction::Outbound),
            (TraceKind::Delivered, Direction::AToB) => (1, capture::Direction::Inbound),
            (TraceKind::Delivered, Direction::BToA) => (0, capture::Direction::Inbound),
        };
        let comment = match (halted, dropped) {
            (true, _) => Some("dropped: host halted".to_string()),
            (false, reason) => reason.map(drop_comment),
        };
        let timestamp = Duration::from_micros(at.micros());
        if let Err(e) = file.record_on(interface, timestamp, way, packet, comment.as_deref()) {
            self.error = Some(e);
        }
    }
}
