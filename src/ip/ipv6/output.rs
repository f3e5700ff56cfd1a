//! IPv6 output: the fixed header, fragmentation at the source (RFC 8200 §4.5), and
//! the same bounded transmit queue IPv4 uses.
//!
//! Unlike IPv4, IPv6 routers never fragment: only the source does, with a Fragment
//! header after the fixed header (our packets carry no other extension header, so
//! the unfragmentable part is the fixed header alone). Every fragment but the last
//! carries a multiple of 8 bytes and fits the path MTU of the destination — the
//! link MTU unless a Packet Too Big lowered it (`path_mtu.rs`, RFC 8201). TCP
//! segments are the exception: TCP sizes them to its own per-connection path MTU
//! (`tcp/pmtu.rs`), so they are held only to the link MTU here. The 32-bit
//! identification comes from a per-stack counter started at a seeded value
//! (RFC 7739 asks that it not be trivially predictable across hosts).
//!
//! Each TCP or UDP flow gets a Flow Label (RFC 6437 §3): the same for every packet
//! of the flow (its fragments included), different between flows, and hard to
//! guess — a keyed hash of the addresses, the protocol and the two ports that
//! begin either transport header, cut to 20 bits and never 0. Other traffic
//! (ICMPv6) goes unlabelled, as RFC 6437 allows.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv6Addr;

use super::path_mtu::{Learned, PathMtuCache, PathMtuConfig};
use crate::counters::Counters;
use crate::ip::{IpOutput, OutputError};
use crate::time::Instant;
use crate::wire::icmpv6;
use crate::wire::ip_protocol::{TCP, UDP};
use crate::wire::ipv6::{self, Ipv6Repr, FRAGMENT_HEADER_LEN, HEADER_LEN, MAX_PAYLOAD, MIN_MTU};

/// The sending half of IPv6: our address and the settings of every header.
#[derive(Debug)]
pub(crate) struct Ipv6Output {
    addr: Ipv6Addr,
    /// The link MTU, at least IPv6's minimum of 1280 (RFC 8200 §5).
    mtu: usize,
    hop_limit: u8,
    next_id: u32,
    /// The key of the flow-label hash.
    secret: u64,
    /// The path MTU of destinations a Packet Too Big told us about.
    path_mtu: PathMtuCache,
}

/// A packet an ICMPv6 error quotes that we could have sent: from our address,
/// with the Flow Label we would have written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QuotedOwn<'a> {
    pub dst: Ipv6Addr,
    /// The upper-layer protocol, past the extension headers.
    pub protocol: u8,
    /// The upper-layer message, as much as the quote holds.
    pub upper: &'a [u8],
}

impl Ipv6Output {
    pub fn new(addr: Ipv6Addr, mtu: usize, hop_limit: u8, seed: u64, path_mtu: PathMtuConfig) -> Self {
        let mtu = mtu.max(MIN_MTU);
        Ipv6Output {
            addr,
            mtu,
            hop_limit,
            next_id: (seed >> 32) as u32 ^ seed as u32,
            secret: seed.rotate_left(17) ^ 0x6437,
            path_mtu: PathMtuCache::new(path_mtu, mtu),
        }
    }

    /// The largest packet to send to `dst` (the path MTU we know of).
    pub fn path_mtu(&self, dst: Ipv6Addr) -> usize {
        self.path_mtu.get(dst)
    }

    /// The first check of a Packet Too Big (RFC 5927 §4.1, as far as IP can
    /// tell): the packet it quotes must be one we could have sent — from our
    /// address, a first fragment or whole, and with the Flow Label our keyed hash
    /// gives its flow (an off-path forger cannot guess it for TCP and UDP). The
    /// transport then checks that it sent such a packet (`stack/v6.rs`).
    pub fn quoted_own<'a>(&self, quoted: &'a [u8]) -> Option<QuotedOwn<'a>> {
        let (header, protocol, upper) = icmpv6::upper_layer(quoted)?;
        let dst = Ipv6Addr::from(header.destination);
        let ours = Ipv6Addr::from(header.source) == self.addr
            && header.flow_label.value() == self.flow_label(dst, protocol, upper);
        ours.then_some(QuotedOwn { dst, protocol, upper })
    }

    /// A validated Packet Too Big for `dst` reporting `mtu`, at `now` (see
    /// `path_mtu.rs`).
    pub fn learn_path_mtu(&mut self, counters: &mut Counters, now: Instant, dst: Ipv6Addr, mtu: u32) -> Learned {
        self.path_mtu.learn(counters, now, dst, mtu)
    }

    /// When a learned path MTU next ages out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.path_mtu.next_deadline()
    }

    /// Forget the path MTUs learned `aging` or longer before `now`.
    pub fn expire(&mut self, counters: &mut Counters, now: Instant) {
        self.path_mtu.expire(counters, now);
    }

    /// The path MTU cache's bounds hold.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.path_mtu.check_invariants()
    }

    /// The Flow Label of a TCP or UDP `payload` to `dst` (its first 4 bytes are
    /// the ports); 0 for other protocols or a payload too short to name them.
    fn flow_label(&self, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> u32 {
        let Some(ports) = payload.get(..4).filter(|_| next_header == TCP || next_header == UDP) else {
            return 0;
        };
        let mut hasher = DefaultHasher::new();
        (self.secret, self.addr, dst, next_header, ports).hash(&mut hasher);
        match (hasher.finish() as u32) & 0xf_ffff {
            0 => 1,
            label => label,
        }
    }

    /// Our address: the source of every packet.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// Wrap `payload` (an upper-layer message of type `next_header`) in IPv6 from
    /// our address to `dst` and queue it, in fragments if it does not fit the
    /// destination's path MTU (the link MTU for TCP, which sizes its own).
    pub fn send(
        &mut self,
        out: &mut IpOutput,
        counters: &mut Counters,
        dst: Ipv6Addr,
        next_header: u8,
        payload: &[u8],
    ) -> Result<(), OutputError> {
        let flow_label = self.flow_label(dst, next_header, payload);
        let repr = Ipv6Repr { src: self.addr, dst, next_header, hop_limit: self.hop_limit, flow_label };
        if payload.len() > MAX_PAYLOAD - FRAGMENT_HEADER_LEN {
            counters.ip6_tx_too_big += 1;
            return Err(OutputError::TooBig);
        }
        let mtu = if next_header == TCP { self.mtu } else { self.path_mtu.get(dst) };
        if HEADER_LEN + payload.len() <= mtu {
            let mut packet = out.buffer();
            packet.reserve(HEADER_LEN + payload.len());
            if ipv6::emit(&mut packet, &repr, payload).is_none() {
                counters.ip6_tx_too_big += 1;
                return Err(OutputError::TooBig);
            }
            out.push_built(std::iter::once(packet))?;
            counters.ip6_tx_packets += 1;
            return Ok(());
        }
        let per_fragment = (mtu - HEADER_LEN - FRAGMENT_HEADER_LEN) / 8 * 8;
        let count = payload.len().div_ceil(per_fragment);
        if count > out.config().max_tx_queue {
            counters.ip6_tx_too_big += 1;
            return Err(OutputError::TooBig);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut packets = Vec::with_capacity(count);
        for (i, piece) in payload.chunks(per_fragment).enumerate() {
            let more = (i + 1) * per_fragment < payload.len();
            let mut packet = out.buffer();
            packet.reserve(HEADER_LEN + FRAGMENT_HEADER_LEN + piece.len());
            if ipv6::emit_fragment(&mut packet, &repr, id, i * per_fragment, more, piece).is_none() {
                counters.ip6_tx_too_big += 1;
                return Err(OutputError::TooBig);
            }
            packets.push(packet);
        }
        out.push_built(packets.into_iter())?;
        counters.ip6_tx_fragmented += 1;
        counters.ip6_tx_fragments += count as u64;
        counters.ip6_tx_packets += count as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::OutputConfig;
    use std::net::Ipv4Addr;

    const US: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
    const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

    fn queue(max_tx_queue: usize) -> IpOutput {
        let addr = Ipv4Addr::new(198, 18, 0, 2);
        IpOutput::new(OutputConfig { addr, mtu: 1500, ttl: 64, max_tx_queue }, 1)
    }

    #[test]
    fn a_small_payload_goes_whole() {
        let (mut out, mut counters) = (queue(16), Counters::default());
        let mut v6 = Ipv6Output::new(US, 1500, 64, 7, PathMtuConfig::default());
        v6.send(&mut out, &mut counters, PEER, 58, b"hello").expect("queued");
        let p = out.pop().expect("a packet");
        let parsed = ipv6::parse(&p).expect("valid");
        assert_eq!((parsed.src, parsed.dst, parsed.next_header, parsed.hop_limit), (US, PEER, 58, 64));
        assert_eq!(parsed.payload(), b"hello");
        assert_eq!((counters.ip6_tx_packets, counters.ip6_tx_fragmented), (1, 0));
    }

    #[test]
    fn a_large_payload_is_fragmented_to_the_mtu_in_eights() {
        let (mut out, mut counters) = (queue(16), Counters::default());
        let mut v6 = Ipv6Output::new(US, 1500, 64, 7, PathMtuConfig::default());
        let payload: Vec<u8> = (0..4008u32).map(|i| i as u8).collect();
        v6.send(&mut out, &mut counters, PEER, 58, &payload).expect("queued");
        let mut rebuilt = Vec::new();
        let mut ids = Vec::new();
        while let Some(p) = out.pop() {
            assert!(p.len() <= 1500);
            let parsed = ipv6::parse(&p).expect("valid");
            assert_eq!(parsed.next_header, 44);
            let frag = &parsed.payload()[..FRAGMENT_HEADER_LEN];
            assert_eq!(frag[0], 58);
            let off_m = u16::from_be_bytes([frag[2], frag[3]]);
            assert_eq!(usize::from(off_m >> 3) * 8, rebuilt.len());
            let data = &parsed.payload()[FRAGMENT_HEADER_LEN..];
            assert_eq!(off_m & 1 == 1, rebuilt.len() + data.len() < payload.len(), "M on all but the last");
            ids.push(u32::from_be_bytes([frag[4], frag[5], frag[6], frag[7]]));
            rebuilt.extend_from_slice(data);
        }
        assert_eq!(rebuilt, payload);
        assert_eq!(ids.len(), 3, "1448 + 1448 + 1112");
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        assert_eq!((counters.ip6_tx_fragmented, counters.ip6_tx_fragments, counters.ip6_tx_packets), (1, 3, 3));
    }

    /// The 20-bit Flow Label of a packet.
    fn label(packet: &[u8]) -> u32 {
        u32::from_be_bytes([0, packet[1] & 0x0f, packet[2], packet[3]])
    }

    #[test]
    fn each_tcp_or_udp_flow_has_its_own_label_on_every_packet() {
        let (mut out, mut counters) = (queue(16), Counters::default());
        let mut v6 = Ipv6Output::new(US, 1500, 64, 7, PathMtuConfig::default());
        let flow = |sport: u16| [&sport.to_be_bytes()[..], &[0, 7], &[0; 4000]].concat();
        v6.send(&mut out, &mut counters, PEER, UDP, &flow(5000)[..100]).expect("queued");
        v6.send(&mut out, &mut counters, PEER, UDP, &flow(5000)).expect("queued: 3 fragments");
        v6.send(&mut out, &mut counters, PEER, UDP, &flow(5001)[..100]).expect("queued");
        v6.send(&mut out, &mut counters, PEER, 58, &flow(5000)[..100]).expect("queued");
        let labels: Vec<u32> = std::iter::from_fn(|| out.pop()).map(|p| label(&p)).collect();
        assert_eq!(labels.len(), 6);
        assert!(labels[0] != 0 && labels[..4].iter().all(|&l| l == labels[0]), "one flow, one label: {labels:?}");
        assert_ne!(labels[4], labels[0], "another port, another flow");
        assert_eq!(labels[5], 0, "ICMPv6 is no flow");
        let other_seed = Ipv6Output::new(US, 1500, 64, 8, PathMtuConfig::default()).flow_label(PEER, UDP, &flow(5000));
        assert_ne!(other_seed, labels[0], "keyed: not guessable from the tuple alone");
    }

    #[test]
    fn too_big_and_queue_full_are_refused() {
        let (mut out, mut counters) = (queue(2), Counters::default());
        let mut v6 = Ipv6Output::new(US, 1500, 64, 7, PathMtuConfig::default());
        assert_eq!(v6.send(&mut out, &mut counters, PEER, 58, &vec![0; 65_528]), Err(OutputError::TooBig));
        assert_eq!(v6.send(&mut out, &mut counters, PEER, 58, &[0; 4000]), Err(OutputError::TooBig), "3 fragments");
        assert_eq!(v6.send(&mut out, &mut counters, PEER, 58, &[0; 2000]), Ok(()));
        assert_eq!(v6.send(&mut out, &mut counters, PEER, 58, &[0; 10]), Err(OutputError::QueueFull));
        assert_eq!(counters.ip6_tx_too_big, 2);
    }
}
