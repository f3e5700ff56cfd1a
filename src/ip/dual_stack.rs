//! Dual-stack sockets: which address families a UDP socket or a TCP listener
//! serves, and how a socket of either family names its peers — the rules Linux
//! applies (RFC 4291 §2.5.5.2 for IPv4-mapped addresses, RFC 3493 §3.7 for
//! `IPV6_V6ONLY`).
//!
//! * A socket bound to an **IPv4** address (`0.0.0.0` or ours) is an IPv4
//!   socket: it serves IPv4 only and names peers as IPv4 addresses.
//! * A socket bound to an **IPv6** address is an IPv6 socket and names every
//!   peer as an IPv6 address; an IPv4 peer `a.b.c.d` appears as the
//!   IPv4-mapped `::ffff:a.b.c.d`. Bound to `::`, it serves IPv6 *and* IPv4 —
//!   unless `only_v6` is set (Linux's `IPV6_V6ONLY`, off by default as with
//!   `net.ipv6.bindv6only = 0`); bound to our IPv6 address, IPv6 only; bound
//!   to an IPv4-mapped address (`::ffff:0.0.0.0` or `::ffff:` and ours), IPv4
//!   only.
//!
//! Inside the stack an address is kept **canonical**: an IPv4-mapped IPv6
//! address is stored as the IPv4 address it maps, so one comparison decides
//! whether a datagram or segment comes from a known peer whichever way the
//! program wrote it. (IPv6 input refuses IPv4-mapped sources, so a canonical
//! IPv4 address always came over IPv4.)

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

/// An IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family `addr` reaches: IPv4 for an IPv4 or IPv4-mapped address.
    pub fn of(addr: &SocketAddr) -> Family {
        match canonical(*addr) {
            SocketAddr::V4(_) => Family::V4,
            SocketAddr::V6(_) => Family::V6,
        }
    }
}

/// `addr` with an IPv4-mapped address turned into the IPv4 address it maps.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// A canonical address as a socket names it: an IPv4 address as
/// `::ffff:a.b.c.d` to an IPv6 socket (`v6_socket`), else as it is.
pub fn shown(addr: SocketAddr, v6_socket: bool) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if v6_socket => SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0)),
        other => other,
    }
}

/// What a socket bound: the address as the program gave it (the port aside),
/// and whether an IPv6 socket refuses IPv4 (`IPV6_V6ONLY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub ip: IpAddr,
    pub only_v6: bool,
}

impl Binding {
    /// An IPv6 socket (`AF_INET6`): it names its peers as IPv6 addresses.
    pub fn is_v6_socket(&self) -> bool {
        self.ip.is_ipv6()
    }

    /// Whether the socket sends to and receives from `family`.
    pub fn serves(&self, family: Family) -> bool {
        match self.ip {
            IpAddr::V4(_) => family == Family::V4,
            IpAddr::V6(ip) if ip.is_unspecified() => family == Family::V6 || !self.only_v6,
            IpAddr::V6(ip) if ip.to_ipv4_mapped().is_some() => family == Family::V4,
            IpAddr::V6(_) => family == Family::V6,
        }
    }

    /// A canonical peer address as this socket names it: an IPv4 peer of an
    /// IPv6 socket as `::ffff:a.b.c.d`.
    pub fn show(&self, addr: SocketAddr) -> SocketAddr {
        shown(addr, self.is_v6_socket())
    }
}

/// The sockets on one port — UDP sockets, or TCP listeners — at most one per
/// family (a dual-stack socket fills both places). **One port namespace for
/// both families**: two sockets on a port conflict (`AddrInUse`) when they serve
/// a family in common. So `0.0.0.0:P` and a dual-stack `[::]:P` conflict, while
/// `0.0.0.0:P` and an IPv6-only `[::]:P` (or `[ours]:P`) share P, each receiving
/// its own family — as on Linux, where the stack has one address per family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortHolders<H> {
    pub v4: Option<H>,
    pub v6: Option<H>,
}

impl<H> Default for PortHolders<H> {
    fn default() -> Self {
        PortHolders { v4: None, v6: None }
    }
}

impl<H: Copy + PartialEq> PortHolders<H> {
    /// The socket receiving `family` on this port.
    pub fn get(&self, family: Family) -> Option<H> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }

    /// Whether a socket `binding` (`handle`, if it holds places already) would
    /// take a family another socket holds.
    pub fn conflicts(&self, binding: &Binding, handle: Option<H>) -> bool {
        [Family::V4, Family::V6]
            .into_iter()
            .any(|f| binding.serves(f) && self.get(f).is_some_and(|h| Some(h) != handle))
    }

    /// Give `handle` the places of the families `binding` serves, and take it
    /// from the others.
    pub fn place(&mut self, binding: &Binding, handle: H) {
        for (family, place) in [(Family::V4, &mut self.v4), (Family::V6, &mut self.v6)] {
            if binding.serves(family) {
                *place = Some(handle);
            } else if *place == Some(handle) {
                *place = None;
            }
        }
    }

    /// Take `handle` out; whether the port is now empty.
    pub fn remove(&mut self, handle: H) -> bool {
        for place in [&mut self.v4, &mut self.v6] {
            if *place == Some(handle) {
                *place = None;
            }
        }
        self.v4.is_none() && self.v6.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn binding(ip: &str, only_v6: bool) -> Binding {
        Binding { ip: ip.parse().expect("an address"), only_v6 }
    }

    #[test]
    fn who_serves_what() {
        let cases = [
            ("0.0.0.0", false, true, false),
            ("198.18.0.2", false, true, false),
            ("::", false, true, true),
            ("::", true, false, true),
            ("2001:2::2", false, false, true),
            ("::ffff:0.0.0.0", false, true, false),
            ("::ffff:198.18.0.2", false, true, false),
        ];
        for (ip, only_v6, v4, v6) in cases {
            let b = binding(ip, only_v6);
            assert_eq!((b.serves(Family::V4), b.serves(Family::V6)), (v4, v6), "{ip} only_v6={only_v6}");
        }
    }

    #[test]
    fn mapped_addresses_are_kept_as_ipv4_and_shown_mapped_to_ipv6_sockets() {
        let mapped: SocketAddr = "[::ffff:198.18.0.1]:53".parse().expect("addr");
        let v4 = SocketAddr::from((Ipv4Addr::new(198, 18, 0, 1), 53));
        assert_eq!(canonical(mapped), v4);
        assert_eq!(Family::of(&mapped), Family::V4);
        assert_eq!(binding("::", false).show(v4), mapped);
        assert_eq!(binding("0.0.0.0", false).show(v4), v4);
        let v6 = SocketAddr::from((Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1), 53));
        assert_eq!((canonical(v6), binding("::", false).show(v6)), (v6, v6));
    }

    #[test]
    fn a_port_holds_one_socket_per_family() {
        let (a, b) = (1u64, 2u64);
        let mut port = PortHolders::default();
        port.place(&binding("0.0.0.0", false), a);
        assert!(port.conflicts(&binding("::", false), None), "dual-stack wants IPv4 too");
        assert!(!port.conflicts(&binding("::", true), None), "IPv6-only shares the port");
        assert!(!port.conflicts(&binding("0.0.0.0", false), Some(a)), "a socket does not conflict with itself");
        port.place(&binding("::", true), b);
        assert_eq!((port.get(Family::V4), port.get(Family::V6)), (Some(a), Some(b)));
        assert!(!port.remove(a));
        assert!(port.remove(b));
    }
}
