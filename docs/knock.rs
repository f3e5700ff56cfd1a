use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use tunstack::proto::{IpDatagram, Protocol, Transmit, Verdict};
use tunstack::Instant;

const KNOCK: &[u8] = b"KNOCK";
const WHO: &[u8] = b"WHO";
/// How long to wait for an answer before knocking again.
const RETRY: Duration = Duration::from_millis(500);
/// Most datagrams waiting to be sent (every bound explicit).
const MAX_OUT: usize = 64;

/// "Knock knock" on an IP protocol number: `knock` sends KNOCK to a peer
/// every 500 ms until it answers WHO; a host that receives KNOCK answers WHO.
#[derive(Debug, Default)]
pub struct Knock {
    /// Whom we knock at, and when we knock again.
    knocking: Option<(Ipv4Addr, Instant)>,
    /// Peers that answered, in order.
    pub answered: Vec<Ipv4Addr>,
    out: VecDeque<Transmit>,
    /// An event is owed: someone answered.
    ready: bool,
}

impl Knock {
    /// Knock at `peer` now, and again every [`RETRY`] until it answers.
    pub fn knock(&mut self, now: Instant, peer: Ipv4Addr) {
        self.send(Transmit::new(peer, KNOCK.to_vec()));
        self.knocking = Some((peer, now + RETRY));
    }

    fn send(&mut self, datagram: Transmit) {
        if self.out.len() < MAX_OUT {
            self.out.push_back(datagram);
        }
    }
}

impl Protocol for Knock {
    fn input(&mut self, _now: Instant, datagram: &IpDatagram<'_>) -> Verdict {
        match datagram.payload {
            KNOCK => self.send(Transmit::new(datagram.src, WHO.to_vec())),
            WHO if self.knocking.is_some_and(|(peer, _)| peer == datagram.src) => {
                self.knocking = None;
                self.answered.push(datagram.src);
                self.ready = true;
            }
            WHO => {} // an answer nobody waits for (a duplicate): taken, ignored
            _ => return Verdict::Malformed,
        }
        Verdict::Accepted
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        self.knocking.map(|(_, at)| at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((peer, _)) = self.knocking {
            self.knock(now, peer);
        }
    }

    fn poll_event(&mut self) -> Option<u64> {
        std::mem::take(&mut self.ready).then_some(0)
    }
}
