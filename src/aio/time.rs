//! Time for async code without another runtime: [`sleep`] and [`timeout`],
//! woken by the stack's own driver thread (`Runtime::sleep_until`).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::runtime::Runtime;

/// Wait `duration`.
pub async fn sleep(runtime: &Runtime, duration: Duration) {
    runtime.sleep_until(Instant::now() + duration).await;
}

/// `future`'s output, or `TimedOut` if it is not done within `duration` (the
/// future is then dropped, which for this crate's operations takes nothing,
/// see the module doc of [`crate::aio`]).
pub async fn timeout<T>(runtime: &Runtime, duration: Duration, future: impl Future<Output = T>) -> io::Result<T> {
    let mut future = pin!(future);
    let mut timer = pin!(runtime.sleep_until(Instant::now() + duration));
    poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
