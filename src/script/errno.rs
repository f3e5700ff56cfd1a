//! errno names and numbers, and the errno a socket call reports for a stack error.
//!
//! Scripts name errors (`= -1 ECONNREFUSED`); the stack's socket API returns
//! [`io::Error`]s. The runner compares in numbers, with Linux's values (the ones
//! `libc` gives on the Linux hosts this runs on), and prints names in messages.
//!
//! The table is small and searched linearly: O(20) per lookup, only when a call
//! returns an error or a script names one. Where two names share a number
//! (`EWOULDBLOCK` is `EAGAIN` on Linux) the first in the table is the one printed.

use std::io;

/// errno names and numbers (Linux).
const ERRNOS: &[(&str, i32)] = &[
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("EWOULDBLOCK", libc::EWOULDBLOCK),
    ("ENOMEM", libc::ENOMEM),
    ("EINVAL", libc::EINVAL),
    ("EPIPE", libc::EPIPE),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("EDESTADDRREQ", libc::EDESTADDRREQ),
    ("EMSGSIZE", libc::EMSGSIZE),
];

/// The number of an errno name; `None` for a name not in the table.
pub(super) fn errno_value(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of an errno number: `0` for no error, `errno N` for one not in the
/// table.
pub(super) fn errno_name(errno: i32) -> String {
    if errno == 0 {
        return "0".into();
    }
    ERRNOS.iter().find(|(_, v)| *v == errno).map_or_else(|| format!("errno {errno}"), |(n, _)| (*n).to_string())
}

/// The errno a Linux socket call would report for this error: its OS error if it
/// has one, else the errno of its kind (`EINVAL` for kinds with no socket errno).
pub(super) fn errno_of(e: &io::Error) -> i32 {
    if let Some(raw) = e.raw_os_error() {
        return raw;
    }
    use io::ErrorKind::*;
    match e.kind() {
        WouldBlock => libc::EAGAIN,
        ConnectionRefused => libc::ECONNREFUSED,
        ConnectionReset => libc::ECONNRESET,
        ConnectionAborted => libc::ECONNABORTED,
        TimedOut => libc::ETIMEDOUT,
        NotConnected => libc::ENOTCONN,
        BrokenPipe => libc::EPIPE,
        AddrInUse => libc::EADDRINUSE,
        AddrNotAvailable => libc::EADDRNOTAVAIL,
        InvalidInput => libc::EINVAL,
        OutOfMemory => libc::ENOMEM,
        Unsupported => libc::EOPNOTSUPP,
        _ => libc::EINVAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_to_its_number_and_back() {
        for (name, value) in ERRNOS {
            assert_eq!(errno_value(name), Some(*value), "{name}");
            // Aliases print as the first name with that number.
            let printed = errno_name(*value);
            assert_eq!(errno_value(&printed), Some(*value), "{name}");
        }
        assert_eq!(errno_name(libc::EWOULDBLOCK), "EAGAIN");
    }

    #[test]
    fn unknown_names_and_numbers() {
        assert_eq!(errno_value("ENOSUCHTHING"), None);
        assert_eq!(errno_value("econnreset"), None, "names are case-sensitive");
        assert_eq!(errno_name(0), "0");
        assert_eq!(errno_name(-5), "errno -5");
    }

    #[test]
    fn stack_errors_map_to_linux_errnos() {
        let of = |kind| errno_of(&io::Error::from(kind));
        assert_eq!(of(io::ErrorKind::WouldBlock), libc::EAGAIN);
        assert_eq!(of(io::ErrorKind::ConnectionRefused), libc::ECONNREFUSED);
        assert_eq!(of(io::ErrorKind::ConnectionReset), libc::ECONNRESET);
        assert_eq!(of(io::ErrorKind::NotConnected), libc::ENOTCONN);
        assert_eq!(of(io::ErrorKind::Other), libc::EINVAL);
        assert_eq!(errno_of(&io::Error::from_raw_os_error(libc::EISCONN)), libc::EISCONN);
    }
}
