//! A box that strips the options of TCP SYNs, as some firewalls and old
//! load balancers do with options they do not know.
//!
//! Window scaling, timestamps and SACK are each agreed in the handshake, and
//! only if both SYNs carry the option (RFC 7323 §2.2, §3.2; RFC 2018 §2), so a
//! box that removes them from SYNs alone turns them off for the connection —
//! even though the later segments pass untouched. Each option is overwritten with
//! NOPs in place ([`crate::wire::rewrite::nop_tcp_options`]), so nothing moves
//! and only the checksum changes. The MSS may be kept (most such boxes do); a
//! host that gets no MSS must assume 536 bytes (RFC 9293 §3.7.1).

use super::Middlebox;
use crate::sim::link::Direction;
use crate::time::Instant;
use crate::wire::rewrite::{self, OPTION_MSS};

/// Strips the options of every SYN and SYN,ACK, both ways. See the module
/// documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct StripOptions {
    /// Leave the MSS option in place.
    pub keep_mss: bool,
    /// SYNs it changed.
    pub stripped: u64,
}

impl StripOptions {
    /// A box that strips every option of SYNs but the MSS.
    pub fn keeping_mss() -> Self {
        StripOptions { keep_mss: true, stripped: 0 }
    }
}

impl Middlebox for StripOptions {
    fn name(&self) -> &str {
        "strip-options"
    }

    fn process(
        &mut self,
        _: Instant,
        _: Direction,
        mut packet: Vec<u8>,
        _: &mut Vec<(Direction, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        if rewrite::is_tcp_syn(&packet) {
            let keep_mss = self.keep_mss;
            if rewrite::nop_tcp_options(&mut packet, |kind| keep_mss && kind == OPTION_MSS) == Ok(true) {
                self.stripped += 1;
            }
        }
        Some(packet)
    }
}
