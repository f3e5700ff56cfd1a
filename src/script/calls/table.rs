//! The socket table as the FreeBSD suite's assertions see it: `sockstat`'s
//! listing by state, and the state of packetdrill's "socket under test" for
//! `%{ assert tcpi_state == … }%`, with the `tcp_info` numbers of its connection.
//!
//! States are FreeBSD's names (`SYN_RCVD`, `TIME_WAIT`, …, see `shell.rs`). Each
//! query lists the stack's TCP sockets once: O(sockets + descriptors).

use super::Sock;
use crate::script::code::{self, Snapshot};
use crate::script::run::Runner;
use crate::script::shell;
use crate::shared::TcpHandle;

impl Runner {
    /// The TCP sockets as `sockstat -s` lists them, by FreeBSD state name: with
    /// `own`, those the script holds a descriptor for (a fresh one, or one whose
    /// connection is gone, is `CLOSED`); else also every listener and connection of
    /// the stack without one. With `port`, only those whose local or
    /// remote port it is.
    pub(in crate::script) fn socket_states(&self, port: Option<u16>, own: bool) -> Vec<&'static str> {
        let sockets = self.stack.tcp_sockets();
        let on_port = |local: u16, peer: Option<u16>| port.is_none_or(|p| local == p || peer == Some(p));
        let mut out = Vec::new();
        for f in self.fds.values() {
            let handle = match f.sock {
                Sock::Fresh => {
                    if port.is_none() {
                        out.push("CLOSED");
                    }
                    continue;
                }
                Sock::Udp(_) => continue,
                Sock::Listener(h) | Sock::Conn(h) => h,
            };
            match sockets.iter().find(|s| s.handle == handle) {
                Some(s) if on_port(s.local.port(), s.peer.map(|p| p.port())) => {
                    out.push(shell::freebsd_state(s.state));
                }
                Some(_) => {}
                None if port.is_none() => out.push("CLOSED"),
                None => {}
            }
        }
        if !own {
            let held = |h| self.fds.values().any(|f| matches!(f.sock, Sock::Listener(x) | Sock::Conn(x) if x == h));
            for s in &sockets {
                if !held(s.handle) && on_port(s.local.port(), s.peer.map(|p| p.port())) {
                    out.push(shell::freebsd_state(s.state));
                }
            }
        }
        out
    }

    /// The `tcp_info` snapshot of packetdrill's "socket under test": the stack's
    /// connection on the matcher's tuple (whose peer an `ipv4-mapped-ipv6`
    /// script's sockets name as `::ffff:a.b.c.d`), else a listener on its local port
    /// (`LISTEN`, no numeric fields), else `CLOSED` (none either).
    pub(in crate::script) fn snapshot_under_test(&self) -> Snapshot {
        let t = self.matcher.tuple;
        let sockets = self.stack.tcp_sockets();
        let conn = sockets.iter().find(|s| {
            s.local.port() == t.local_port
                && s.peer.is_some_and(|p| p.ip() == self.profile.socket_ip(t.remote) && p.port() == t.remote_port)
        });
        match conn {
            Some(s) => self.snapshot(shell::freebsd_state(s.state), Some(s.handle)),
            None if sockets.iter().any(|s| s.peer.is_none() && s.local.port() == t.local_port) => {
                self.snapshot("LISTEN", None)
            }
            None => self.snapshot("CLOSED", None),
        }
    }

    /// A snapshot in `state` (FreeBSD's name) with the numeric fields of
    /// connection `conn`, from the stack's `tcp_info` (none if it has gone).
    pub(in crate::script) fn snapshot(&self, state: &'static str, conn: Option<TcpHandle>) -> Snapshot {
        let fields = conn.and_then(|c| self.stack.tcp_info(c)).map(|i| {
            [
                ("tcpi_rto", i.rto),
                ("tcpi_snd_mss", i.snd_mss),
                ("tcpi_rcv_mss", i.rcv_mss),
                ("tcpi_unacked", i.unacked),
                ("tcpi_sacked", i.sacked),
                ("tcpi_lost", i.lost),
                ("tcpi_retrans", i.retrans),
                ("tcpi_rtt", i.rtt),
                ("tcpi_rttvar", i.rttvar),
                ("tcpi_snd_ssthresh", i.snd_ssthresh),
                ("tcpi_snd_cwnd", i.snd_cwnd),
                ("tcpi_reordering", i.reordering),
                ("tcpi_total_retrans", i.total_retrans),
            ]
            .map(|(name, v)| (name, i64::from(v)))
            .to_vec()
        });
        debug_assert!(fields.as_ref().is_none_or(|f| f.iter().map(|(n, _)| *n).eq(code::FIELDS)));
        Snapshot { state, fields: fields.unwrap_or_default() }
    }
}
