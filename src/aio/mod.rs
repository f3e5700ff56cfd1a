//! The async API: the same sockets as [`crate::socket`], for `async` Rust.
//!
//! Runtime-agnostic at its core: every operation is a `poll_*` method taking a
//! `std::task::Context`, and an `async fn` built on it with
//! [`std::future::poll_fn`]; any executor drives them — tokio's, or the
//! runtime's own: [`Runtime::spawn_task`](crate::Runtime::spawn_task) runs a
//! future on the driver thread, where the device is read, so its socket calls
//! cross no thread ([`sleep`] and [`timeout`] are timers of that runtime).
//! With the `tokio` cargo feature, [`TcpStream`] and its halves also implement
//! tokio's `AsyncRead` and `AsyncWrite` (`tokio.rs`).
//!
//! # How a poll works
//!
//! A poll locks the stack, asks the core exactly what the blocking call would
//! (`tcp_recv`, `tcp_accept`, `udp_recv`, …), and if the core says "not yet"
//! (`WouldBlock`) leaves the task's waker with the runtime, under the socket
//! and the direction it waits for, before unlocking (`runtime/task_wakers.rs`).
//! The core's next event for that socket — data arrived, the window opened, a
//! connection is ready to accept, the handshake ended, an error — wakes the
//! task, which polls again. So there is no thread per connection and no thread
//! hand-off per call: a task that finds data reads it in its own poll.
//!
//! # Cancellation
//!
//! Dropping a future leaves the socket consistent: an operation takes effect
//! only in the poll that returns `Ready` (bytes read, bytes queued, a connection
//! accepted), so a dropped `read`, `write` or `accept` took nothing. A dropped
//! `connect` closes the connection it had begun (in SYN-SENT that deletes it,
//! RFC 9293 §3.10.4). A stale waker left behind is woken once, harmlessly.
//!
//! ```no_run
//! # async fn demo(runtime: tunstack::Runtime) -> std::io::Result<()> {
//! use tunstack::aio::TcpListener;
//! let listener = TcpListener::bind(&runtime, "0.0.0.0:7")?;
//! loop {
//!     let (stream, _peer) = listener.accept().await?;
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         let n = stream.read(&mut buf).await?;
//!         if n == 0 { break }
//!         stream.write_all(&buf[..n]).await?;
//!     }
//! }
//! # }
//! ```

mod raw;
mod tcp;
mod time;
#[cfg(feature = "tokio")]
mod tokio;
mod udp;

pub use raw::RawSocket;
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use time::{sleep, timeout};
pub use udp::UdpSocket;

use std::io;
use std::task::{Context, Poll};

use crate::runtime::{Direction, Runtime, WaitOn};
use crate::socket::stopped;
use crate::stack::Stack;
use crate::time::Instant;

/// Ask the core `op` for the task in `cx`: its answer, or — when it says
/// `WouldBlock` — `Pending`, with the task's waker left for the next event on
/// `on` in `direction`.
fn poll_core<T>(
    runtime: &Runtime,
    cx: &mut Context<'_>,
    on: WaitOn,
    direction: Direction,
    op: impl FnOnce(&mut Stack, Instant) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    let inner = runtime.inner();
    let mut stack = inner.lock();
    // Checked under the lock: `shutdown` sets the flag, then takes the lock and
    // wakes every task, so a task either sees the flag or is woken.
    if inner.is_stopped() {
        return Poll::Ready(Err(stopped()));
    }
    inner.call(&mut stack, |stack, now| match op(stack, now) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            inner.register(stack, on, direction, cx.waker());
            Poll::Pending
        }
        other => Poll::Ready(other),
    })
}

/// Send a datagram with `op`: it never waits for the network. A full transmit
/// queue is written to the device at the end of every call through the
/// runtime, so a send refused with `WouldBlock` is simply tried again (as the
/// blocking sockets do).
fn send_datagram(runtime: &Runtime, mut op: impl FnMut(&mut Stack) -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match runtime.with_stack(|stack, _| op(stack)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}
