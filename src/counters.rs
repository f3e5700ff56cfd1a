//! Named counters: every packet the stack drops is counted under a name that says why.
//!
//! The rule of the stack is "bad input never panics and is never silently eaten": each
//! drop path increments exactly one of these counters (and emits a `tracing` event), so
//! `tunstack serve` can print them on exit and tests can assert on them.

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// All counters of one stack instance. Field names are the display names.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl Counters {
            /// Every counter as `(name, value)`, in declaration order (grouped by layer).
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$( (stringify!($name), self.$name), )*].into_iter()
            }
        }
    };
}

counters! {
    /// IPv4 packets handed to the stack by the device.
    ip_rx_packets,
    /// Dropped: not IPv4 (IPv6 arrives in a later issue).
    ip_rx_bad_version,
    /// Dropped: buffer shorter than 20 bytes or than the header length (IHL) says.
    ip_rx_truncated,
    /// Dropped: IHL below 5.
    ip_rx_bad_header_len,
    /// Dropped: total length beyond the buffer, or smaller than the header.
    ip_rx_bad_total_len,
    /// Dropped: IPv4 header checksum wrong (RFC 791 §3.1).
    ip_rx_bad_checksum,
    /// Dropped: source address is one we must not answer (ours, broadcast, multicast, 0/8, loopback).
    ip_rx_bad_source,
    /// Dropped: destination is not our address.
    ip_rx_not_for_us,
    /// Dropped: protocol we do not speak (ICMP protocol unreachable is not sent).
    ip_rx_unknown_protocol,
    /// Accepted packets that carried IP options (skipped, RFC 1122 3.2.1.8).
    ip_rx_with_options,
    /// Packets (whole datagrams) passed up to ICMP/UDP/TCP.
    ip_rx_delivered,
    /// Fragments received.
    ip_frag_rx,
    /// Datagrams completed by reassembly.
    ip_frag_reassembled,
    /// Dropped: exact duplicate fragment.
    ip_frag_duplicate,
    /// Dropped: a fragment overlapping held data (the whole datagram is discarded).
    ip_frag_overlap,
    /// Dropped: fragment with an impossible offset/length.
    ip_frag_invalid,
    /// Dropped: reassembly buffer bound (datagrams or bytes) reached.
    ip_frag_no_room,
    /// Datagrams discarded because their fragments did not all arrive in time.
    ip_frag_timeout,
    /// IPv4 packets emitted (each fragment counts).
    ip_tx_packets,
    /// Datagrams that had to be fragmented on output.
    ip_tx_fragmented,
    /// Fragments emitted.
    ip_tx_fragments,
    /// Dropped on output: datagram too large even for fragmentation.
    ip_tx_too_big,
    /// ICMP messages received.
    icmp_rx,
    /// Dropped: ICMP message shorter than its header.
    icmp_rx_truncated,
    /// Dropped: ICMP checksum wrong.
    icmp_rx_bad_checksum,
    /// Echo requests received.
    icmp_rx_echo_request,
    /// Destination-unreachable messages received (reported to UDP sockets).
    icmp_rx_dest_unreachable,
    /// ICMP types we read and ignore (echo replies, redirects, …).
    icmp_rx_ignored,
    /// Echo replies sent.
    icmp_tx_echo_reply,
    /// Destination-unreachable messages sent.
    icmp_tx_dest_unreachable,
    /// ICMP errors not sent because of the rate limit (RFC 1812 4.3.2.8).
    icmp_tx_rate_limited,
    /// UDP datagrams that passed validation.
    udp_rx,
    /// Dropped: shorter than a UDP header, or length field inconsistent with the IP payload.
    udp_rx_bad_length,
    /// Dropped: UDP checksum wrong (RFC 768).
    udp_rx_bad_checksum,
    /// Dropped: no socket bound to the destination port (ICMP port unreachable answers).
    udp_rx_no_port,
    /// Dropped: the socket's bounded receive queue was full.
    udp_rx_queue_full,
    /// Datagrams queued to a socket.
    udp_rx_delivered,
    /// Datagrams sent.
    udp_tx,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iter_names_every_field() {
        let c = Counters {
            udp_tx: 3,
            ..Counters::default()
        };
        let names: Vec<_> = c.iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"ip_rx_packets"));
        assert!(c.iter().any(|(n, v)| n == "udp_tx" && v == 3));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
