//! Named counters: every packet the stack drops is counted under a name that says why.
//!
//! The rule of the stack is "bad input never panics and is never silently eaten": each
//! drop path increments exactly one of these counters (and emits a `tracing` event), so
//! `tunstack serve` can print them on exit and tests can assert on them.

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// All counters of one stack instance. Field names are the display names.
        ///
        /// They (de)serialize as one object in declaration order (the control
        /// socket's `stats` reply); a missing field reads as 0.
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
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
    /// Dropped: neither IPv4 nor IPv6 (the version nibble is not 4 or 6).
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
    /// Dropped: protocol we do not speak (answered with ICMP protocol unreachable,
    /// RFC 1122 3.2.2.1).
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
    /// IPv6 packets handed to the stack by the device.
    ip6_rx_packets,
    /// Dropped: IPv6 packets while IPv6 is off (`StackConfig::addr6` is `None`).
    ip6_rx_disabled,
    /// Dropped: shorter than the 40-byte IPv6 header.
    ip6_rx_truncated,
    /// Dropped: Payload Length beyond the buffer.
    ip6_rx_bad_payload_len,
    /// Dropped: destination neither our IPv6 address nor a multicast group ICMPv6 reads.
    ip6_rx_not_for_us,
    /// Dropped: a source we must not answer (multicast, ours, loopback; unspecified to a unicast address).
    ip6_rx_bad_source,
    /// Dropped: an extension header running past the packet's end.
    ip6_rx_ext_truncated,
    /// Dropped: Hop-by-Hop Options not first (answered with Parameter Problem code 1, RFC 8200 §4.1).
    ip6_rx_hop_by_hop_not_first,
    /// Dropped: an option's length running past its header.
    ip6_rx_bad_option,
    /// Dropped: an unrecognised option whose type says "discard" (RFC 8200 §4.2, bits 01).
    ip6_rx_option_discard,
    /// Dropped: an unrecognised option whose type asks for Parameter Problem code 2 (bits 10/11).
    ip6_rx_option_unrecognized,
    /// Dropped: a type-0 routing header with segments left (RFC 5095; Parameter Problem code 0).
    ip6_rx_routing_type0,
    /// Dropped: a routing header with segments left — a host does not forward (Parameter Problem code 0).
    ip6_rx_routing_segments_left,
    /// Dropped: more extension headers than `StackConfig::ipv6_max_ext_headers` (Parameter Problem code 8, RFC 8883).
    ip6_rx_too_many_headers,
    /// Dropped: a Next Header we do not speak (Parameter Problem code 1, RFC 8200 §4).
    ip6_rx_unknown_next_header,
    /// Packets whose chain ends in No Next Header (59): nothing to deliver (RFC 8200 §4.7).
    ip6_rx_no_next_header,
    /// Packets (whole datagrams) passed up to ICMPv6, UDP or TCP.
    ip6_rx_delivered,
    /// IPv6 fragments received.
    ip6_frag_rx,
    /// Atomic fragments (offset 0, no M flag) delivered as whole packets (RFC 6946).
    ip6_frag_atomic,
    /// Datagrams completed by IPv6 reassembly.
    ip6_frag_reassembled,
    /// Dropped: a first fragment without the whole header chain (RFC 7112; Parameter Problem code 3).
    ip6_frag_incomplete_chain,
    /// Dropped: a non-final fragment whose length is not a multiple of 8 (Parameter Problem code 0).
    ip6_frag_bad_length,
    /// Dropped: a fragment that would reassemble past 65,535 bytes (Parameter Problem code 0).
    ip6_frag_too_big,
    /// Dropped: exact duplicate IPv6 fragment.
    ip6_frag_duplicate,
    /// Dropped: an IPv6 fragment overlapping held data (the whole datagram goes, RFC 5722).
    ip6_frag_overlap,
    /// Dropped: an IPv6 fragment disagreeing with the others (length after the final one, …).
    ip6_frag_invalid,
    /// Dropped: reassembly buffer bound reached (IPv6).
    ip6_frag_no_room,
    /// IPv6 datagrams whose fragments did not all arrive in time (Time Exceeded sent if the first had).
    ip6_frag_timeout,
    /// IPv6 packets emitted (each fragment counts).
    ip6_tx_packets,
    /// IPv6 datagrams we fragmented at the source (RFC 8200 §4.5).
    ip6_tx_fragmented,
    /// IPv6 fragments emitted.
    ip6_tx_fragments,
    /// Dropped on output: IPv6 datagram too large even for fragmentation.
    ip6_tx_too_big,
    /// Path MTUs lowered in the IPv6 path MTU cache by a validated Packet Too Big (RFC 8201).
    ip6_pmtu_updates,
    /// Path MTU cache entries evicted (the oldest) to make room for a new destination.
    ip6_pmtu_evicted,
    /// Path MTU cache entries aged out: the destination is back at the link MTU (RFC 8201 §4).
    ip6_pmtu_expired,
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
    /// ICMPv6 messages received.
    icmp6_rx,
    /// Dropped: ICMPv6 message shorter than its header.
    icmp6_rx_truncated,
    /// Dropped: ICMPv6 checksum (with the IPv6 pseudo-header) wrong.
    icmp6_rx_bad_checksum,
    /// ICMPv6 echo requests received.
    icmp6_rx_echo_request,
    /// Neighbor Discovery and MLD messages (the kernel's router solicitations and
    /// listener reports): no use on a TUN, counted and ignored.
    icmp6_rx_nd_mld,
    /// ICMPv6 errors received (not yet routed to the transports).
    icmp6_rx_errors,
    /// ICMPv6 types we read and ignore (echo replies, unknown informational types).
    icmp6_rx_ignored,
    /// Dropped: a Packet Too Big quoting no UDP, raw or ICMPv6 packet we could have
    /// sent (RFC 5927; TCP's own are `tcp_rx_icmp_unmatched` / `_out_of_window`).
    icmp6_rx_ptb_unmatched,
    /// ICMPv6 echo replies sent.
    icmp6_tx_echo_reply,
    /// ICMPv6 Parameter Problem errors sent.
    icmp6_tx_param_problem,
    /// ICMPv6 Destination Unreachable errors sent.
    icmp6_tx_dest_unreachable,
    /// ICMPv6 Time Exceeded errors sent (fragment reassembly).
    icmp6_tx_time_exceeded,
    /// ICMPv6 errors not sent because of the rate limit (RFC 4443 §2.4 (f)).
    icmp6_tx_rate_limited,
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
    /// Datagrams queued on raw IP protocol sockets (a copy per socket).
    raw_rx_delivered,
    /// Dropped: a raw socket's receive queue was full (or shrunk).
    raw_rx_queue_full,
    /// Datagrams sent from raw sockets.
    raw_tx,
    /// Datagrams handed to a protocol registered on the stack (`Stack::register_protocol`).
    proto_rx,
    /// Dropped: a registered protocol found the datagram malformed.
    proto_rx_malformed,
    /// Dropped: a registered protocol had no socket for it (answered with ICMP port unreachable).
    proto_rx_unreachable,
    /// Datagrams registered protocols sent.
    proto_tx,
    /// Datagrams of registered protocols that IP output refused (too big, or a destination
    /// nobody can send to).
    proto_tx_refused,
    /// TCP segments that passed validation.
    tcp_rx_segments,
    /// Dropped: TCP header malformed (short, data offset out of range).
    tcp_rx_bad_header,
    /// Dropped: TCP checksum wrong.
    tcp_rx_bad_checksum,
    /// Segments for no connection and no listener (answered with RST, RFC 9293 §3.10.7.1).
    tcp_rx_no_socket,
    /// Segments outside the receive window (answered with an ACK, RFC 9293 §3.10.7.4).
    tcp_rx_out_of_window,
    /// Dropped by PAWS: timestamp older than TS.Recent (RFC 7323 §5).
    tcp_rx_paws_rejected,
    /// Out-of-order segments held for reassembly.
    tcp_rx_out_of_order,
    /// Dropped: out-of-order queue at its bound.
    tcp_rx_ooo_no_room,
    /// Data bytes received in order.
    tcp_rx_bytes,
    /// RSTs received and accepted.
    tcp_rx_rst,
    /// Data arriving for a connection the program already closed (answered with RST).
    tcp_rx_data_after_close,
    /// Connections whose path MTU an ICMP "fragmentation needed" lowered (RFC 1191).
    tcp_pmtu_reductions,
    /// Path MTU reductions after repeated timeouts of full-sized segments (black
    /// hole detection, for paths that filter ICMP).
    tcp_pmtu_blackholes,
    /// SYN,ACKs sent with a SYN cookie instead of a half-open connection (RFC 4987).
    tcp_syncookies_sent,
    /// Connections built from a valid SYN cookie returned in an ACK.
    tcp_syncookies_recv_ok,
    /// ACKs to a listener that sent cookies recently whose cookie did not check
    /// (forged, or older than two minutes): answered with RST.
    tcp_syncookies_recv_failed,
    /// Keepalive probes sent (RFC 1122 4.2.3.6).
    tcp_keepalive_probes,
    /// Dropped: a segment with both SYN and FIN (with `drop_syn_fin`).
    tcp_rx_syn_fin,
    /// Dropped: a SYN,ACK to a listener (with `rst_syn_ack_to_listener` off).
    tcp_rx_syn_ack_to_listener,
    /// Dropped: an ICMP error quoting a TCP segment of no connection of ours.
    tcp_rx_icmp_unmatched,
    /// Dropped: an ICMP error quoting a sequence number outside [SND.UNA, SND.NXT)
    /// (RFC 5927 §4.1: likely forged).
    tcp_rx_icmp_out_of_window,
    /// Connection attempts ended by an ICMP error (RFC 5461).
    tcp_icmp_aborts,
    /// ICMP errors kept as a connection's soft error (RFC 1122 4.2.3.9): reported
    /// if the connection later times out.
    tcp_icmp_soft_errors,
    /// TCP segments sent.
    tcp_tx_segments,
    /// Data bytes sent (first transmissions).
    tcp_tx_bytes,
    /// Segments retransmitted (timeouts, fast retransmit, SACK recovery).
    tcp_tx_retransmits,
    /// Fast recovery episodes entered (RFC 5681 §3.2, RFC 6675 §5).
    tcp_fast_retransmits,
    /// Segments judged lost by RACK or duplicate ACKs, before any timeout (RFC 8985 §6).
    tcp_segments_lost,
    /// Tail loss probes sent (RFC 8985 §7).
    tcp_loss_probes,
    /// ACKs carrying a D-SACK: the peer got a segment twice (RFC 2883).
    tcp_rx_dsack,
    /// D-SACKs sent: we got a segment twice (RFC 2883).
    tcp_tx_dsack,
    /// Retransmission timeouts (RFC 6298 §5).
    tcp_rto_expired,
    /// Zero-window probes sent (RFC 9293 §3.8.6.1).
    tcp_zero_window_probes,
    /// RSTs sent.
    tcp_tx_rst,
    /// Challenge ACKs sent (RFC 5961).
    tcp_challenge_acks,
    /// Challenge ACKs suppressed by the rate limit (RFC 5961 §7).
    tcp_challenge_acks_limited,
    /// ACKs not sent in answer to an unusable segment without data (outside the
    /// window, or acknowledging data never sent): `tcp.unusable_ack_interval`.
    tcp_unusable_acks_limited,
    /// SYNs dropped because a listener's backlog was full, and handshake-completing
    /// ACKs dropped because its accept queue was full.
    tcp_listen_overflow,
    /// SYNs dropped because the stack-wide connection limit was reached.
    tcp_conn_limit,
    /// Connections opened by `connect`.
    tcp_active_opens,
    /// Connections opened by a SYN to a listener.
    tcp_passive_opens,
    /// Connections that reached ESTABLISHED.
    tcp_established,
    /// Connections reset (RST received or sent).
    tcp_resets,
    /// Connections that failed after too many retransmissions.
    tcp_timeouts,
    /// Connections closed and freed.
    tcp_closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iter_names_every_field() {
        let c = Counters { udp_tx: 3, ..Counters::default() };
        let names: Vec<_> = c.iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"ip_rx_packets"));
        assert!(c.iter().any(|(n, v)| n == "udp_tx" && v == 3));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
