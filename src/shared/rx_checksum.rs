//! What the link says of a received packet's TCP or UDP checksum: the
//! `ip_summed` a Linux `sk_buff` carries up the stack, reduced to the two cases
//! a user-space stack meets.

/// Whether the stack must verify a received packet's transport checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxChecksum {
    /// The link vouches for nothing: the stack verifies the TCP or UDP checksum,
    /// as it must for a packet that may have crossed a wire (RFC 9293 §3.1,
    /// RFC 768). Every device without offloads, every simulated link.
    #[default]
    Verify,
    /// The device vouches for the payload: the packet comes from the kernel on
    /// the other side of a TUN with offloads, which built it and left its
    /// checksum to "hardware" (virtio-net `NEEDS_CSUM`, Linux's
    /// `CHECKSUM_PARTIAL`: the field holds only the pseudo-header sum) or had
    /// checked it already (`DATA_VALID`, `CHECKSUM_UNNECESSARY`). Nothing
    /// crossed a wire, so there is nothing to verify; Linux skips such packets
    /// too (`skb_csum_unnecessary`). It applies to the one whole packet it came
    /// with: a datagram reassembled from fragments is verified whatever its
    /// fragments said.
    Vouched,
}
