//! Tasks on the driver thread: the event-driven mode of the runtime.
//!
//! [`Runtime::spawn_task`](super::Runtime::spawn_task) hands a future to the
//! driver thread, which polls it between its rounds of device input and
//! timers. A task's socket calls (`crate::aio`) then run on the thread that
//! reads the device: when a round's packets make a socket readable, the event
//! wakes the task, and the same thread polls it right after the round — no
//! thread hand-off, no condition variable, no thread per connection. This is
//! the shape of smoltcp's poll loop, with programs written as ordinary `async`
//! code. (Tasks on another executor, tokio's say, work too: they are woken
//! from the driver thread and poll the stack from theirs.)
//!
//! The executor is small on purpose:
//!
//! * a FIFO of ready tasks; a task's [`Waker`] puts it there once (a flag
//!   keeps it from being queued twice) and, when woken from another thread,
//!   pokes the driver out of `poll(2)`;
//! * the driver polls every task that was ready when it looked, then sleeps
//!   until the next packet, deadline or wake-up — or not at all while tasks
//!   are still ready;
//! * a finished task's future is dropped at once;
//! * timers ([`Runtime::sleep_until`](super::Runtime::sleep_until), behind
//!   `aio::sleep` and `aio::timeout`): wakers by deadline, fired by the driver,
//!   whose sleep ends at the earliest of them.
//!
//! Tasks hold the runtime alive (their sockets refer to it), so
//! [`Runtime::shutdown`](super::Runtime::shutdown) ends them: it wakes every
//! waiting task and drops all their futures, closing their sockets.
//!
//! Bounds and cost: one allocation per task (its future and state); a wake-up
//! is a flag and a queue push. The ready queue holds each task at most once.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

use parking_lot::Mutex;

use super::Inner;
use crate::time::Instant;

/// A task's future, boxed.
type TaskFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    /// Whether this thread is a runtime's driver: a task woken here needs no
    /// poke, the driver polls ready tasks right after its round.
    static ON_DRIVER: Cell<bool> = const { Cell::new(false) };
    /// The time read when the task being polled on this thread began its poll.
    static TASK_NOW: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Mark the calling thread as a driver (for the rest of its life).
pub(super) fn enter_driver() {
    ON_DRIVER.with(|d| d.set(true));
}

/// Whether the calling thread is a runtime's driver thread.
pub(super) fn on_driver() -> bool {
    ON_DRIVER.with(Cell::get)
}

/// The time the task being polled on this thread began its poll, if any: its
/// socket calls use it instead of reading the clock each (a UDP echo task
/// answers a whole round's datagrams in one poll).
pub(super) fn task_now() -> Option<Instant> {
    TASK_NOW.with(Cell::get)
}

/// One spawned future.
struct Task {
    /// `None` once finished or ended by shutdown.
    future: Mutex<Option<TaskFuture>>,
    /// In the ready queue already.
    queued: AtomicBool,
    runtime: Weak<Inner>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(inner) = self.runtime.upgrade() {
            inner.executor.ready.lock().push_back(Arc::clone(self));
            if !on_driver() {
                inner.poke();
            }
        }
    }
}

/// The ready tasks of one runtime, and its timers.
#[derive(Default)]
pub(crate) struct Executor {
    ready: Mutex<VecDeque<Arc<Task>>>,
    /// Wakers by (deadline, timer id): a timer polled again replaces its entry.
    timers: Mutex<BTreeMap<(std::time::Instant, u64), Waker>>,
    next_timer: AtomicU64,
}

impl Executor {
    /// Queue `future` as a new task of `runtime`.
    pub(super) fn spawn(&self, runtime: &Arc<Inner>, future: TaskFuture) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(false),
            runtime: Arc::downgrade(runtime),
        });
        task.wake_by_ref();
    }

    /// Poll every task that is ready now (tasks woken meanwhile wait for the
    /// next call), each with the time `now` gives as it starts (`task_now`).
    pub(super) fn run_ready(&self, now: impl Fn() -> Instant) {
        let batch = std::mem::take(&mut *self.ready.lock());
        for task in batch {
            task.queued.store(false, Ordering::Release);
            let waker = Waker::from(Arc::clone(&task));
            let mut slot = task.future.lock();
            if let Some(future) = slot.as_mut() {
                TASK_NOW.with(|t| t.set(Some(now())));
                let done = future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
                TASK_NOW.with(|t| t.set(None));
                if done {
                    *slot = None;
                }
            }
        }
    }

    /// Whether some task is waiting to be polled (woken since `run_ready`
    /// took its batch, say).
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.lock().is_empty()
    }

    /// A new timer's id.
    pub(super) fn timer_id(&self) -> u64 {
        self.next_timer.fetch_add(1, Ordering::Relaxed)
    }

    /// Wake `waker` at `deadline` (timer `id`); returns whether it is now the
    /// earliest timer, which a sleeping driver must be told about.
    pub(super) fn set_timer(&self, id: u64, deadline: std::time::Instant, waker: &Waker) -> bool {
        let mut timers = self.timers.lock();
        timers.retain(|&(_, t), _| t != id);
        timers.insert((deadline, id), waker.clone());
        timers.keys().next().is_some_and(|&(d, t)| (d, t) == (deadline, id))
    }

    /// Forget timer `id` (its future was dropped or completed).
    pub(super) fn cancel_timer(&self, id: u64) {
        self.timers.lock().retain(|&(_, t), _| t != id);
    }

    /// Wake the timers due by `now`; the earliest deadline left.
    pub(super) fn fire_timers(&self, now: std::time::Instant) -> Option<std::time::Instant> {
        let due: Vec<Waker> = {
            let mut timers = self.timers.lock();
            let later = timers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut *timers, later).into_values().collect()
        };
        due.into_iter().for_each(Waker::wake);
        self.timers.lock().keys().next().map(|&(d, _)| d)
    }

    /// Drop every ready task's future (shutdown, after the waiting ones were
    /// woken into the queue).
    pub(super) fn end_all(&self) {
        let sleeping: Vec<Waker> = std::mem::take(&mut *self.timers.lock()).into_values().collect();
        sleeping.into_iter().for_each(Waker::wake);
        loop {
            let batch = std::mem::take(&mut *self.ready.lock());
            if batch.is_empty() {
                return;
            }
            for task in batch {
                // Taken out of the lock first: dropping a future closes its
                // sockets, which may wake other tasks into the queue.
                let future = task.future.lock().take();
                drop(future);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Runtime;
    use crate::aio::UdpSocket;
    use crate::config::StackConfig;
    use crate::device::link;
    use std::sync::Arc;
    use std::time::Duration;

    /// A task runs on the driver thread; a task waiting on a socket is ended by
    /// shutdown, its future (and socket) dropped.
    #[test]
    fn tasks_run_on_the_driver_and_shutdown_ends_them() {
        let (dev, _peer) = link::pair(1500).expect("a link pair");
        let runtime = Runtime::spawn(dev, StackConfig::default()).expect("spawn");
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn_task(async move {
            let _ = tx.send(std::thread::current().name().map(str::to_string));
        });
        let name = rx.recv_timeout(Duration::from_secs(10)).expect("the task ran");
        assert_eq!(name.as_deref(), Some("tunstack-driver"));

        let held = Arc::new(());
        let in_task = Arc::clone(&held);
        let socket = UdpSocket::bind(&runtime, "0.0.0.0:5000").expect("bind");
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn_task(async move {
            let _held = in_task;
            let _ = tx.send(());
            let mut buf = [0u8; 16];
            let _ = socket.recv_from(&mut buf).await; // nothing ever comes
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("the task started");
        assert_eq!(Arc::strong_count(&held), 2, "the waiting task is alive");
        runtime.shutdown();
        assert_eq!(Arc::strong_count(&held), 1, "shutdown dropped the waiting task's future");
    }
}
