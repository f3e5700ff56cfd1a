//! Well-known service names, like `/etc/services`.
//!
//! A port number by itself says nothing about *what* is listening; by
//! convention, though, IANA registers a service name for many ports (RFC 6335
//! §§8–10 describe the registry), and Unix systems ship the common ones in
//! `/etc/services`. Port scanners and `netstat`-like listings use such a
//! table to print `22/tcp ssh` instead of a bare `22`, which is how an
//! administrator scanning their own machine recognises what each open port
//! is for — and spots the ones that should not be open.
//!
//! The table is keyed by `(port, protocol)` because TCP and UDP are separate
//! namespaces: UDP 67 is `bootps` (the DHCP/BOOTP server) while TCP 67 has
//! no entry, and port 514 is `shell` (rsh) on TCP but `syslog` on UDP.
//!
//! # Which rows are listed
//!
//! IANA historically registered most low ports for *both* TCP and UDP, even
//! when the protocol only ever runs over one of them (nobody speaks SSH over
//! UDP). Like a modern `/etc/services`, this table lists a transport only
//! where the service is actually carried over it: echo, discard, daytime,
//! domain, ntp, kerberos... appear twice; ssh, http, smtp only as TCP;
//! bootps, bootpc, tftp, snmp, netbios-ns/dgm only as UDP. UDP 443 is listed
//! because HTTP/3 runs over QUIC on UDP.
//!
//! # Names
//!
//! Names are the lowercase IANA / `/etc/services` ones. For a few ports the
//! name everyone (port scanners such as nmap, and most port lists) uses
//! differs from IANA's registration, or the port is used by well-known
//! software without being registered to it; there the familiar name is
//! shown:
//!
//! | port       | shown here          | IANA registration  |
//! |------------|---------------------|--------------------|
//! | 135        | `msrpc`             | `epmap`            |
//! | 1158/tcp   | `oracle-emctl`      | `lsnr`             |
//! | 1521/tcp   | `oracle`            | `ncube-lm`         |
//! | 1755       | `mms`               | `ms-streaming`     |
//! | 2100/tcp   | `oracle-xdb-ftp`    | `amiganetfs`       |
//! | 4000/udp   | `qq` (QQ client)    | `terabase`         |
//! | 5900/tcp   | `vnc`               | `rfb`              |
//! | 7001/tcp   | `weblogic`          | `afs3-callback`    |
//! | 8000/tcp   | `http-alt`          | `irdmi`            |
//! | 8000/udp   | `qq` (QQ server)    | `irdmi`            |
//! | 9080/tcp   | `websphere`         | `glrpc`            |
//! | 9090/tcp   | `websphere-admin`   | `websm`            |
//!
//! (143 is `imap` as in IANA; older `/etc/services` files call it `imap2`.)

use super::Protocol;
use super::Protocol::{Tcp, Udp};

/// The table, sorted by `(port, protocol)` with `Tcp < Udp`, no duplicates.
/// [`service_name`] binary-searches it; a compile-time check below keeps the
/// order honest.
static WELL_KNOWN: &[(u16, Protocol, &str)] = &[
    (7, Tcp, "echo"),
    (7, Udp, "echo"),
    (9, Tcp, "discard"),
    (9, Udp, "discard"),
    (13, Tcp, "daytime"),
    (13, Udp, "daytime"),
    (17, Tcp, "qotd"),
    (17, Udp, "qotd"),
    (19, Tcp, "chargen"),
    (19, Udp, "chargen"),
    (20, Tcp, "ftp-data"),
    (21, Tcp, "ftp"),
    (22, Tcp, "ssh"),
    (23, Tcp, "telnet"),
    (25, Tcp, "smtp"),
    (37, Tcp, "time"),
    (37, Udp, "time"),
    (42, Tcp, "nameserver"),
    (42, Udp, "nameserver"),
    (43, Tcp, "whois"),
    (53, Tcp, "domain"),
    (53, Udp, "domain"),
    (67, Udp, "bootps"),
    (68, Udp, "bootpc"),
    (69, Udp, "tftp"),
    (70, Tcp, "gopher"),
    (79, Tcp, "finger"),
    (80, Tcp, "http"),
    (88, Tcp, "kerberos"),
    (88, Udp, "kerberos"),
    (99, Tcp, "metagram"),
    (99, Udp, "metagram"),
    (109, Tcp, "pop2"),
    (110, Tcp, "pop3"),
    (111, Tcp, "sunrpc"),
    (111, Udp, "sunrpc"),
    (113, Tcp, "auth"),
    (119, Tcp, "nntp"),
    (123, Tcp, "ntp"),
    (123, Udp, "ntp"),
    (135, Tcp, "msrpc"),
    (135, Udp, "msrpc"),
    (137, Udp, "netbios-ns"),
    (138, Udp, "netbios-dgm"),
    (139, Tcp, "netbios-ssn"),
    (143, Tcp, "imap"),
    (161, Udp, "snmp"),
    (162, Udp, "snmptrap"),
    (179, Tcp, "bgp"),
    (389, Tcp, "ldap"),
    (389, Udp, "ldap"),
    (443, Tcp, "https"),
    (443, Udp, "https"),
    (445, Tcp, "microsoft-ds"),
    (465, Tcp, "submissions"),
    (514, Tcp, "shell"),
    (514, Udp, "syslog"),
    (515, Tcp, "printer"),
    (520, Udp, "router"),
    (554, Tcp, "rtsp"),
    (554, Udp, "rtsp"),
    (587, Tcp, "submission"),
    (631, Tcp, "ipp"),
    (636, Tcp, "ldaps"),
    (873, Tcp, "rsync"),
    (993, Tcp, "imaps"),
    (995, Tcp, "pop3s"),
    (1080, Tcp, "socks"),
    (1158, Tcp, "oracle-emctl"),
    (1433, Tcp, "ms-sql-s"),
    (1521, Tcp, "oracle"),
    (1755, Tcp, "mms"),
    (1755, Udp, "mms"),
    (2049, Tcp, "nfs"),
    (2049, Udp, "nfs"),
    (2100, Tcp, "oracle-xdb-ftp"),
    (3306, Tcp, "mysql"),
    (3389, Tcp, "ms-wbt-server"),
    (3389, Udp, "ms-wbt-server"),
    (4000, Udp, "qq"),
    (5432, Tcp, "postgresql"),
    (5900, Tcp, "vnc"),
    (6379, Tcp, "redis"),
    (7001, Tcp, "weblogic"),
    (8000, Tcp, "http-alt"),
    (8000, Udp, "qq"),
    (8080, Tcp, "http-alt"),
    (9080, Tcp, "websphere"),
    (9090, Tcp, "websphere-admin"),
];

/// Compile-time proof that [`WELL_KNOWN`] is strictly increasing, which is
/// what makes the binary search in [`service_name`] correct.
const _: () = assert!(strictly_sorted(WELL_KNOWN), "WELL_KNOWN must be sorted");

const fn strictly_sorted(table: &[(u16, Protocol, &str)]) -> bool {
    let mut i = 1;
    while i < table.len() {
        let (prev_port, prev_proto, _) = table[i - 1];
        let (port, proto, _) = table[i];
        // `Tcp as u8 < Udp as u8`, matching the derived `Ord`.
        let increasing = prev_port < port || (prev_port == port && (prev_proto as u8) < (proto as u8));
        if !increasing {
            return false;
        }
        i += 1;
    }
    true
}

/// Name of the service IANA registers for `port` on `protocol`, e.g.
/// (Tcp, 80) → Some("http").
///
/// ```
/// use tunstack::ports::{services::service_name, Protocol};
///
/// assert_eq!(service_name(Protocol::Tcp, 22), Some("ssh"));
/// assert_eq!(service_name(Protocol::Udp, 67), Some("bootps"));
/// assert_eq!(service_name(Protocol::Tcp, 67), None); // separate namespaces
/// ```
pub fn service_name(protocol: Protocol, port: u16) -> Option<&'static str> {
    WELL_KNOWN
        .binary_search_by(|&(p, proto, _)| (p, proto).cmp(&(port, protocol)))
        .ok()
        .map(|index| WELL_KNOWN[index].2)
}

/// All entries, sorted by (port, protocol), for listing.
pub fn well_known() -> &'static [(u16, Protocol, &'static str)] {
    WELL_KNOWN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(WELL_KNOWN.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert_eq!(well_known().len(), WELL_KNOWN.len());
    }

    #[test]
    fn names_are_lowercase_and_nonempty() {
        for &(port, proto, name) in well_known() {
            assert!(!name.is_empty(), "{port}/{proto}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{port}/{proto}: {name:?}"
            );
        }
    }

    #[test]
    fn every_entry_is_found_by_lookup() {
        for &(port, proto, name) in well_known() {
            assert_eq!(service_name(proto, port), Some(name), "{port}/{proto}");
        }
    }

    #[test]
    fn spot_checks() {
        let cases: &[(Protocol, u16, &str)] = &[
            (Tcp, 7, "echo"),
            (Udp, 7, "echo"),
            (Udp, 9, "discard"),
            (Tcp, 13, "daytime"),
            (Tcp, 17, "qotd"),
            (Udp, 19, "chargen"),
            (Tcp, 20, "ftp-data"),
            (Tcp, 21, "ftp"),
            (Tcp, 22, "ssh"),
            (Tcp, 23, "telnet"),
            (Tcp, 25, "smtp"),
            (Udp, 37, "time"),
            (Udp, 42, "nameserver"),
            (Tcp, 43, "whois"),
            (Tcp, 53, "domain"),
            (Udp, 53, "domain"),
            (Udp, 67, "bootps"),
            (Udp, 68, "bootpc"),
            (Udp, 69, "tftp"),
            (Tcp, 70, "gopher"),
            (Tcp, 79, "finger"),
            (Tcp, 80, "http"),
            (Udp, 88, "kerberos"),
            (Tcp, 99, "metagram"),
            (Tcp, 109, "pop2"),
            (Tcp, 110, "pop3"),
            (Udp, 111, "sunrpc"),
            (Tcp, 113, "auth"),
            (Tcp, 119, "nntp"),
            (Udp, 123, "ntp"),
            (Tcp, 123, "ntp"),
            (Tcp, 135, "msrpc"),
            (Udp, 137, "netbios-ns"),
            (Udp, 138, "netbios-dgm"),
            (Tcp, 139, "netbios-ssn"),
            (Tcp, 143, "imap"),
            (Udp, 161, "snmp"),
            (Udp, 162, "snmptrap"),
            (Tcp, 179, "bgp"),
            (Tcp, 389, "ldap"),
            (Tcp, 443, "https"),
            (Udp, 443, "https"),
            (Tcp, 445, "microsoft-ds"),
            (Tcp, 465, "submissions"),
            (Tcp, 514, "shell"),
            (Udp, 514, "syslog"),
            (Tcp, 515, "printer"),
            (Udp, 520, "router"),
            (Tcp, 554, "rtsp"),
            (Tcp, 587, "submission"),
            (Tcp, 631, "ipp"),
            (Tcp, 636, "ldaps"),
            (Tcp, 873, "rsync"),
            (Tcp, 993, "imaps"),
            (Tcp, 995, "pop3s"),
            (Tcp, 1080, "socks"),
            (Tcp, 1158, "oracle-emctl"),
            (Tcp, 1433, "ms-sql-s"),
            (Tcp, 1521, "oracle"),
            (Tcp, 1755, "mms"),
            (Udp, 2049, "nfs"),
            (Tcp, 2100, "oracle-xdb-ftp"),
            (Tcp, 3306, "mysql"),
            (Tcp, 3389, "ms-wbt-server"),
            (Udp, 4000, "qq"),
            (Tcp, 5432, "postgresql"),
            (Tcp, 5900, "vnc"),
            (Tcp, 6379, "redis"),
            (Tcp, 7001, "weblogic"),
            (Tcp, 8000, "http-alt"),
            (Tcp, 8080, "http-alt"),
            (Tcp, 9080, "websphere"),
            (Tcp, 9090, "websphere-admin"),
        ];
        for &(proto, port, name) in cases {
            assert_eq!(service_name(proto, port), Some(name), "{port}/{proto}");
        }
    }

    #[test]
    fn tcp_and_udp_lookups_are_independent() {
        assert_eq!(service_name(Udp, 67), Some("bootps"));
        assert_eq!(service_name(Tcp, 67), None);
        assert_eq!(service_name(Tcp, 22), Some("ssh"));
        assert_eq!(service_name(Udp, 22), None);
        assert_eq!(service_name(Tcp, 514), Some("shell"));
        assert_eq!(service_name(Udp, 514), Some("syslog"));
        assert_eq!(service_name(Tcp, 8000), Some("http-alt"));
        assert_eq!(service_name(Udp, 8000), Some("qq"));
    }

    #[test]
    fn unknown_ports_have_no_name() {
        for port in [0, 1, 1024, 12345, 49152, 65535] {
            assert_eq!(service_name(Tcp, port), None);
            assert_eq!(service_name(Udp, port), None);
        }
    }

    #[test]
    fn sortedness_check_rejects_bad_tables() {
        assert!(strictly_sorted(&[]));
        assert!(strictly_sorted(&[(1, Tcp, "a"), (1, Udp, "b"), (2, Tcp, "c")]));
        assert!(!strictly_sorted(&[(1, Udp, "a"), (1, Tcp, "b")]));
        assert!(!strictly_sorted(&[(1, Tcp, "a"), (1, Tcp, "b")]));
        assert!(!strictly_sorted(&[(2, Tcp, "a"), (1, Udp, "b")]));
    }
}
