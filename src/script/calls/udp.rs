//! UDP sockets (`SOCK_DGRAM`): one datagram per call.
//!
//! A UDP descriptor starts unbound (`Sock::Udp(None)`). `bind(fd, ..., ...)` binds
//! the profile's local address and port, and the remote host's datagrams come
//! from its `remote_port`; `connect(fd, ..., ...)` binds an ephemeral port if
//! needed and fixes the peer (the remote host and `connect_port`). Either makes
//! the socket the one the `< udp (N)` / `> udp (N)` lines talk to. A write sends
//! one datagram of zeros; a read takes one datagram and returns at most the
//! buffer's size (the rest is lost, as with `recvfrom(2)`), blocking or failing
//! with `EAGAIN` like a TCP read. Each call is one stack call, O(its length).

use std::net::SocketAddr;

use super::{block_or, done, Fd, Op, Outcome, Sock};
use crate::script::args::{expect_args, require_ellipsis};
use crate::script::ast::Call;
use crate::script::errno::errno_of;
use crate::script::error::Result;
use crate::script::run::Runner;
use crate::shared::UdpHandle;

impl Runner {
    /// `bind(fd, ..., ...)` on a UDP socket: the profile's local address and port;
    /// its datagrams come from the remote host's port.
    pub(super) fn udp_bind(&mut self, line: usize, call: &Call, fd: i64) -> Result<Outcome> {
        expect_args(line, call, 3)?;
        require_ellipsis(line, call, 1, "explicit socket addresses (`...` binds the profile's local address)")?;
        let addr = SocketAddr::new(self.profile.socket_ip(self.profile.local_ip()), self.profile.local_port);
        let socket = match self.stack.udp_bind(addr) {
            Ok(socket) => socket,
            Err(e) => return done(Err(errno_of(&e))),
        };
        self.matcher.tuple.local_port = self.profile.local_port;
        self.matcher.tuple.remote_port = self.profile.remote_port;
        if let Some(f) = self.fds.get_mut(&fd) {
            f.sock = Sock::Udp(Some(socket));
        }
        done(Ok(0))
    }

    /// `connect(fd, ..., ...)` on a UDP socket: bound to an ephemeral port if it is
    /// not yet, its peer fixed to the profile's remote host and `connect_port`.
    pub(super) fn udp_connect(&mut self, fd: i64, socket: Option<UdpHandle>) -> Result<Outcome> {
        let socket = match socket {
            Some(socket) => socket,
            None => match self.stack.udp_bind(SocketAddr::new(self.profile.socket_ip(self.profile.local_ip()), 0)) {
                Ok(socket) => socket,
                Err(e) => return done(Err(errno_of(&e))),
            },
        };
        if let Some(f) = self.fds.get_mut(&fd) {
            f.sock = Sock::Udp(Some(socket));
        }
        let peer = SocketAddr::new(self.profile.socket_ip(self.profile.remote_ip()), self.profile.connect_port);
        if let Err(e) = self.stack.udp_connect(socket, peer) {
            return done(Err(errno_of(&e)));
        }
        if let Ok(local) = self.stack.udp_local_addr(socket) {
            self.matcher.tuple.local_port = local.port();
        }
        self.matcher.tuple.remote_port = self.profile.connect_port;
        done(Ok(0))
    }

    /// Reading or writing `len` bytes on a UDP socket: one datagram each. A write
    /// goes to the connected peer, `sendto(..., ..., ...)` to the remote host of
    /// the socket under test; a read takes the next datagram (may block).
    pub(super) fn udp_transfer(
        &mut self,
        socket: Option<UdpHandle>,
        f: &Fd,
        reading: bool,
        sendto: bool,
        len: usize,
    ) -> Result<Outcome> {
        let Some(socket) = socket else {
            return done(Err(if reading { libc::EINVAL } else { libc::EDESTADDRREQ }));
        };
        if reading {
            let op = Op::UdpRecv { socket, len };
            return Ok(match self.try_op(op).0 {
                Some(r) => Outcome::Done(r),
                None => block_or(f, op, libc::EAGAIN),
            });
        }
        let payload = vec![0; len];
        let sent = if sendto {
            let t = self.matcher.tuple;
            self.stack.udp_send_to(socket, &payload, SocketAddr::new(self.profile.socket_ip(t.remote), t.remote_port))
        } else {
            self.stack.udp_send(socket, &payload)
        };
        done(sent.map(|n| n as i64).map_err(|e| errno_of(&e)))
    }
}
