//! Why a packet was dropped: one enum, each reason tied to the counter it
//! increments and the words it is reported with, declared once below.
//!
//! The stack's rule is that bad input is never silently eaten. Every drop goes
//! through [`Context::drop`](super::Context::drop) (or `overflow`), which does all
//! three things a drop owes: increments the reason's counter in
//! [`Counters`], emits a `tracing` event (`tunstack::drop`, or `tunstack::queue`
//! for a queue that overflowed), and — for reasons about the packet being input —
//! records the verdict that [`Stack::input`](crate::Stack::input) returns, which
//! the capture writes next to the packet.
//!
//! Adding a reason is one line in the table: its variant, its counter (a field of
//! [`Counters`]), its text, and whether it judges the packet being input (`rx`) or
//! something else (`local`: a timeout, an error we chose not to send).

use std::time::Duration;

use crate::counters::Counters;
use crate::time::Instant;

macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $variant:ident => $counter:ident, $kind:ident, $text:literal $(, queue $queue:literal)? ; )*) => {
        /// Why the stack discarded a packet: a fixed reason such as "tcp bad
        /// checksum" or "udp queue full", tied to the one counter it increments.
        ///
        /// [`Stack::input`](crate::Stack::input) returns one when the packet it
        /// was handed went no further, so whoever fed the packet in (the runtime, a
        /// simulator, a test) can say so next to it — the pcapng capture writes it
        /// as the packet's comment.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DropReason {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl DropReason {
            /// Every reason, in declaration order (grouped by layer).
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant),*];

            /// How many reasons there are.
            pub(crate) const COUNT: usize = [$(DropReason::$variant),*].len();

            /// The reason in words, as traces and captures show it.
            pub fn as_str(self) -> &'static str {
                match self { $( DropReason::$variant => $text, )* }
            }

            /// The name of the counter this reason increments (a field of [`Counters`]).
            pub fn counter_name(self) -> &'static str {
                match self { $( DropReason::$variant => stringify!($counter), )* }
            }

            /// The queue this reason is the overflow of, if it is one.
            pub fn queue(self) -> Option<&'static str> {
                match self { $( DropReason::$variant => drop_reasons!(@queue $($queue)?), )* }
            }

            /// Whether this reason judges the packet being input (and so becomes
            /// [`Stack::input`](crate::Stack::input)'s verdict).
            pub(crate) fn is_verdict(self) -> bool {
                match self { $( DropReason::$variant => drop_reasons!(@$kind), )* }
            }

            /// The counter itself.
            pub(crate) fn counter(self, counters: &mut Counters) -> &mut u64 {
                match self { $( DropReason::$variant => &mut counters.$counter, )* }
            }
        }
    };
    (@queue $queue:literal) => { Some($queue) };
    (@queue) => { None };
    (@rx) => { true };
    (@local) => { false };
}

drop_reasons! {
    /// Shorter than an IPv4 header, or than its IHL says.
    IpTruncated => ip_rx_truncated, rx, "truncated";
    /// Neither IPv4 nor IPv6.
    IpBadVersion => ip_rx_bad_version, rx, "not IPv4 or IPv6";
    /// IHL below 5.
    IpBadHeaderLen => ip_rx_bad_header_len, rx, "IHL below 5";
    /// Total length beyond the buffer or below the header.
    IpBadTotalLen => ip_rx_bad_total_len, rx, "bad total length";
    /// IPv4 header checksum wrong (RFC 791 §3.1).
    IpBadChecksum => ip_rx_bad_checksum, rx, "bad header checksum";
    /// Not addressed to us.
    IpNotForUs => ip_rx_not_for_us, rx, "not for us";
    /// A source we must not answer (RFC 1122 3.2.1.3).
    IpBadSource => ip_rx_bad_source, rx, "bad source";
    /// A transport protocol we do not speak.
    IpUnknownProtocol => ip_rx_unknown_protocol, rx, "unknown protocol";
    /// The same fragment again.
    FragmentDuplicate => ip_frag_duplicate, rx, "duplicate fragment";
    /// A fragment overlapping held data: the whole datagram goes.
    FragmentOverlap => ip_frag_overlap, rx, "overlapping fragment";
    /// A fragment with an impossible offset or length.
    FragmentInvalid => ip_frag_invalid, rx, "invalid fragment";
    /// The reassembly buffer is at its bound.
    ReassemblyFull => ip_frag_no_room, rx, "reassembly full", queue "reassembly";
    /// A datagram whose fragments did not all arrive in time.
    ReassemblyTimeout => ip_frag_timeout, local, "reassembly timeout";
    /// An IPv6 packet while IPv6 is off.
    Ip6Disabled => ip6_rx_disabled, rx, "ipv6 disabled";
    /// Shorter than the IPv6 header.
    Ip6Truncated => ip6_rx_truncated, rx, "ipv6 truncated";
    /// IPv6 Payload Length beyond the buffer.
    Ip6BadPayloadLen => ip6_rx_bad_payload_len, rx, "ipv6 bad payload length";
    /// Not addressed to our IPv6 address.
    Ip6NotForUs => ip6_rx_not_for_us, rx, "ipv6 not for us";
    /// An IPv6 source we must not answer.
    Ip6BadSource => ip6_rx_bad_source, rx, "ipv6 bad source";
    /// An extension header past the packet's end.
    Ip6ExtTruncated => ip6_rx_ext_truncated, rx, "ipv6 extension header truncated";
    /// Hop-by-Hop Options not first (RFC 8200 §4.1).
    Ip6HopByHopNotFirst => ip6_rx_hop_by_hop_not_first, rx, "ipv6 hop-by-hop not first";
    /// An option's length past its header.
    Ip6BadOption => ip6_rx_bad_option, rx, "ipv6 bad option length";
    /// An unrecognised option saying "discard" (RFC 8200 §4.2).
    Ip6OptionDiscard => ip6_rx_option_discard, rx, "ipv6 option says discard";
    /// An unrecognised option asking for a Parameter Problem (RFC 8200 §4.2).
    Ip6OptionUnrecognized => ip6_rx_option_unrecognized, rx, "ipv6 unrecognized option";
    /// A type-0 routing header with segments left (RFC 5095).
    Ip6RoutingType0 => ip6_rx_routing_type0, rx, "ipv6 routing type 0";
    /// A routing header with segments left: a host does not forward.
    Ip6RoutingSegmentsLeft => ip6_rx_routing_segments_left, rx, "ipv6 routing segments left";
    /// More extension headers than the configured bound.
    Ip6TooManyHeaders => ip6_rx_too_many_headers, rx, "ipv6 too many extension headers";
    /// A Next Header nobody here speaks.
    Ip6UnknownNextHeader => ip6_rx_unknown_next_header, rx, "ipv6 unknown next header";
    /// No Next Header: nothing to deliver.
    Ip6NoNextHeader => ip6_rx_no_next_header, rx, "ipv6 no next header";
    /// A first fragment without the whole header chain (RFC 7112).
    Fragment6IncompleteChain => ip6_frag_incomplete_chain, rx, "ipv6 first fragment incomplete chain";
    /// A non-final IPv6 fragment whose length is not a multiple of 8.
    Fragment6BadLength => ip6_frag_bad_length, rx, "ipv6 fragment length not a multiple of 8";
    /// An IPv6 fragment reassembling past 65,535 bytes.
    Fragment6TooBig => ip6_frag_too_big, rx, "ipv6 fragment past 65535 bytes";
    /// The same IPv6 fragment again.
    Fragment6Duplicate => ip6_frag_duplicate, rx, "ipv6 duplicate fragment";
    /// An IPv6 fragment overlapping held data: the whole datagram goes (RFC 5722).
    Fragment6Overlap => ip6_frag_overlap, rx, "ipv6 overlapping fragment";
    /// An IPv6 fragment disagreeing with the others.
    Fragment6Invalid => ip6_frag_invalid, rx, "ipv6 invalid fragment";
    /// The reassembly buffer is at its bound (IPv6).
    Reassembly6Full => ip6_frag_no_room, rx, "ipv6 reassembly full", queue "ipv6 reassembly";
    /// An IPv6 datagram whose fragments did not all arrive in time.
    Reassembly6Timeout => ip6_frag_timeout, local, "ipv6 reassembly timeout";
    /// ICMP message shorter than its header.
    IcmpTruncated => icmp_rx_truncated, rx, "icmp truncated";
    /// ICMP checksum wrong.
    IcmpBadChecksum => icmp_rx_bad_checksum, rx, "icmp bad checksum";
    /// An ICMP error we would have sent, held back by the rate limit.
    IcmpRateLimited => icmp_tx_rate_limited, local, "icmp rate limit";
    /// ICMPv6 message shorter than its header.
    Icmp6Truncated => icmp6_rx_truncated, rx, "icmpv6 truncated";
    /// ICMPv6 checksum wrong.
    Icmp6BadChecksum => icmp6_rx_bad_checksum, rx, "icmpv6 bad checksum";
    /// An ICMPv6 error we would have sent, held back by the rate limit.
    Icmp6RateLimited => icmp6_tx_rate_limited, local, "icmpv6 rate limit";
    /// A Packet Too Big quoting no UDP, raw or ICMPv6 packet we could have sent.
    Icmp6PacketTooBigUnmatched => icmp6_rx_ptb_unmatched, rx, "icmpv6 packet too big for nothing we sent";
    /// UDP length field wrong.
    UdpBadLength => udp_rx_bad_length, rx, "udp bad length";
    /// UDP checksum wrong.
    UdpBadChecksum => udp_rx_bad_checksum, rx, "udp bad checksum";
    /// No UDP socket on the port (answered with ICMP port unreachable).
    UdpNoPort => udp_rx_no_port, rx, "udp no port";
    /// The socket's receive queue is at its bound.
    UdpQueueFull => udp_rx_queue_full, rx, "udp queue full", queue "udp receive";
    /// A raw socket's receive queue is at its bound.
    RawQueueFull => raw_rx_queue_full, rx, "raw queue full", queue "raw receive";
    /// A registered protocol found the datagram malformed.
    ProtocolMalformed => proto_rx_malformed, rx, "protocol malformed";
    /// A registered protocol had no socket for the datagram (answered with ICMP port unreachable).
    ProtocolUnreachable => proto_rx_unreachable, rx, "protocol port unreachable";
    /// TCP header malformed.
    TcpBadHeader => tcp_rx_bad_header, rx, "tcp bad header";
    /// TCP checksum wrong.
    TcpBadChecksum => tcp_rx_bad_checksum, rx, "tcp bad checksum";
    /// A segment with both SYN and FIN, refused (`drop_syn_fin`).
    TcpSynFin => tcp_rx_syn_fin, rx, "tcp SYN and FIN";
    /// A SYN,ACK reaching a listener, dropped without RST (`rst_syn_ack_to_listener` off).
    TcpSynAckToListener => tcp_rx_syn_ack_to_listener, rx, "tcp SYN,ACK to a listener";
    /// No connection or listener (answered with RST).
    TcpNoSocket => tcp_rx_no_socket, rx, "tcp no socket";
    /// The ACK completing a handshake found the accept queue full.
    TcpAcceptQueueFull => tcp_listen_overflow, rx, "accept queue full", queue "accept";
    /// A SYN found the listener's half-open connections at their bound.
    TcpSynBacklogFull => tcp_listen_overflow, rx, "listen backlog full", queue "syn backlog";
    /// A SYN found the stack at its connection limit.
    TcpConnectionLimit => tcp_conn_limit, rx, "connection limit", queue "connections";
    /// A timestamp older than TS.Recent (RFC 7323 §5.3).
    TcpPawsRejected => tcp_rx_paws_rejected, rx, "tcp PAWS rejected";
    /// No byte of the segment inside the receive window (RFC 9293 §3.10.7.4).
    TcpOutOfWindow => tcp_rx_out_of_window, rx, "tcp out of window";
    /// Data for a connection nobody holds any more (answered with RST).
    TcpDataAfterClose => tcp_rx_data_after_close, rx, "tcp data after close";
    /// An ICMP error quoting a segment of no connection of ours.
    TcpIcmpUnmatched => tcp_rx_icmp_unmatched, rx, "tcp icmp for no connection";
    /// An ICMP error quoting a sequence number we have not sent or that was
    /// acknowledged already (RFC 5927 §4.1).
    TcpIcmpOutOfWindow => tcp_rx_icmp_out_of_window, rx, "tcp icmp out of window";
    /// The out-of-order queue holds as many ranges as it may.
    TcpOutOfOrderFull => tcp_rx_ooo_no_room, rx, "out-of-order queue full", queue "tcp out-of-order";
}

/// How often each reason is traced: at most one line per reason per
/// [`TRACE_INTERVAL`]; the drops in between are only counted, and the next line
/// says how many there were (`repeated`). A flood of 10,000 datagrams to a closed
/// port so costs a line a second, not 10,000 — and the counters stay exact.
#[derive(Debug)]
pub struct DropLog {
    last: [Option<Instant>; DropReason::COUNT],
    repeated: [u64; DropReason::COUNT],
}

/// The shortest time between two trace lines of one drop reason.
pub const TRACE_INTERVAL: Duration = Duration::from_secs(1);

impl Default for DropLog {
    fn default() -> Self {
        DropLog { last: [None; DropReason::COUNT], repeated: [0; DropReason::COUNT] }
    }
}

impl DropLog {
    /// Whether `reason` may be traced at `now`; if so, how many drops of it went
    /// untraced since its last line.
    pub(crate) fn admit(&mut self, reason: DropReason, now: Instant, n: u64) -> Option<u64> {
        let i = reason as usize;
        if self.last[i].is_some_and(|t| now.saturating_duration_since(t) < TRACE_INTERVAL) {
            self.repeated[i] += n;
            return None;
        }
        self.last[i] = Some(now);
        Some(std::mem::take(&mut self.repeated[i]))
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason's counter is a real counter, and each text is told apart.
    #[test]
    fn a_reason_is_traced_once_a_second_and_the_rest_counted() {
        let mut log = DropLog::default();
        let t = Instant::from_millis(10_000);
        assert_eq!(log.admit(DropReason::UdpNoPort, t, 1), Some(0));
        for ms in 1..1000 {
            assert_eq!(log.admit(DropReason::UdpNoPort, t + Duration::from_millis(ms), 1), None);
        }
        assert_eq!(log.admit(DropReason::UdpQueueFull, t, 1), Some(0), "each reason on its own");
        assert_eq!(log.admit(DropReason::UdpNoPort, t + TRACE_INTERVAL, 1), Some(999), "the next line says how many");
        assert_eq!(log.admit(DropReason::UdpNoPort, t + TRACE_INTERVAL * 2, 1), Some(0));
    }

    #[test]
    fn every_reason_names_a_counter_and_its_own_words() {
        let names: Vec<&str> = Counters::default().iter().map(|(n, _)| n).collect();
        let mut texts = std::collections::HashSet::new();
        for &reason in DropReason::ALL {
            assert!(names.contains(&reason.counter_name()), "{reason:?}: no counter {}", reason.counter_name());
            assert!(texts.insert(reason.as_str()), "{reason:?}: its words are another reason's");
            let mut c = Counters::default();
            *reason.counter(&mut c) += 1;
            let bumped: Vec<_> = c.iter().filter(|(_, v)| *v == 1).map(|(n, _)| n).collect();
            assert_eq!(bumped, [reason.counter_name()], "{reason:?} increments exactly its counter");
        }
    }
}
