//! A socket's blocking behaviour — read and write timeouts, non-blocking mode —
//! changed through `&self`, as `std::net`'s sockets allow (so that one thread may
//! set a timeout while another reads), and shared by a stream's clones: like a
//! duplicated file descriptor, every [`TcpStream::try_clone`](super::TcpStream::try_clone)
//! is the same socket with the same settings.
//!
//! Representation: atomics, so the sockets stay `Sync` without a lock. A timeout
//! is kept in nanoseconds, 0 meaning none (a zero timeout is refused, as std
//! refuses it; one beyond 584 years is kept as that).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Timeouts and non-blocking mode of one socket.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    nonblocking: AtomicBool,
}

impl Settings {
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store(&self.read_timeout, timeout, "read")
    }

    pub fn read_timeout(&self) -> Option<Duration> {
        load(&self.read_timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store(&self.write_timeout, timeout, "write")
    }

    pub fn write_timeout(&self) -> Option<Duration> {
        load(&self.write_timeout)
    }

    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    pub fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }
}

fn store(slot: &AtomicU64, timeout: Option<Duration>, which: &str) -> io::Result<()> {
    let nanos = match timeout {
        Some(t) if t.is_zero() => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("a zero {which} timeout is not allowed")))
        }
        Some(t) => u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
        None => 0,
    };
    slot.store(nanos, Ordering::Relaxed);
    Ok(())
}

fn load(slot: &AtomicU64) -> Option<Duration> {
    match slot.load(Ordering::Relaxed) {
        0 => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_trip_zero_is_refused_and_none_clears() {
        let s = Settings::default();
        assert_eq!((s.read_timeout(), s.write_timeout(), s.nonblocking()), (None, None, false));
        s.set_read_timeout(Some(Duration::from_millis(250))).expect("valid");
        s.set_write_timeout(Some(Duration::MAX)).expect("valid");
        assert_eq!(s.read_timeout(), Some(Duration::from_millis(250)));
        assert_eq!(s.write_timeout(), Some(Duration::from_nanos(u64::MAX)));
        let e = s.set_read_timeout(Some(Duration::ZERO)).expect_err("zero");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(s.read_timeout(), Some(Duration::from_millis(250)), "a refused setting changes nothing");
        s.set_read_timeout(None).expect("valid");
        s.set_nonblocking(true);
        assert_eq!((s.read_timeout(), s.nonblocking()), (None, true));
    }
}
