//! Receive-buffer auto-tuning: a connection's receive buffer grows when it is what
//! limits the flow.
//!
//! A window of W bytes lets a sender deliver at most W per round trip. With a fixed
//! 256 KiB buffer, a 40 ms path caps a flow at 52 Mbit/s whatever the link. Like
//! Linux's "dynamic right-sizing" (`tcp_rcv_space_adjust`), we watch how much the
//! program reads per round trip: when it reads more than half the buffer in one,
//! the window was the bottleneck, and the buffer doubles — up to
//! [`TcpConfig::recv_buffer_max`](crate::config::TcpConfig::recv_buffer_max), the
//! explicit bound on memory. A program that does not read keeps the buffer small
//! (its window closes instead), and one that sets its buffer size itself turns
//! tuning off for that connection, as `SO_RCVBUF` does on Linux. The buffer is a
//! bound, not an allocation: bytes are stored only as they arrive.

use std::time::Duration;

use crate::time::Instant;

/// What the tuner remembers between reads.
#[derive(Clone, Copy, Debug)]
pub struct AutoTune {
    /// The largest the buffer may become (the buffer size itself when tuning is off).
    pub max: usize,
    /// Bytes the program read since `since`.
    read: usize,
    /// Start of the current measurement (the first read after the last decision).
    since: Option<Instant>,
}

impl AutoTune {
    pub fn new(max: usize) -> Self {
        AutoTune { max, read: 0, since: None }
    }

    /// The program read `n` bytes at `now`; `rtt` is the connection's smoothed
    /// round-trip time, if measured yet. Returns the new buffer size when it grows.
    pub fn on_read(&mut self, now: Instant, n: usize, rtt: Option<Duration>, capacity: usize) -> Option<usize> {
        self.read = self.read.saturating_add(n);
        let rtt = rtt?;
        let since = *self.since.get_or_insert(now);
        if now < since + rtt {
            return None;
        }
        let read = std::mem::take(&mut self.read);
        self.since = Some(now);
        (read.saturating_mul(2) > capacity && capacity < self.max).then(|| capacity.saturating_mul(2).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    fn ms(n: u64) -> Instant {
        Instant::from_micros(n * 1000)
    }

    #[test]
    fn grows_when_a_round_trip_drains_more_than_half_the_buffer() {
        let rtt = Some(Duration::from_millis(40));
        let mut tune = AutoTune::new(4096 * KIB);
        assert_eq!(tune.on_read(ms(0), 64 * KIB, rtt, 256 * KIB), None, "first read starts the clock");
        assert_eq!(tune.on_read(ms(20), 64 * KIB, rtt, 256 * KIB), None, "within the round trip");
        assert_eq!(tune.on_read(ms(40), 64 * KIB, rtt, 256 * KIB), Some(512 * KIB), "192 KiB in 40 ms > 128 KiB");
    }

    #[test]
    fn a_slow_reader_or_an_unmeasured_path_keeps_the_buffer() {
        let mut unmeasured = AutoTune::new(4096 * KIB);
        assert_eq!(unmeasured.on_read(ms(0), 200 * KIB, None, 256 * KIB), None, "no RTT yet");
        assert_eq!(unmeasured.on_read(ms(500), 200 * KIB, None, 256 * KIB), None, "still none");
        let mut tune = AutoTune::new(4096 * KIB);
        let rtt = Some(Duration::from_millis(10));
        for t in 1..100 {
            assert_eq!(tune.on_read(ms(t * 10), 10 * KIB, rtt, 256 * KIB), None);
        }
    }

    #[test]
    fn never_past_the_bound() {
        let rtt = Some(Duration::from_millis(1));
        let mut tune = AutoTune::new(300 * KIB);
        tune.on_read(ms(0), 0, rtt, 256 * KIB);
        assert_eq!(tune.on_read(ms(1), 256 * KIB, rtt, 256 * KIB), Some(300 * KIB));
        assert_eq!(tune.on_read(ms(2), 300 * KIB, rtt, 300 * KIB), None);
    }
}
