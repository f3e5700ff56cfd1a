//! IPv4 output: header, fragmentation, the bounded transmit queue — and, when
//! the stack has an IPv6 address, IPv6 output into the same queue
//! ([`IpOutput::send_v6`], `ipv6/output.rs`), so every layer that can send IPv4
//! can send IPv6 through the one `&mut IpOutput` it is lent.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::ipv6::Ipv6Output;
use crate::counters::Counters;
use crate::wire::ipv4::{self, Ipv4Repr, MAX_DATAGRAM, MIN_HEADER_LEN};

/// Why a datagram could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputError {
    /// Larger than an IPv4 datagram can be, the MTU is too small to fragment, or
    /// it needs more fragments than the transmit queue can ever hold.
    TooBig,
    /// The transmit queue is at its bound; try again once the device drained it.
    QueueFull,
    /// IPv6 asked of a stack without an IPv6 address (`StackConfig::addr6`).
    NoIpv6,
}

/// Buffers kept for reuse at most (packets handed back with
/// [`IpOutput::recycle`], and scratch space for building segments).
const MAX_SPARE: usize = 256;
/// A buffer larger than this is not kept (the largest IPv4 packet fits).
const MAX_SPARE_CAPACITY: usize = 65_536 + 64;

/// Packets built and waiting for the device, the IP identification counter, and
/// spare buffers: on the steady-state path a packet is built in a buffer that an
/// earlier packet used, so sending allocates nothing.
#[derive(Debug)]
pub struct IpOutput {
    config: OutputConfig,
    queue: VecDeque<Vec<u8>>,
    next_id: u16,
    spare: Vec<Vec<u8>>,
    /// IPv6 output, when the stack has an IPv6 address.
    v6: Option<Ipv6Output>,
}

/// What IPv4 output needs to know: the stack's side of every header it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    /// Our address, the source of every packet.
    pub addr: Ipv4Addr,
    /// The link MTU: larger datagrams are fragmented.
    pub mtu: usize,
    /// TTL of every packet we originate.
    pub ttl: u8,
    /// Most packets waiting for the device.
    pub max_tx_queue: usize,
}

impl IpOutput {
    pub fn new(config: OutputConfig, seed: u64) -> Self {
        // Only the low bits of the seed: a different seed gives a different sequence.
        IpOutput { config, queue: VecDeque::new(), next_id: (seed ^ (seed >> 16)) as u16, spare: Vec::new(), v6: None }
    }

    /// This output with IPv6 too, from `v6`'s address.
    pub fn with_ipv6(mut self, v6: Ipv6Output) -> Self {
        self.v6 = Some(v6);
        self
    }

    /// Our IPv6 address, the source of every IPv6 packet; `None` without IPv6.
    pub fn addr6(&self) -> Option<Ipv6Addr> {
        self.v6.as_ref().map(Ipv6Output::addr)
    }

    /// IPv6 output (its path MTU cache), when the stack has an IPv6 address.
    pub fn ipv6(&self) -> Option<&Ipv6Output> {
        self.v6.as_ref()
    }

    /// IPv6 output, to teach its path MTU cache; `None` without IPv6.
    pub fn ipv6_mut(&mut self) -> Option<&mut Ipv6Output> {
        self.v6.as_mut()
    }

    /// Wrap `payload` (an upper-layer message of type `next_header`) in IPv6 from
    /// our address to `dst` and queue it, fragmented at the source if it does not
    /// fit the destination's path MTU (see [`Ipv6Output::send`]). `NoIpv6`
    /// without an IPv6 address.
    pub fn send_v6(
        &mut self,
        counters: &mut Counters,
        dst: Ipv6Addr,
        next_header: u8,
        payload: &[u8],
    ) -> Result<(), OutputError> {
        // IPv6 output writes into this queue: lent it for the call.
        let mut v6 = self.v6.take().ok_or(OutputError::NoIpv6)?;
        let sent = v6.send(self, counters, dst, next_header, payload);
        self.v6 = Some(v6);
        sent
    }

    /// The headers' settings and the queue's bound.
    pub fn config(&self) -> &OutputConfig {
        &self.config
    }

    /// An empty buffer, reused if one is spare.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    /// Take back a buffer (a packet the device has written, or scratch space) for
    /// reuse; beyond [`MAX_SPARE`] buffers, or a huge one, it is simply freed.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < MAX_SPARE && buffer.capacity() <= MAX_SPARE_CAPACITY {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// [`send`](IpOutput::send) with the Don't Fragment flag set, for path MTU
    /// discovery (RFC 1191 §3): a router that cannot forward it whole drops it and
    /// says so with an ICMP "fragmentation needed". Larger than our own MTU, it is
    /// refused as too big rather than fragmented.
    pub fn send_dont_fragment(
        &mut self,
        counters: &mut Counters,
        dst: Ipv4Addr,
        protocol: u8,
        payload: &[u8],
    ) -> Result<(), OutputError> {
        if MIN_HEADER_LEN + payload.len() > self.config.mtu {
            counters.ip_tx_too_big += 1;
            return Err(OutputError::TooBig);
        }
        self.send_with(counters, dst, protocol, payload, true)
    }

    /// Wrap `payload` in IPv4 from our address to `dst` and queue it, fragmenting it
    /// when it is larger than the MTU (RFC 791 §2.3: every fragment but the last
    /// carries a multiple of 8 payload bytes and the More-Fragments flag).
    pub fn send(
        &mut self,
        counters: &mut Counters,
        dst: Ipv4Addr,
        protocol: u8,
        payload: &[u8],
    ) -> Result<(), OutputError> {
        self.send_with(counters, dst, protocol, payload, false)
    }

    /// Build a datagram for `dst` in place: `build` appends the transport
    /// header and payload to a packet buffer after room for the IPv4 header, so
    /// the payload is copied once, straight into the packet (TCP's segments).
    /// `None` from `build` means the transport could not build it (too big for
    /// its header's fields): counted as too big, nothing sent. A datagram larger
    /// than the MTU takes [`send`](IpOutput::send)'s path (fragments; `TooBig`
    /// under Don't Fragment).
    pub fn send_built(
        &mut self,
        counters: &mut Counters,
        dst: Ipv4Addr,
        protocol: u8,
        dont_fragment: bool,
        build: impl FnOnce(&mut Vec<u8>) -> Option<()>,
    ) -> Result<(), OutputError> {
        let mut packet = self.buffer();
        // Room for a whole packet at once: the transport appends in pieces.
        packet.reserve(self.config.mtu);
        packet.resize(MIN_HEADER_LEN, 0);
        let result = if build(&mut packet).is_none() || (dont_fragment && packet.len() > self.config.mtu) {
            counters.ip_tx_too_big += 1;
            Err(OutputError::TooBig)
        } else if packet.len() > self.config.mtu {
            self.send_with(counters, dst, protocol, &packet[MIN_HEADER_LEN..], false)
        } else if self.queue.len() >= self.config.max_tx_queue {
            tracing::debug!(target: "tunstack::queue", queue = "transmit", len = self.queue.len(), limit = self.config.max_tx_queue, "queue overflow");
            Err(OutputError::QueueFull)
        } else {
            let repr = Ipv4Repr {
                src: self.config.addr,
                dst,
                protocol,
                ttl: self.config.ttl,
                id: self.next_id,
                dont_fragment,
            };
            self.next_id = self.next_id.wrapping_add(1);
            let payload_len = packet.len() - MIN_HEADER_LEN;
            if ipv4::write_header(&mut packet, &repr, payload_len).is_some() {
                counters.ip_tx_packets += 1;
                self.queue.push_back(packet);
                return Ok(());
            }
            counters.ip_tx_too_big += 1;
            Err(OutputError::TooBig)
        };
        self.recycle(packet);
        result
    }

    fn send_with(
        &mut self,
        counters: &mut Counters,
        dst: Ipv4Addr,
        protocol: u8,
        payload: &[u8],
        dont_fragment: bool,
    ) -> Result<(), OutputError> {
        let config = self.config;
        let total = MIN_HEADER_LEN + payload.len();
        let per_fragment = (config.mtu.saturating_sub(MIN_HEADER_LEN) / 8) * 8;
        if total > MAX_DATAGRAM || per_fragment == 0 {
            counters.ip_tx_too_big += 1;
            return Err(OutputError::TooBig);
        }
        let fragments = if total <= config.mtu { 1 } else { payload.len().div_ceil(per_fragment) };
        // More fragments than the whole queue holds would never fit: that is a
        // datagram too big for this configuration, not a wait.
        if fragments > config.max_tx_queue {
            counters.ip_tx_too_big += 1;
            return Err(OutputError::TooBig);
        }
        if self.queue.len() + fragments > config.max_tx_queue {
            tracing::debug!(target: "tunstack::queue", queue = "transmit", len = self.queue.len(), limit = config.max_tx_queue, "queue overflow");
            return Err(OutputError::QueueFull);
        }
        // RFC 6864 §4: the ID only has to be unique among fragmented datagrams in
        // flight; a per-stack counter is enough.
        let repr = Ipv4Repr { src: config.addr, dst, protocol, ttl: config.ttl, id: self.next_id, dont_fragment };
        self.next_id = self.next_id.wrapping_add(1);
        if fragments == 1 {
            self.push(&repr, 0, false, payload, counters);
            return Ok(());
        }
        counters.ip_tx_fragmented += 1;
        for (i, piece) in payload.chunks(per_fragment).enumerate() {
            let more = (i + 1) * per_fragment < payload.len();
            self.push(&repr, i * per_fragment, more, piece, counters);
            counters.ip_tx_fragments += 1;
        }
        Ok(())
    }

    fn push(&mut self, repr: &Ipv4Repr, offset: usize, more: bool, piece: &[u8], counters: &mut Counters) {
        let mut packet = self.buffer();
        packet.reserve(MIN_HEADER_LEN + piece.len());
        // Sizes were checked above, so emit cannot refuse; if it ever did, the
        // packet is counted as too big rather than sent malformed.
        if ipv4::emit(&mut packet, repr, offset, more, piece).is_some() {
            counters.ip_tx_packets += 1;
            self.queue.push_back(packet);
        } else {
            counters.ip_tx_too_big += 1;
            self.recycle(packet);
        }
    }

    /// Queue `packets` built elsewhere (IPv6 output, `ip/ipv6/output.rs`) if the
    /// queue has room for all of them; `QueueFull` otherwise, nothing queued.
    pub fn push_built(&mut self, packets: impl ExactSizeIterator<Item = Vec<u8>>) -> Result<(), OutputError> {
        if self.queue.len() + packets.len() > self.config.max_tx_queue {
            tracing::debug!(target: "tunstack::queue", queue = "transmit", len = self.queue.len(), limit = self.config.max_tx_queue, "queue overflow");
            return Err(OutputError::QueueFull);
        }
        self.queue.extend(packets);
        Ok(())
    }

    /// Packets waiting for the device.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The next packet for the device.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_config(max_tx_queue: usize) -> OutputConfig {
        OutputConfig { addr: Ipv4Addr::new(198, 18, 0, 2), mtu: 1500, ttl: 64, max_tx_queue }
    }

    #[test]
    fn fragments_cover_the_payload_in_eights() {
        let config = test_config(4096);
        let mut counters = Counters::default();
        let mut out = IpOutput::new(config, 1);
        let payload: Vec<u8> = (0..4008u32).map(|i| i as u8).collect();
        out.send(&mut counters, Ipv4Addr::new(198, 18, 0, 1), 17, &payload).expect("queued");
        let mut rebuilt = Vec::new();
        let mut ids = Vec::new();
        while let Some(p) = out.pop() {
            assert!(p.len() <= config.mtu);
            let parsed = ipv4::parse(&p).expect("valid fragment");
            assert_eq!(parsed.frag_offset, rebuilt.len());
            assert_eq!(parsed.more_fragments, rebuilt.len() + parsed.payload.len() < payload.len());
            ids.push(parsed.id);
            rebuilt.extend_from_slice(parsed.payload);
        }
        assert_eq!(rebuilt, payload);
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        assert_eq!((counters.ip_tx_fragmented, counters.ip_tx_fragments, counters.ip_tx_packets), (1, 3, 3));
    }

    #[test]
    fn a_recycled_packet_buffer_is_reused_for_the_next_packet() {
        let config = test_config(4096);
        let mut counters = Counters::default();
        let mut out = IpOutput::new(config, 1);
        let dst = Ipv4Addr::new(198, 18, 0, 1);
        out.send(&mut counters, dst, 17, &[1; 100]).expect("queued");
        let first = out.pop().expect("a packet");
        let at = first.as_ptr();
        out.recycle(first);
        out.send(&mut counters, dst, 17, &[2; 100]).expect("queued");
        let second = out.pop().expect("a packet");
        assert_eq!(second.as_ptr(), at, "built in the recycled buffer");
        assert_eq!(ipv4::parse(&second).expect("valid").payload, &[2; 100][..]);
    }

    #[test]
    fn too_big_and_queue_full_are_refused() {
        let mut counters = Counters::default();
        let mut out = IpOutput::new(test_config(2), 1);
        let dst = Ipv4Addr::new(198, 18, 0, 1);
        assert_eq!(out.send(&mut counters, dst, 17, &vec![0; 65_516]), Err(OutputError::TooBig));
        assert_eq!(out.send(&mut counters, dst, 17, &[0; 4000]), Err(OutputError::TooBig), "3 fragments");
        assert_eq!(out.send(&mut counters, dst, 17, &[0; 100]), Ok(()));
        assert_eq!(out.send(&mut counters, dst, 17, &[0; 2000]), Err(OutputError::QueueFull));
        assert_eq!(out.send(&mut counters, dst, 17, &[0; 100]), Ok(()));
        assert_eq!(counters.ip_tx_too_big, 2);
    }

    /// A datagram built in place is the one `send` would have made from the same
    /// bytes; one over the MTU is fragmented (or refused under Don't Fragment);
    /// a builder that fails and a full queue send nothing, and each is counted.
    #[test]
    fn a_datagram_built_in_place_is_what_send_makes() {
        let dst = Ipv4Addr::new(198, 18, 0, 1);
        let mut counters = Counters::default();
        let (mut built, mut sent) = (IpOutput::new(test_config(8), 1), IpOutput::new(test_config(8), 1));
        built
            .send_built(&mut counters, dst, 6, true, |p| {
                p.extend_from_slice(&[7; 60]);
                p.extend_from_slice(&[8; 40]);
                Some(())
            })
            .expect("queued");
        let mut payload = vec![7; 60];
        payload.extend_from_slice(&[8; 40]);
        sent.send_dont_fragment(&mut counters, dst, 6, &payload).expect("queued");
        assert_eq!(built.pop(), sent.pop());

        let big = |p: &mut Vec<u8>| {
            p.extend_from_slice(&[1; 3000]);
            Some(())
        };
        assert_eq!(built.send_built(&mut counters, dst, 17, true, big), Err(OutputError::TooBig));
        assert_eq!(built.send_built(&mut counters, dst, 17, false, big), Ok(()));
        assert_eq!((built.len(), counters.ip_tx_fragmented), (3, 1), "fragments");
        assert_eq!(built.send_built(&mut counters, dst, 17, false, |_| None), Err(OutputError::TooBig));
        assert_eq!(counters.ip_tx_too_big, 2);
        let mut full = IpOutput::new(test_config(1), 1);
        full.send(&mut counters, dst, 17, &[0; 10]).expect("queued");
        let one = |p: &mut Vec<u8>| {
            p.push(1);
            Some(())
        };
        assert_eq!(full.send_built(&mut counters, dst, 17, false, one), Err(OutputError::QueueFull));
    }
}
