//! Reading a capture: pcap or pcapng, from tunstack, tcpdump or tshark, into
//! [`Frame`]s — a timestamp, the interface it was seen on, the IP packet and
//! the packet's comment.
//!
//! The two formats are told apart by their first four bytes (pcapng's Section
//! Header Block type `0x0A0D0D0A`; pcap's magic `0xA1B2C3D4` in either byte order,
//! or `0xA1B23C4D` for nanosecond timestamps). A pcapng timestamp counts units of
//! its interface's `if_tsresol` (microseconds when the option is absent, as
//! tcpdump writes; nanoseconds from tunstack and dumpcap), so each interface's
//! resolution is read from its Interface Description Block.
//!
//! Link types understood: raw IP (`LINKTYPE_RAW`, `LINKTYPE_IPV4`: a TUN, our
//! captures), Ethernet, Linux cooked capture v1 and v2 (`tcpdump -i any`) and BSD
//! loopback. Frames of other link types, and blocks that are not packets, are
//! skipped and counted.

use std::io;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

/// One captured packet, from its IP header on.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// When it was captured, in nanoseconds since the capture's epoch.
    pub time_ns: u128,
    /// The interface it was captured on (0 in a pcap file).
    pub interface: u32,
    /// The packet from its IP header on (the link header removed).
    pub ip: Vec<u8>,
    /// The packet's comment (tunstack writes `dropped: <reason>` there).
    pub comment: Option<String>,
}

/// What a capture holds that the plot can use.
#[derive(Debug, Default)]
pub struct Capture {
    /// The IP packets, in file order.
    pub frames: Vec<Frame>,
    /// Each interface's name, by interface id (`if0`, `if1`… when unnamed).
    pub interfaces: Vec<String>,
    /// Packets skipped: a link type not understood, or a link header cut short.
    pub skipped: usize,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Read a whole pcap or pcapng file held in `bytes`.
pub fn read_capture(bytes: &[u8]) -> io::Result<Capture> {
    match bytes.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(bytes),
        Some(magic)
            if [
                [0xa1, 0xb2, 0xc3, 0xd4],
                [0xd4, 0xc3, 0xb2, 0xa1],
                [0xa1, 0xb2, 0x3c, 0x4d],
                [0x4d, 0x3c, 0xb2, 0xa1],
            ]
            .iter()
            .any(|m| m == magic) =>
        {
            read_pcap(bytes)
        }
        _ => Err(invalid("not a pcap or pcapng file (unknown magic number)")),
    }
}

fn read_pcap(bytes: &[u8]) -> io::Result<Capture> {
    let mut reader = PcapReader::new(bytes).map_err(|e| invalid(format!("pcap header: {e}")))?;
    let link = reader.header().datalink;
    let mut capture = Capture { interfaces: vec!["if0".into()], ..Capture::default() };
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| invalid(format!("pcap packet {}: {e}", capture.frames.len() + 1)))?;
        match strip_link(link, &packet.data) {
            Some(ip) => capture.frames.push(Frame {
                time_ns: packet.timestamp.as_nanos(),
                interface: 0,
                ip: ip.to_vec(),
                comment: None,
            }),
            None => capture.skipped += 1,
        }
    }
    Ok(capture)
}

/// An interface of a pcapng section: its link type, name and nanoseconds per
/// timestamp unit (a fraction when finer than a nanosecond).
struct Interface {
    link: DataLink,
    /// Timestamp units per second.
    units_per_second: u128,
}

fn read_pcapng(bytes: &[u8]) -> io::Result<Capture> {
    let mut reader = PcapNgReader::new(bytes).map_err(|e| invalid(format!("pcapng section header: {e}")))?;
    let mut capture = Capture::default();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut blocks = 0usize;
    while let Some(block) = reader.next_block() {
        blocks += 1;
        let block = block.map_err(|e| invalid(format!("pcapng block {blocks}: {e}")))?;
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let mut units_per_second = 1_000_000;
                let mut name = format!("if{}", capture.interfaces.len());
                for option in &idb.options {
                    match option {
                        // if_tsresol: the high bit says a power of 2, else of 10.
                        InterfaceDescriptionOption::IfTsResol(r) if r & 0x80 == 0 => {
                            units_per_second = 10u128.checked_pow(u32::from(*r)).unwrap_or(1_000_000)
                        }
                        InterfaceDescriptionOption::IfTsResol(r) => {
                            units_per_second = 1u128.checked_shl(u32::from(r & 0x7f)).unwrap_or(1_000_000)
                        }
                        InterfaceDescriptionOption::IfName(n) => name = n.to_string(),
                        _ => {}
                    }
                }
                interfaces.push(Interface { link: idb.linktype, units_per_second: units_per_second.max(1) });
                capture.interfaces.push(name);
            }
            Block::EnhancedPacket(epb) => {
                let Some(interface) = interfaces.get(epb.interface_id as usize) else {
                    return Err(invalid(format!("pcapng block {blocks}: interface {} undeclared", epb.interface_id)));
                };
                // pcap-file reads the raw 64-bit count as nanoseconds.
                let units = epb.timestamp.as_nanos();
                let time_ns = units.saturating_mul(1_000_000_000) / interface.units_per_second;
                let comment = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                });
                match strip_link(interface.link, &epb.data) {
                    Some(ip) => {
                        capture.frames.push(Frame { time_ns, interface: epb.interface_id, ip: ip.to_vec(), comment })
                    }
                    None => capture.skipped += 1,
                }
            }
            Block::SimplePacket(spb) => match interfaces.first().and_then(|i| strip_link(i.link, &spb.data)) {
                // A Simple Packet Block has no timestamp: it sorts with the last one.
                Some(ip) => {
                    let time_ns = capture.frames.last().map_or(0, |f| f.time_ns);
                    capture.frames.push(Frame { time_ns, interface: 0, ip: ip.to_vec(), comment: None })
                }
                None => capture.skipped += 1,
            },
            _ => {}
        }
    }
    Ok(capture)
}

/// The IP packet inside a frame of link type `link`, or `None` when the link
/// type is not understood, the header is cut short or it does not carry IP.
fn strip_link(link: DataLink, data: &[u8]) -> Option<&[u8]> {
    let (header, ethertype_at) = match link {
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => return Some(data),
        // Destination and source MAC, then the EtherType (VLAN tags not followed).
        DataLink::ETHERNET => (14, Some(12)),
        // Linux cooked v1: 16 bytes, the protocol last; v2: 20 bytes, protocol first.
        DataLink::LINUX_SLL => (16, Some(14)),
        DataLink::LINUX_SLL2 => (20, Some(0)),
        // BSD loopback: a 4-byte address family in the host's byte order.
        DataLink::NULL | DataLink::LOOP => (4, None),
        _ => return None,
    };
    if let Some(at) = ethertype_at {
        let ethertype = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
        if ethertype != 0x0800 && ethertype != 0x86dd {
            return None;
        }
    }
    data.get(header..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_files_are_refused() {
        assert!(read_capture(b"").is_err());
        assert!(read_capture(b"GIF89a....").is_err());
    }

    #[test]
    fn link_headers_are_removed() {
        let ip = [0x45u8, 0, 0, 20];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(strip_link(DataLink::ETHERNET, &eth), Some(&ip[..]));
        let mut arp = eth.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(strip_link(DataLink::ETHERNET, &arp), None);
        assert_eq!(strip_link(DataLink::ETHERNET, &eth[..10]), None);
        assert_eq!(strip_link(DataLink::RAW, &ip), Some(&ip[..]));
    }
}
