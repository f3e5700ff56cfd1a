//! The driver as a tokio task: the stack and the program's tasks on one thread
//! (the `tokio` cargo feature).
//!
//! [`Runtime::spawn`] gives the stack a thread of its own, which sleeps in
//! `poll(2)` on the device and a wake-up `eventfd`. A program on tokio then has
//! two threads: its tasks run on tokio's, the stack on the driver's, and every
//! read that waited is a wake-up from one thread to the other — a futex and a
//! context switch per event, which on a busy transfer costs more than the
//! protocol work itself (DESIGN.md, "Measuring").
//!
//! [`Runtime::driven`] makes the same stack without a thread and hands back a
//! [`Driver`]: a future that does what the thread did, with the two
//! descriptors registered in tokio's reactor (`AsyncFd`, epoll) instead of
//! `poll(2)`, and the deadline as a tokio timer. Spawned on a current-thread
//! runtime beside the program's tasks, a round's events wake tasks of the same
//! thread; they run as soon as the driver yields, which it does after every
//! round, so a batch of packets in is followed by the programs' reads, the way
//! smoltcp's poll loop and embassy-net work.
//!
//! Readiness and lost wake-ups: tokio's readiness is edge-triggered, so the
//! driver may forget "the device is readable" only once it has read the device
//! dry. It takes the readiness guard *before* the round reads and clears it only
//! if the round ended on "no packet"; a packet that arrived in between raised a
//! newer readiness than the guard's, which clearing the older one keeps.
//!
//! Blocking socket calls and other threads still work on a driven runtime: they
//! lock the stack, write what they produced, and poke the eventfd, which wakes
//! the driver future as it woke the thread.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::time::Sleep;

use super::{Inner, Runtime, MAX_SLEEP};
use crate::config::StackConfig;
use crate::device::Device;

/// A descriptor the runtime owns, lent to tokio's reactor for as long as the
/// driver runs (the driver holds the runtime, so it outlives the registration).
struct Lent(RawFd);

impl AsRawFd for Lent {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// What ended the driver's wait.
enum Woke<'a> {
    /// The device has packets (its readiness, to clear once read dry).
    Device(AsyncFdReadyGuard<'a, Lent>),
    /// A socket call or `shutdown` poked the eventfd.
    Poked(AsyncFdReadyGuard<'a, Lent>),
    /// The stack's or a runtime timer's deadline.
    Deadline,
}

/// The work of a driver thread as a future: see the module documentation.
/// Made by [`Runtime::driven`]; run it with `tokio::spawn(driver.run())` on a
/// runtime with IO and time enabled (`enable_all`).
pub struct Driver {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Start a stack on `device` with no thread of its own: the returned
    /// [`Driver`] drives it from a tokio task. On a current-thread runtime the
    /// stack and the tasks that use it share one thread, so a read or an accept
    /// never crosses threads. A *blocking* socket call made on that thread
    /// would wait for a driver that cannot run until it returns: on the
    /// driver's thread use `aio` only (blocking calls from other threads are
    /// fine).
    ///
    /// ```no_run
    /// # async fn example(device: tunstack::device::link::LinkDevice) -> std::io::Result<()> {
    /// let (runtime, driver) = tunstack::Runtime::driven(device, tunstack::StackConfig::default())?;
    /// tokio::spawn(driver.run());
    /// let listener = tunstack::aio::TcpListener::bind(&runtime, "0.0.0.0:7")?;
    /// let (stream, _) = listener.accept().await?;
    /// # drop(stream); Ok(()) }
    /// ```
    pub fn driven(device: impl Device, config: StackConfig) -> io::Result<(Runtime, Driver)> {
        let inner = Inner::new(Box::new(device), config)?;
        let driver = Driver { inner: Arc::clone(&inner) };
        Ok((Runtime { inner }, driver))
    }
}

impl Driver {
    /// Drive the stack until [`Runtime::shutdown`], or until nothing but the
    /// driver refers to the stack any more (checked at least once a second, as
    /// the driver thread does). Fails only if tokio's reactor refuses the
    /// descriptors (no IO driver enabled, say).
    pub async fn run(self) -> io::Result<()> {
        let inner = self.inner;
        // SAFETY: both descriptors belong to `inner` (its device and its
        // eventfd), which this function holds until it returns; the `AsyncFd`s
        // are locals declared after it, so they are dropped (deregistered)
        // first, while the descriptors are still open and still the same.
        let (device, wake) = unsafe {
            (
                AsyncFd::register_with_interest(Lent(inner.device.readable_fd()), Interest::READABLE)?,
                AsyncFd::register_with_interest(Lent(inner.wake.as_raw_fd()), Interest::READABLE)?,
            )
        };
        let mut buf = vec![0u8; 65_536];
        // The first round runs at once: sockets bound before the driver started
        // may already have work.
        let mut timeout = Duration::ZERO;
        // One timer for the driver's life, moved each round rather than made
        // anew: a new timer registered while tokio's timer wheel is empty — as
        // it was each round, the old one dropped when `wait` returned — makes
        // tokio wake its own thread through its eventfd, a write(2) and an
        // extra epoll_wait(2) per round (strace of a request/response run).
        // Moved later, a registered timer costs nothing.
        let mut deadline = pin!(tokio::time::sleep(MAX_SLEEP));
        loop {
            let woke = wait(&device, &wake, deadline.as_mut(), timeout).await?;
            if inner.is_stopped() || Arc::strong_count(&inner) == 1 {
                inner.wake_everyone();
                return Ok(());
            }
            let round = inner.round(&mut buf);
            match woke {
                Woke::Device(mut guard) if round.drained => guard.clear_ready(),
                Woke::Poked(mut guard) => {
                    inner.drain_wake();
                    guard.clear_ready();
                }
                Woke::Device(_) | Woke::Deadline => {}
            }
            timeout = inner.after_round(&round);
            // Let the tasks this round woke run before the next batch, and
            // before the round's ACKs go out (`finish_round`).
            yield_to_tasks().await;
            timeout = timeout.min(inner.finish_round());
            if !round.drained {
                timeout = Duration::ZERO;
            }
        }
    }
}

/// Give way once to the tasks that are ready: wake ourselves and return
/// `Pending`, which puts the driver at the back of tokio's run queue. Not
/// `tokio::task::yield_now`, which also has tokio poll its reactor before the
/// driver runs again — an `epoll_wait(2)` per round that finds nothing, since
/// the driver has just read the device dry (tokio still polls its reactor
/// every few dozen tasks, `event_interval`, so nothing starves).
async fn yield_to_tasks() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Wait for a packet, a poke or `timeout`, whichever comes first; `deadline`
/// is moved to `timeout` from now, unless that is zero (no timer is needed).
async fn wait<'a>(
    device: &'a AsyncFd<Lent>,
    wake: &'a AsyncFd<Lent>,
    mut deadline: Pin<&mut Sleep>,
    timeout: Duration,
) -> io::Result<Woke<'a>> {
    if !timeout.is_zero() {
        deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
    }
    std::future::poll_fn(|cx| {
        if let Poll::Ready(ready) = device.poll_read_ready(cx) {
            return Poll::Ready(ready.map(Woke::Device));
        }
        if let Poll::Ready(ready) = wake.poll_read_ready(cx) {
            return Poll::Ready(ready.map(Woke::Poked));
        }
        if timeout.is_zero() {
            return Poll::Ready(Ok(Woke::Deadline));
        }
        deadline.as_mut().poll(cx).map(|()| Ok(Woke::Deadline))
    })
    .await
}
