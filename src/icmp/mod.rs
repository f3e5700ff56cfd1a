//! ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, port-unreachable errors, and
//! reporting errors that arrive for our UDP sockets.

mod rate_limit;
#[cfg(test)]
mod tests;

pub(crate) use rate_limit::TokenBucket;

use std::net::Ipv4Addr;

use tracing::{debug, trace};

use crate::ip::Datagram;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::icmp::{self, IcmpError, IcmpMessage};
use crate::wire::ipv4::{self, Ipv4Repr, MIN_HEADER_LEN};

/// Protocol number of ICMP in the IP header.
const PROTO_ICMP: u8 = 1;
/// RFC 1812 4.3.2.3: an ICMP error quotes as much of the offending datagram as fits
/// in a 576-byte reply (RFC 792 asks for at least the header + 64 bits).
const MAX_ERROR_LEN: usize = 576;

/// Destination-unreachable codes (RFC 792).
pub(crate) const CODE_PORT_UNREACHABLE: u8 = 3;

impl Stack {
    /// An ICMP message for us.
    pub(crate) fn icmp_input(&mut self, now: Instant, datagram: &Datagram<'_>) {
        self.counters.icmp_rx += 1;
        let message = match icmp::parse(datagram.payload) {
            Ok(m) => m,
            Err(IcmpError::Truncated) => {
                self.counters.icmp_rx_truncated += 1;
                debug!(target: "tunstack::drop", reason = "icmp truncated", "icmp drop");
                self.drop_input("icmp truncated");
                return;
            }
            Err(IcmpError::BadChecksum) => {
                self.counters.icmp_rx_bad_checksum += 1;
                debug!(target: "tunstack::drop", reason = "icmp bad checksum", "icmp drop");
                self.drop_input("icmp bad checksum");
                return;
            }
        };
        match message {
            IcmpMessage::EchoRequest { id, seq, data } => {
                // RFC 1122 3.2.2.6: the reply carries the request's id, seq and data.
                self.counters.icmp_rx_echo_request += 1;
                let mut reply = Vec::with_capacity(icmp::HEADER_LEN + data.len());
                icmp::emit_echo_reply(&mut reply, id, seq, data);
                if self.out.send(&self.config, &mut self.counters, datagram.src, PROTO_ICMP, &reply).is_ok() {
                    self.counters.icmp_tx_echo_reply += 1;
                }
            }
            IcmpMessage::DestUnreachable { code, quoted } => {
                self.counters.icmp_rx_dest_unreachable += 1;
                self.udp_icmp_error(now, code, quoted);
            }
            IcmpMessage::Other { icmp_type, code } => {
                self.counters.icmp_rx_ignored += 1;
                trace!(icmp_type, code, "icmp message ignored");
            }
        }
    }

    /// Answer `datagram` with a destination-unreachable error, rate-limited.
    ///
    /// RFC 1122 3.2.2: never in answer to an ICMP error (here: any ICMP), which keeps
    /// two hosts from trading errors forever; the source was already checked to be a
    /// unicast host by IP input.
    pub(crate) fn icmp_send_dest_unreachable(&mut self, now: Instant, code: u8, datagram: &Datagram<'_>) {
        if datagram.protocol == PROTO_ICMP {
            return;
        }
        if !self.icmp_errors.try_take(now) {
            self.counters.icmp_tx_rate_limited += 1;
            debug!(target: "tunstack::drop", reason = "icmp rate limit", "icmp error suppressed");
            return;
        }
        let mut quoted = Vec::with_capacity(MAX_ERROR_LEN);
        match datagram.header {
            Some(header) => quoted.extend_from_slice(header),
            None => {
                // A reassembled datagram has no single header: quote the one it
                // would have had unfragmented.
                let repr = Ipv4Repr {
                    src: datagram.src,
                    dst: datagram.dst,
                    protocol: datagram.protocol,
                    ttl: datagram.ttl,
                    id: datagram.id,
                    dont_fragment: false,
                };
                if ipv4::emit(&mut quoted, &repr, 0, false, &[]).is_none() {
                    return;
                }
                let total = u16::try_from(MIN_HEADER_LEN + datagram.payload.len()).unwrap_or(u16::MAX);
                patch_total_len(&mut quoted, total);
            }
        }
        let room = MAX_ERROR_LEN - MIN_HEADER_LEN - icmp::HEADER_LEN;
        let take = room.saturating_sub(quoted.len()).min(datagram.payload.len());
        quoted.extend_from_slice(datagram.payload.get(..take).unwrap_or_default());
        let mut message = Vec::with_capacity(icmp::HEADER_LEN + quoted.len());
        icmp::emit_dest_unreachable(&mut message, code, &quoted);
        if self.out.send(&self.config, &mut self.counters, datagram.src, PROTO_ICMP, &message).is_ok() {
            self.counters.icmp_tx_dest_unreachable += 1;
        }
    }
}

/// Set the total-length field of a rebuilt header and fix its checksum.
fn patch_total_len(header: &mut [u8], total: u16) {
    if header.len() < MIN_HEADER_LEN {
        return;
    }
    header[2..4].copy_from_slice(&total.to_be_bytes());
    header[10..12].copy_from_slice(&[0, 0]);
    let sum = etherparse::checksum::Sum16BitWords::new().add_slice(&header[..MIN_HEADER_LEN]).ones_complement();
    // `Sum16BitWords` adds the words in native byte order, so its result goes back
    // in native order too (as etherparse's own header checksum does).
    header[10..12].copy_from_slice(&sum.to_ne_bytes());
}

/// The addresses and ports of a UDP datagram we sent, as quoted in an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QuotedUdp {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
}

/// Read the quoted IP header + first 8 bytes of an ICMP error, if they describe UDP.
pub(crate) fn quoted_udp(quoted: &[u8]) -> Option<QuotedUdp> {
    let first = *quoted.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < MIN_HEADER_LEN || quoted.get(9) != Some(&17) {
        return None;
    }
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b = quoted.get(at..at + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let ports = quoted.get(header_len..header_len + 4)?;
    Some(QuotedUdp {
        src: addr(12)?,
        dst: addr(16)?,
        src_port: u16::from_be_bytes([ports[0], ports[1]]),
        dst_port: u16::from_be_bytes([ports[2], ports[3]]),
    })
}
