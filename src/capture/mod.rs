//! Packet capture: every packet the stack sends and receives, written as a pcapng
//! file that Wireshark and `tshark` read.
//!
//! Two ways in:
//!
//! * [`Capture`] — the writer. Anything that moves packets (the runtime through
//!   [`CaptureDevice`], a simulated link, a test) calls
//!   [`record`](Capture::record) with a timestamp, a [`Direction`] and the packet.
//! * [`CaptureDevice`] — a [`Device`] wrapper that records every packet passing
//!   through it, timestamped with the wall clock, and writes a packet the stack
//!   dropped with the reason as its comment.
//!
//! The file holds one interface of link type `LINKTYPE_RAW` (101: each packet
//! starts with its IPv4 or IPv6 header, as on a TUN) with nanosecond timestamps — or
//! several ([`Capture::with_interfaces`], e.g. one per simulated host, like
//! running tcpdump on each; Wireshark's `frame.interface_id` tells them apart). Each
//! packet is an Enhanced Packet Block whose `epb_flags` say inbound (to the stack)
//! or outbound (from it); Wireshark shows them in the "Direction" column of
//! `frame.packet_flags_direction`. A dropped packet carries an `opt_comment` such as
//! `dropped: tcp bad checksum` (Wireshark: `frame.comment`, or `pkt_comment` in
//! older versions).
//!
//! Wrap the device the stack really talks to: put the capture *inside* the fault
//! injector (`CaptureDevice::new(FaultyDevice::new(tun, …), …)`), so the file shows
//! what the stack sent and received, not what the simulated network did to it. A
//! packet the injector loses on the way in never reaches the capture; one it loses on
//! the way out is in the capture but never reached the kernel.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness, PcapError};

use crate::device::Device;
use crate::shared::DropReason;
use crate::RxChecksum;

/// Which way a packet went, seen from the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the link to the stack.
    Inbound,
    /// From the stack to the link.
    Outbound,
}

impl Direction {
    /// The `epb_flags` word: bits 0–1 are the direction (pcapng §4.3.1: 01 inbound,
    /// 10 outbound); the other bits (reception type, FCS length, errors) stay 0.
    fn epb_flags(self) -> u32 {
        match self {
            Direction::Inbound => 0b01,
            Direction::Outbound => 0b10,
        }
    }
}

/// `if_tsresol` = 9: timestamps count nanoseconds. `pcap-file` writes every
/// timestamp in nanoseconds, so the interface must say so, or readers would take
/// them for the default microseconds and place the capture in the distant future.
const TSRESOL_NANOS: u8 = 9;

/// Largest packet kept whole: an IPv4 datagram cannot be longer.
const SNAPLEN: u32 = 65_535;

/// A pcapng writer with one raw-IP interface. Cheap to share (`Arc`); each
/// record is written whole under a lock, so several threads may record at once.
pub struct Capture {
    writer: Mutex<PcapNgWriter<Box<dyn Write + Send>>>,
}

impl Capture {
    /// Create (or truncate) `path` and write the file header.
    pub fn create(path: impl AsRef<Path>, interface: &str) -> io::Result<Capture> {
        let file = File::create(path.as_ref())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.as_ref().display())))?;
        Capture::new(BufWriter::new(file), interface)
    }

    /// Write the file header (section and interface description) to `out`; the
    /// packets follow as they are recorded. `interface` names the interface in the
    /// file (`if_name`), e.g. the TUN's name.
    pub fn new(out: impl Write + Send + 'static, interface: &str) -> io::Result<Capture> {
        Capture::with_interfaces(out, &[interface])
    }

    /// Like [`new`](Capture::new), with one interface per name, numbered from 0 in
    /// that order for [`record_on`](Capture::record_on).
    pub fn with_interfaces(out: impl Write + Send + 'static, interfaces: &[&str]) -> io::Result<Capture> {
        let section = SectionHeaderBlock {
            endianness: Endianness::native(),
            options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(concat!(
                "tunstack ",
                env!("CARGO_PKG_VERSION")
            )))],
            ..SectionHeaderBlock::default()
        };
        let out: Box<dyn Write + Send> = Box::new(out);
        let mut writer = PcapNgWriter::with_section_header(out, section).map_err(to_io)?;
        for name in interfaces {
            let interface = InterfaceDescriptionBlock {
                linktype: DataLink::RAW,
                snaplen: SNAPLEN,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.to_string())),
                    InterfaceDescriptionOption::IfTsResol(TSRESOL_NANOS),
                ],
            };
            writer.write_pcapng_block(interface).map_err(to_io)?;
        }
        Ok(Capture { writer: Mutex::new(writer) })
    }

    /// Write one packet. `timestamp` is the time since 1970-01-01 UTC (a simulator
    /// may pass its virtual time; the capture then starts in 1970). `comment`
    /// becomes the packet's `opt_comment`.
    pub fn record(
        &self,
        timestamp: Duration,
        direction: Direction,
        packet: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        self.record_on(0, timestamp, direction, packet, comment)
    }

    /// [`record`](Capture::record) on interface number `interface` (see
    /// [`with_interfaces`](Capture::with_interfaces)).
    pub fn record_on(
        &self,
        interface: u32,
        timestamp: Duration,
        direction: Direction,
        packet: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let mut writer = self.writer.lock();
        write_packet(&mut writer, interface, timestamp, direction, packet, comment)
    }

    /// Write one packet stamped with the wall clock, read under the writer's lock so
    /// records from several threads appear in time order.
    pub fn record_now(&self, direction: Direction, packet: &[u8], comment: Option<&str>) -> io::Result<()> {
        let mut writer = self.writer.lock();
        write_packet(&mut writer, 0, wall_clock(), direction, packet, comment)
    }

    /// Push buffered records to the file.
    pub fn flush(&self) -> io::Result<()> {
        self.writer.lock().get_mut().flush()
    }
}

fn write_packet(
    writer: &mut PcapNgWriter<Box<dyn Write + Send>>,
    interface_id: u32,
    timestamp: Duration,
    direction: Direction,
    packet: &[u8],
    comment: Option<&str>,
) -> io::Result<()> {
    let mut options = vec![EnhancedPacketOption::Flags(direction.epb_flags())];
    if let Some(comment) = comment {
        options.push(EnhancedPacketOption::Comment(Cow::Borrowed(comment)));
    }
    let packet = &packet[..packet.len().min(SNAPLEN as usize)];
    let block = EnhancedPacketBlock {
        interface_id,
        timestamp,
        original_len: u32::try_from(packet.len()).unwrap_or(u32::MAX),
        data: Cow::Borrowed(packet),
        options,
    };
    writer.write_pcapng_block(block).map(drop).map_err(to_io)
}

/// Time since the Unix epoch, as pcapng counts it.
fn wall_clock() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn to_io(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

/// The comment a dropped packet carries in the capture.
pub fn drop_comment(reason: DropReason) -> String {
    format!("dropped: {reason}")
}

/// A received packet waiting for the stack's verdict: when it arrived, and its
/// bytes (kept so it is recorded even if no verdict ever comes).
struct Pending {
    at: Duration,
    packet: Vec<u8>,
}

/// A [`Device`] that records every packet through it in a [`Capture`].
///
/// Sent packets are written at once. A received packet is written when the stack
/// has processed it ([`Device::processed`], which the runtime calls after every
/// `Stack::input`), with the time it was received and, if the stack dropped it,
/// the reason as a comment: one record per packet, never a second copy.
pub struct CaptureDevice<D> {
    inner: D,
    capture: Arc<Capture>,
    pending: Mutex<Option<Pending>>,
    /// Set after the first failed write, so a full disk warns once, not per packet.
    failed: AtomicBool,
    /// Records written since the last flush.
    dirty: AtomicBool,
    /// The stack leaves TCP checksums to the device below: the file gets them
    /// filled in (`record_out`).
    tx_partial: AtomicBool,
}

impl<D: Device> CaptureDevice<D> {
    /// Record what passes through `inner` into `capture`.
    pub fn new(inner: D, capture: Arc<Capture>) -> Self {
        CaptureDevice {
            inner,
            capture,
            pending: Mutex::new(None),
            failed: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            tx_partial: AtomicBool::new(false),
        }
    }

    /// The capture this device writes to.
    pub fn capture(&self) -> &Arc<Capture> {
        &self.capture
    }

    fn check(&self, result: io::Result<()>) {
        match result {
            Ok(()) => self.dirty.store(true, Ordering::Relaxed),
            Err(e) => {
                if !self.failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "pcap capture write failed; later packets may be missing");
                }
            }
        }
    }

    /// Record a packet the stack sent, as it will cross the link: a TCP checksum
    /// left to the device is filled in the file's copy.
    fn record_out(&self, packet: &[u8]) {
        if self.tx_partial.load(Ordering::Relaxed) {
            let mut copy = packet.to_vec();
            crate::wire::fill_transport_checksum(&mut copy);
            self.check(self.capture.record_now(Direction::Outbound, &copy, None));
        } else {
            self.check(self.capture.record_now(Direction::Outbound, packet, None));
        }
    }

    /// Write a received packet that got no verdict (the caller never reported one).
    fn flush_pending(&self) {
        if let Some(p) = self.pending.lock().take() {
            self.check(self.capture.record(p.at, Direction::Inbound, &p.packet, None));
        }
    }
}

impl<D: Device> Device for CaptureDevice<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.flush_pending();
        let received = self.inner.recv(buf)?;
        if let Some(n) = received {
            let mut packet = buf.get(..n).unwrap_or_default().to_vec();
            // The file shows the packet as it would have crossed a wire: a
            // checksum the device vouched for and left unfinished is finished
            // in the copy (the stack itself does not need it).
            if self.inner.rx_checksum() == RxChecksum::Vouched {
                crate::wire::fill_transport_checksum(&mut packet);
            }
            *self.pending.lock() = Some(Pending { at: wall_clock(), packet });
        }
        Ok(received)
    }

    fn rx_checksum(&self) -> RxChecksum {
        self.inner.rx_checksum()
    }

    fn processed(&self, packet: &[u8], dropped: Option<DropReason>) {
        let Some(p) = self.pending.lock().take() else {
            return;
        };
        let comment = dropped.map(drop_comment);
        self.check(self.capture.record(p.at, Direction::Inbound, &p.packet, comment.as_deref()));
        self.inner.processed(packet, dropped);
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.flush_pending();
        self.record_out(packet);
        self.inner.send(packet)
    }

    fn send_batch(&self, packets: &[Vec<u8>]) -> io::Result<()> {
        self.flush_pending();
        for packet in packets {
            self.record_out(packet);
        }
        self.inner.send_batch(packets)
    }

    fn offload_tx_checksum(&self) -> bool {
        let offloaded = self.inner.offload_tx_checksum();
        self.tx_partial.store(offloaded, Ordering::Relaxed);
        offloaded
    }

    fn readable_fd(&self) -> RawFd {
        self.inner.readable_fd()
    }

    /// Also flushes the file once per driver round, so a capture can be read while
    /// the stack runs.
    fn service(&self) -> Option<std::time::Instant> {
        if self.dirty.swap(false, Ordering::Relaxed) {
            if let Err(e) = self.capture.flush() {
                self.check(Err(e));
            }
        }
        self.inner.service()
    }
}

impl<D> Drop for CaptureDevice<D> {
    fn drop(&mut self) {
        if let Some(p) = self.pending.get_mut().take() {
            let _ = self.capture.record(p.at, Direction::Inbound, &p.packet, None);
        }
        let _ = self.capture.flush();
    }
}

#[cfg(test)]
mod tests;
