//! Proportional Rate Reduction (RFC 6937): how much to send during fast recovery.
//!
//! Entering recovery halves the window (`ssthresh`), but the flight is still the
//! old, full size. RFC 6675 waits until `pipe` drains below `cwnd` and then sends;
//! if the ACKs that would drain it are themselves lost, the sender sits silent
//! until the retransmission timer fires. PRR instead spreads the reduction over
//! the round trip: for every byte the peer reports delivered, it sends about
//! `ssthresh / RecoverFS` bytes, so the flight shrinks smoothly to `ssthresh`,
//! and the first retransmission always goes out at once. Once `pipe` is below
//! `ssthresh` (heavy loss), the slow-start reduction bound (PRR-SSRB) lets the
//! flight grow back towards `ssthresh` no faster than slow start would.
//!
//! ```text
//!   pipe > ssthresh:  sndcnt = ⌈prr_delivered · ssthresh / RecoverFS⌉ − prr_out
//!   pipe ≤ ssthresh:  sndcnt = min(ssthresh − pipe,
//!                                  max(prr_delivered − prr_out, DeliveredData) + MSS)
//! ```

/// PRR state of one recovery episode (RFC 6937 §3 names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prr {
    /// FlightSize when recovery began.
    recover_fs: usize,
    /// Bytes delivered to the peer (ACKed or SACKed) since recovery began.
    prr_delivered: usize,
    /// Bytes sent since recovery began.
    prr_out: usize,
    /// Bytes that may be sent now.
    sndcnt: usize,
}

impl Prr {
    /// A recovery episode begins with `flight` bytes outstanding.
    pub fn new(flight: usize) -> Self {
        Prr { recover_fs: flight.max(1), prr_delivered: 0, prr_out: 0, sndcnt: 0 }
    }

    /// An ACK reported `delivered` newly delivered bytes; `pipe` is the estimate
    /// of bytes in the network after it.
    pub fn on_ack(&mut self, delivered: usize, pipe: usize, ssthresh: usize, mss: usize) {
        self.prr_delivered = self.prr_delivered.saturating_add(delivered);
        let sndcnt = if pipe > ssthresh {
            // Proportional part: RFC 6937 §3.1, rounded up.
            let target = (self.prr_delivered as u128 * ssthresh as u128).div_ceil(self.recover_fs as u128);
            usize::try_from(target).unwrap_or(usize::MAX).saturating_sub(self.prr_out)
        } else {
            // Slow-start reduction bound.
            let limit = self.prr_delivered.saturating_sub(self.prr_out).max(delivered).saturating_add(mss);
            ssthresh.saturating_sub(pipe).min(limit)
        };
        self.sndcnt = sndcnt;
    }

    /// Bytes that may be sent now. The first retransmission of the episode
    /// always may, whatever the ACKs said (as Linux does).
    pub fn allowance(&self, mss: usize) -> usize {
        if self.prr_out == 0 {
            self.sndcnt.max(mss)
        } else {
            self.sndcnt
        }
    }

    /// `bytes` were (re)transmitted.
    pub fn on_send(&mut self, bytes: usize) {
        self.prr_out = self.prr_out.saturating_add(bytes);
        self.sndcnt = self.sndcnt.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn first_retransmission_always_goes() {
        let prr = Prr::new(20 * MSS);
        assert_eq!(prr.allowance(MSS), MSS);
    }

    #[test]
    fn proportional_while_pipe_is_above_ssthresh() {
        // 20 segments out, ssthresh 10: one segment sent for every two delivered.
        let mut prr = Prr::new(20 * MSS);
        prr.on_send(MSS); // the fast retransmit
        let mut sent = 0;
        for delivered in 1..=10 {
            prr.on_ack(MSS, 19 * MSS - delivered * MSS / 2, 10 * MSS, MSS);
            let now = prr.allowance(MSS) / MSS * MSS;
            prr.on_send(now);
            sent += now;
        }
        assert_eq!(sent, 4 * MSS, "ten deliveries: ⌈10·10/20⌉ = 5 segments in all, one already sent");
    }

    #[test]
    fn slow_start_bound_when_pipe_fell_below_ssthresh() {
        let mut prr = Prr::new(20 * MSS);
        prr.on_send(MSS);
        // Heavy loss: pipe only 2 segments, ssthresh 10.
        prr.on_ack(MSS, 2 * MSS, 10 * MSS, MSS);
        assert_eq!(prr.allowance(MSS), 2 * MSS, "max(1 − 1, 1) + 1 segment");
        prr.on_ack(3 * MSS, 2 * MSS, 10 * MSS, MSS);
        assert_eq!(prr.allowance(MSS), 4 * MSS, "max(4 − 1, 3) + 1 segment");
        prr.on_ack(20 * MSS, 2 * MSS, 10 * MSS, MSS);
        assert_eq!(prr.allowance(MSS), 8 * MSS, "never past ssthresh − pipe");
    }
}
