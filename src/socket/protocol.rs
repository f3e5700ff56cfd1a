//! `ProtocolHandle`: a program's way to a [`Protocol`] registered on a running
//! stack — call its API under the stack's lock, or block until it has
//! something for you.

use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use super::wait_for;
use crate::proto::Protocol;
use crate::runtime::{Runtime, WaitOn};
use crate::time::Instant;

/// A typed handle to the protocol `P` registered on one IP protocol number of a
/// [`Runtime`]'s stack. Cheap to clone; the protocol stays registered when the
/// handle is dropped.
///
/// ```no_run
/// # use tunstack::proto::{IpDatagram, Protocol, Transmit, Verdict};
/// # use tunstack::Instant;
/// # #[derive(Debug, Default)] struct Echo { inbox: Vec<Vec<u8>> }
/// # impl Echo { fn recv(&mut self) -> Option<Vec<u8>> { self.inbox.pop() } }
/// # impl Protocol for Echo {
/// #     fn input(&mut self, _: Instant, _: &IpDatagram<'_>) -> Verdict { Verdict::Accepted }
/// #     fn poll_transmit(&mut self) -> Option<Transmit> { None }
/// #     fn poll_deadline(&self) -> Option<Instant> { None }
/// #     fn handle_timeout(&mut self, _: Instant) {}
/// # }
/// # fn main() -> std::io::Result<()> {
/// # let runtime: tunstack::Runtime = unimplemented!();
/// use tunstack::socket::ProtocolHandle;
///
/// let echo = ProtocolHandle::register(&runtime, 253, Echo::default())?;
/// // Sleep until the protocol reports socket 0, then take what it received.
/// let message = echo.wait(0, None, |echo, _now| echo.recv())?;
/// # let _ = message; Ok(()) }
/// ```
pub struct ProtocolHandle<P> {
    runtime: Runtime,
    number: u8,
    protocol: PhantomData<fn() -> P>,
}

impl<P: Protocol> ProtocolHandle<P> {
    /// Register `protocol` on IP protocol `number` of the running stack
    /// ([`Stack::register_protocol`](crate::Stack::register_protocol)'s errors).
    pub fn register(runtime: &Runtime, number: u8, protocol: P) -> io::Result<Self> {
        runtime.with_stack(|stack, _| stack.register_protocol(number, protocol))?;
        Ok(ProtocolHandle { runtime: runtime.clone(), number, protocol: PhantomData })
    }

    /// Call the protocol with the current time, under the stack's lock; what the
    /// call queued is sent before this returns.
    pub fn with<R>(&self, f: impl FnOnce(&mut P, Instant) -> R) -> io::Result<R> {
        self.runtime.with_stack(|stack, now| Ok(f(stack.protocol_mut(self.number)?, now)))
    }

    /// Call `f` until it returns `Some`, sleeping in between until the protocol
    /// reports `socket` ([`Protocol::poll_event`]); after `timeout`, `TimedOut`.
    pub fn wait<R>(
        &self,
        socket: u64,
        timeout: Option<Duration>,
        mut f: impl FnMut(&mut P, Instant) -> Option<R>,
    ) -> io::Result<R> {
        let on = WaitOn::Protocol(self.number, socket);
        wait_for(&self.runtime, on, false, timeout, |stack, now| {
            f(stack.protocol_mut(self.number)?, now).ok_or_else(|| io::ErrorKind::WouldBlock.into())
        })
    }
}

impl<P> Clone for ProtocolHandle<P> {
    fn clone(&self) -> Self {
        ProtocolHandle { runtime: self.runtime.clone(), number: self.number, protocol: PhantomData }
    }
}

impl<P> std::fmt::Debug for ProtocolHandle<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolHandle").field("number", &self.number).finish()
    }
}
