//! The UDP port namespace of a dual-stack stack (the address rules are in
//! `ip/dual_stack.rs`): **one port namespace for both families.** A UDP port
//! holds at most one socket per family: two sockets on a port conflict
//! (`AddrInUse`) when they serve a family in common. So `0.0.0.0:P` and a
//! dual-stack `[::]:P` conflict, while `0.0.0.0:P` and an IPv6-only `[::]:P`
//! (or `[ours]:P`) share P, each receiving its own family — as on Linux, where
//! the stack has one address per family.

use crate::ip::dual_stack::{Binding, Family};
use crate::shared::UdpHandle;

/// The sockets on one UDP port: at most one per family (a dual-stack socket
/// fills both places).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PortHolders {
    pub v4: Option<UdpHandle>,
    pub v6: Option<UdpHandle>,
}

impl PortHolders {
    /// The socket receiving `family` on this port.
    pub fn get(&self, family: Family) -> Option<UdpHandle> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }

    /// Whether a socket `binding` would take a family another socket holds.
    pub fn conflicts(&self, binding: &Binding, handle: UdpHandle) -> bool {
        [Family::V4, Family::V6].into_iter().any(|f| binding.serves(f) && self.get(f).is_some_and(|h| h != handle))
    }

    /// Give `handle` the places of the families `binding` serves, and take it
    /// from the others.
    pub fn place(&mut self, binding: &Binding, handle: UdpHandle) {
        for (family, place) in [(Family::V4, &mut self.v4), (Family::V6, &mut self.v6)] {
            if binding.serves(family) {
                *place = Some(handle);
            } else if *place == Some(handle) {
                *place = None;
            }
        }
    }

    /// Take `handle` out; whether the port is now empty.
    pub fn remove(&mut self, handle: UdpHandle) -> bool {
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

    fn binding(ip: &str, only_v6: bool) -> Binding {
        Binding { ip: ip.parse().expect("an address"), only_v6 }
    }

    #[test]
    fn a_port_holds_one_socket_per_family() {
        let (a, b) = (UdpHandle(1), UdpHandle(2));
        let mut port = PortHolders::default();
        port.place(&binding("0.0.0.0", false), a);
        assert!(port.conflicts(&binding("::", false), b), "dual-stack wants IPv4 too");
        assert!(!port.conflicts(&binding("::", true), b), "IPv6-only shares the port");
        assert!(!port.conflicts(&binding("0.0.0.0", false), a), "a socket does not conflict with itself");
        port.place(&binding("::", true), b);
        assert_eq!((port.get(Family::V4), port.get(Family::V6)), (Some(a), Some(b)));
        assert!(!port.remove(a));
        assert!(port.remove(b));
    }
}
