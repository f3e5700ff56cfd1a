//! Rewriting a packet in place, as routers and middleboxes do: the addresses and
//! ports of a TCP or UDP packet (NAT), TCP options (stripping them, clamping the
//! MSS).
//!
//! Checksums are updated incrementally (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')),
//! from the bytes that changed, not recomputed: a packet that was corrupt before
//! the rewrite is still corrupt after it, as with a real NAT. Recomputing would
//! bless the damage with a fresh checksum and the receiver would take it in.
//!
//! Every function takes a whole IPv4 packet, refuses what it cannot rewrite
//! safely ([`RewriteError`]) and leaves the packet unchanged then. Fragments are
//! refused: only the first holds the ports, and the checksum covers the whole
//! datagram (a NAT reassembles first, as Linux's conntrack does).

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::checksum::Sum16BitWords;
use etherparse::Ipv4HeaderSlice;

use super::field::read_u16;
use super::{ip_protocol, ipv4, tcp, udp};

/// Why a packet could not be rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// Not a whole IPv4 header, or a total length outside the buffer.
    BadIpv4,
    /// A fragment (more fragments, or an offset).
    Fragment,
    /// A protocol other than the function handles (its number).
    Protocol(u8),
    /// The transport header is cut short.
    BadTransport,
}

/// The IP protocol and both ends of a TCP or UDP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub protocol: u8,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
}

/// Where a packet's transport header starts and ends, and its checksum field.
struct Layout {
    ip_header: usize,
    end: usize,
    protocol: u8,
    checksum: super::field::Field,
}

/// Check that `packet` is one whole unfragmented IPv4 datagram carrying TCP or
/// UDP with a whole header, and say where things are.
fn layout(packet: &[u8]) -> Result<Layout, RewriteError> {
    let ip = Ipv4HeaderSlice::from_slice(packet).map_err(|_| RewriteError::BadIpv4)?;
    let (ip_header, end) = (ip.slice().len(), usize::from(ip.total_len()));
    if end > packet.len() || end < ip_header {
        return Err(RewriteError::BadIpv4);
    }
    if ip.more_fragments() || ip.fragments_offset().value() != 0 {
        return Err(RewriteError::Fragment);
    }
    let protocol = ip.protocol().0;
    let (min, checksum) = match protocol {
        ip_protocol::TCP => (tcp::MIN_HEADER_LEN, tcp::field::CHECKSUM),
        ip_protocol::UDP => (udp::HEADER_LEN, udp::field::CHECKSUM),
        other => return Err(RewriteError::Protocol(other)),
    };
    if end - ip_header < min {
        return Err(RewriteError::BadTransport);
    }
    Ok(Layout { ip_header, end, protocol, checksum })
}

/// The protocol and both ends of a TCP or UDP `packet`.
pub fn flow(packet: &[u8]) -> Result<Flow, RewriteError> {
    let at = layout(packet)?;
    let addr = |field| read_u32_addr(packet, field);
    let port = |field: super::field::Field| read_u16(&packet[at.ip_header..], field).ok_or(RewriteError::BadTransport);
    Ok(Flow {
        protocol: at.protocol,
        src: SocketAddrV4::new(addr(ipv4::field::SRC_ADDR)?, port(tcp::field::SRC_PORT)?),
        dst: SocketAddrV4::new(addr(ipv4::field::DST_ADDR)?, port(tcp::field::DST_PORT)?),
    })
}

fn read_u32_addr(packet: &[u8], field: super::field::Field) -> Result<Ipv4Addr, RewriteError> {
    super::field::read_u32(packet, field).map(Ipv4Addr::from).ok_or(RewriteError::BadIpv4)
}

/// Which end of a flow to rewrite.
#[derive(Clone, Copy)]
enum End {
    Source,
    Destination,
}

/// Make `to` the source address and port of a TCP or UDP `packet` (source NAT),
/// updating the IPv4 header checksum and the transport checksum (whose
/// pseudo-header holds the address). A UDP datagram sent without a checksum
/// (zero) keeps none.
pub fn set_source(packet: &mut [u8], to: SocketAddrV4) -> Result<(), RewriteError> {
    set_end(packet, End::Source, to)
}

/// Make `to` the destination address and port of a TCP or UDP `packet` (the
/// way back through a NAT), updating both checksums as [`set_source`] does.
pub fn set_destination(packet: &mut [u8], to: SocketAddrV4) -> Result<(), RewriteError> {
    set_end(packet, End::Destination, to)
}

fn set_end(packet: &mut [u8], end: End, to: SocketAddrV4) -> Result<(), RewriteError> {
    let at = layout(packet)?;
    let (addr, port) = match end {
        End::Source => (ipv4::field::SRC_ADDR, tcp::field::SRC_PORT),
        End::Destination => (ipv4::field::DST_ADDR, tcp::field::DST_PORT),
    };
    let port = at.ip_header + port.start..at.ip_header + port.end;
    let checksum = at.ip_header + at.checksum.start..at.ip_header + at.checksum.end;
    let (new_addr, new_port) = (to.ip().octets(), to.port().to_be_bytes());
    let (old_addr, old_port) = (copy::<4>(&packet[addr.clone()]), copy::<2>(&packet[port.clone()]));
    let ip_sum = copy::<2>(&packet[ipv4::field::CHECKSUM]);
    packet[ipv4::field::CHECKSUM].copy_from_slice(&adjust_checksum(ip_sum, &old_addr, &new_addr));
    let sum = copy::<2>(&packet[checksum.clone()]);
    let unchecked_udp = at.protocol == ip_protocol::UDP && sum == [0, 0];
    if !unchecked_udp {
        let sum = adjust_checksum(adjust_checksum(sum, &old_addr, &new_addr), &old_port, &new_port);
        // In UDP, zero means "no checksum": a computed zero is sent as all ones.
        let sum = if at.protocol == ip_protocol::UDP && sum == [0, 0] { [0xff, 0xff] } else { sum };
        packet[checksum].copy_from_slice(&sum);
    }
    packet[addr].copy_from_slice(&new_addr);
    packet[port].copy_from_slice(&new_port);
    Ok(())
}

fn copy<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

/// The checksum field `checksum` (as stored) after the bytes `old` of the data it
/// covers became `new` (RFC 1624 eqn. 3). `old` and `new` have the same length and
/// start at an even offset of the checksummed data; an odd length is padded with
/// a zero byte, as the checksum itself pads.
pub fn adjust_checksum(checksum: [u8; 2], old: &[u8], new: &[u8]) -> [u8; 2] {
    let word = |pair: &[u8]| [pair[0], pair.get(1).copied().unwrap_or(0)];
    let mut sum = Sum16BitWords::new().add_2bytes([!checksum[0], !checksum[1]]);
    for pair in old.chunks(2) {
        let [hi, lo] = word(pair);
        sum = sum.add_2bytes([!hi, !lo]);
    }
    for pair in new.chunks(2) {
        sum = sum.add_2bytes(word(pair));
    }
    // `Sum16BitWords` adds in native byte order, so its result goes back in it.
    sum.ones_complement().to_ne_bytes()
}

/// The TCP header of an unfragmented IPv4 `packet`, checked whole: its range in
/// `packet`.
fn tcp_header(packet: &[u8]) -> Result<core::ops::Range<usize>, RewriteError> {
    let at = layout(packet)?;
    if at.protocol != ip_protocol::TCP {
        return Err(RewriteError::Protocol(at.protocol));
    }
    let offset = packet.get(at.ip_header + tcp::field::DATA_OFF).ok_or(RewriteError::BadTransport)?;
    let len = usize::from(offset >> 4) * 4;
    if len < tcp::MIN_HEADER_LEN || at.ip_header + len > at.end {
        return Err(RewriteError::BadTransport);
    }
    Ok(at.ip_header..at.ip_header + len)
}

/// Whether `packet` is a TCP segment with SYN set (a SYN or a SYN,ACK).
pub fn is_tcp_syn(packet: &[u8]) -> bool {
    tcp_header(packet).is_ok_and(|h| packet[h.start + tcp::field::FLAGS] & tcp::field::FLG_SYN != 0)
}

/// Change each option of the TCP segment in `packet` with `edit(kind, option)`
/// (`option` is the whole option, kind and length bytes included), then update
/// the checksum for what changed. Returns whether anything did. The walk stops
/// at End of Option List or at a malformed length, as [`tcp::parse_options`] does.
pub fn edit_tcp_options(packet: &mut [u8], mut edit: impl FnMut(u8, &mut [u8])) -> Result<bool, RewriteError> {
    let header = tcp_header(packet)?;
    let options = header.start + tcp::MIN_HEADER_LEN..header.end;
    let mut old = [0u8; 40];
    let old = &mut old[..options.len()];
    old.copy_from_slice(&packet[options.clone()]);
    let bytes = &mut packet[options.clone()];
    let mut i = 0;
    while let Some(&kind) = bytes.get(i) {
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let Some(len) = bytes.get(i + 1).map(|&l| usize::from(l)).filter(|&l| l >= 2) else { break };
                let Some(option) = bytes.get_mut(i..i + len) else { break };
                edit(kind, option);
                i += len;
            }
        }
    }
    if packet[options.clone()] == *old {
        return Ok(false);
    }
    let checksum = header.start + tcp::field::CHECKSUM.start..header.start + tcp::field::CHECKSUM.end;
    let sum = adjust_checksum(copy::<2>(&packet[checksum.clone()]), old, &packet[options]);
    packet[checksum].copy_from_slice(&sum);
    Ok(true)
}

/// The option kind of MSS (RFC 9293 §3.2).
pub const OPTION_MSS: u8 = 2;

/// Lower the MSS option of the TCP segment in `packet` to `max` if it is larger
/// (what `iptables -j TCPMSS --set-mss` does to SYNs). Returns whether it changed.
pub fn clamp_mss(packet: &mut [u8], max: u16) -> Result<bool, RewriteError> {
    edit_tcp_options(packet, |kind, option| {
        if kind == OPTION_MSS && option.len() == 4 && u16::from_be_bytes([option[2], option[3]]) > max {
            option[2..4].copy_from_slice(&max.to_be_bytes());
        }
    })
}

/// Overwrite every option of the TCP segment in `packet` with NOPs, except those
/// `keep` says to keep — how firewalls remove options in place, without moving
/// the payload. Returns whether anything changed.
pub fn nop_tcp_options(packet: &mut [u8], keep: impl Fn(u8) -> bool) -> Result<bool, RewriteError> {
    edit_tcp_options(packet, |kind, option| {
        if !keep(kind) {
            option.fill(1);
        }
    })
}

#[cfg(test)]
mod tests;
