//! The runtime: one driver thread that moves packets between a [`Device`] and the
//! sans-IO [`Stack`], runs its timers, and wakes the sockets that wait on it.
//!
//! The thread sleeps in `poll(2)` on two descriptors — the device and a wake-up
//! `eventfd` — with the core's next deadline as the timeout, so it uses no CPU while
//! nothing happens. Socket calls from other threads lock the stack, do their work,
//! write any packets they produced straight to the device, and poke the eventfd when
//! they moved a deadline earlier. A call the core answers with "not yet" sleeps on
//! its socket's condition variable (`runtime/wakers.rs`) until an event names that socket.
//!
//! With the `tokio` feature, [`Runtime::driven`] makes the same runtime without
//! the thread: its driver is a future for a tokio runtime (`tokio_driver.rs`).

mod executor;
mod task_wakers;
#[cfg(feature = "tokio")]
mod tokio_driver;
mod wakers;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tracing::warn;

use crate::config::StackConfig;
use crate::counters::Counters;
use crate::device::Device;
use crate::stack::Stack;
use crate::time::Instant;
use executor::Executor;
pub(crate) use task_wakers::Direction;
use task_wakers::TaskWakers;
#[cfg(feature = "tokio")]
pub use tokio_driver::Driver;
pub(crate) use wakers::WaitOn;
use wakers::Wakers;

/// Most packets read from the device in one batch before timers and wake-ups run
/// (and the batch's ACK goes out, `AckState::EndOfBatch`). Not more: a sender
/// that hears one ACK per 256 segments idles while they are read, and bulk
/// kernel → stack at MTU 1500 ran at 6 Gbit/s with 256, 7.4 with 64, 9.6–10.7
/// with 32 and 16, 5.5 with 4 (fewer packets per round, more rounds);
/// DESIGN.md, "Measuring".
const RX_BATCH: usize = 32;
/// Most bytes read from the device in one batch: at MTU 65000 (or with TUN
/// offloads, whose packets reach 64 KiB) 32 packets are 2 MiB, and a sender
/// that hears one ACK per 2 MiB sends in bursts and waits (DESIGN.md,
/// "Measuring"). 256 KiB is four 64 KiB packets, and far more than 32 packets
/// at MTU 1500.
const RX_BATCH_BYTES: usize = 256 * 1024;
/// The longest the driver sleeps without a deadline (to notice shutdown promptly
/// even if a wake-up were lost).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// A running stack: cheap to clone, shared by every socket made from it.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    stack: Mutex<Stack>,
    /// Where blocked socket calls sleep until an event names their socket.
    wakers: Wakers,
    /// The async tasks waiting on a socket (`task_wakers.rs`); locked only while
    /// the stack is.
    tasks: Mutex<TaskWakers>,
    /// Futures run on the driver thread (`executor.rs`).
    executor: Executor,
    device: Box<dyn Device>,
    wake: OwnedFd,
    epoch: std::time::Instant,
    stopped: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// How many rounds the driver ran: it should sleep whenever nothing is due.
    rounds: AtomicU64,
    /// The driver is between the start of a round and the deadline it will
    /// sleep until (`finish_round`), so a socket call need not tell it of an
    /// earlier deadline: it is yet to read the stack's. Written and read only
    /// with the stack locked, which orders it.
    round_open: AtomicBool,
    /// When the open round began, or the latest time a task on the driver
    /// thread read in it (microseconds of [`Instant`]): the time of the other
    /// calls made during it. Guarded by the stack lock, like `round_open`.
    round_now: AtomicU64,
}

impl Runtime {
    /// Start a stack on `device` and the thread that drives it.
    pub fn spawn(device: impl Device, config: StackConfig) -> io::Result<Runtime> {
        let inner = Inner::new(Box::new(device), config)?;
        // The driver holds only a weak reference between rounds, so once every
        // `Runtime` clone and socket is gone the stack is freed and the thread ends
        // by itself, even without `shutdown`.
        let driver = Arc::downgrade(&inner);
        let handle = std::thread::Builder::new().name("tunstack-driver".into()).spawn(move || drive(driver))?;
        *inner.thread.lock() = Some(handle);
        Ok(Runtime { inner })
    }

    /// A copy of every counter.
    pub fn counters(&self) -> Counters {
        self.inner.stack.lock().counters().clone()
    }

    /// Run `f` on the stack with the current time, then flush what it produced.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> R {
        let mut stack = self.inner.stack.lock();
        self.inner.call(&mut stack, f)
    }

    /// Stop the driver thread; sockets blocked on this runtime return an error.
    /// Idempotent.
    pub fn shutdown(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.poke();
        // A blocked socket call checks `stopped` and then waits on its waker, both
        // under the stack lock. Taking that lock before notifying means the caller
        // is either already waiting (and is woken) or has not checked yet (and will
        // see `stopped`): the wake-up cannot fall between the two and be lost.
        drop(self.inner.stack.lock());
        self.inner.wakers.wake_all();
        self.inner.tasks.lock().wake_all();
        if let Some(handle) = self.inner.thread.lock().take() {
            if handle.join().is_err() {
                warn!("tunstack driver thread panicked");
            }
        }
        // The driver is gone: end the tasks it ran (woken into the ready queue
        // above, or already there), closing their sockets.
        self.inner.tasks.lock().wake_all();
        self.inner.executor.end_all();
    }

    /// Run `future` as a task on the driver thread (`executor.rs`): its socket
    /// calls through [`crate::aio`] then happen on the thread that reads the
    /// device, between rounds, with no thread hand-off. The task lives until it
    /// finishes or the runtime shuts down.
    pub fn spawn_task(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.executor.spawn(&self.inner, Box::pin(future));
    }

    /// A future that is ready at `deadline` (wall-clock time), woken by this
    /// runtime's driver: a timer for tasks on any executor (`aio::sleep`,
    /// `aio::timeout`). Ready at once after shutdown.
    pub fn sleep_until(&self, deadline: std::time::Instant) -> Sleep {
        Sleep { runtime: self.clone(), deadline, id: self.inner.executor.timer_id(), armed: false }
    }

    /// How many times the driver thread woke up and ran a round (diagnostics: an
    /// idle stack, timers armed or not, should hardly ever wake).
    pub fn driver_rounds(&self) -> u64 {
        self.inner.rounds.load(Ordering::Relaxed)
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// A timer of the runtime: see [`Runtime::sleep_until`].
pub struct Sleep {
    runtime: Runtime,
    deadline: std::time::Instant,
    id: u64,
    armed: bool,
}

impl std::future::Future for Sleep {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let inner = &self.runtime.inner;
        if std::time::Instant::now() >= self.deadline || inner.is_stopped() {
            return std::task::Poll::Ready(());
        }
        if inner.executor.set_timer(self.id, self.deadline, cx.waker()) {
            // The driver may be asleep past this deadline: wake it to re-plan.
            inner.poke();
        }
        self.armed = true;
        std::task::Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.armed {
            self.runtime.inner.executor.cancel_timer(self.id);
        }
    }
}

impl Inner {
    /// A stack on `device`, not yet driven.
    fn new(device: Box<dyn Device>, config: StackConfig) -> io::Result<Arc<Inner>> {
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut config = config;
        config.mtu = config.mtu.min(device.mtu());
        // The device decides: only one that finishes partial checksums gets them.
        config.tx_checksum_offload = device.offload_tx_checksum();
        Ok(Arc::new(Inner {
            stack: Mutex::new(Stack::new(config)),
            wakers: Wakers::new(),
            tasks: Mutex::new(TaskWakers::default()),
            executor: Executor::default(),
            device,
            wake,
            epoch: std::time::Instant::now(),
            stopped: AtomicBool::new(false),
            thread: Mutex::new(None),
            rounds: AtomicU64::new(0),
            round_open: AtomicBool::new(false),
            round_now: AtomicU64::new(0),
        }))
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Stack> {
        self.stack.lock()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Block until an event names `on` (or its shard), or until `deadline` (then
    /// `false`).
    pub(crate) fn wait(
        &self,
        stack: &mut MutexGuard<'_, Stack>,
        on: WaitOn,
        deadline: Option<std::time::Instant>,
    ) -> bool {
        let waker = self.wakers.of(on);
        match deadline {
            Some(d) => !waker.wait_until(stack, d).timed_out(),
            None => {
                waker.wait(stack);
                true
            }
        }
    }

    /// A socket call on the locked stack: `f` with the current time, then
    /// send what it queued, wake waiters, and re-arm the driver. The driver
    /// sleeps until the deadline it saw, so it is poked only when the call armed
    /// an earlier one — except while a round is open (`round_open`): then the
    /// driver has yet to read the stack's deadline (`finish_round`), so the
    /// call skips the two deadline computations and the poke. That is every
    /// call of a task on the driver thread (`executor.rs`), which runs inside
    /// the round, and of a tokio task the driven runtime's round woke
    /// (`tokio_driver.rs`), which runs while the driver yields.
    ///
    /// The time, while a round is open: a task on the driver thread sees the
    /// time read when its poll began (`executor::task_now`), any other caller
    /// the time the round began, as Linux's TCP reads its clock once per batch
    /// of work (`tcp_mstamp_refresh`) — no clock read per call (2 % of the
    /// driven async example in UDP echo). Otherwise callers read the clock.
    pub(crate) fn call<R>(&self, stack: &mut Stack, f: impl FnOnce(&mut Stack, Instant) -> R) -> R {
        if self.round_open.load(Ordering::Relaxed) {
            // The later of the two, so that the stack never sees time go back
            // (a task polled later in the round read a later clock).
            let now = match executor::task_now() {
                Some(task_now) => {
                    self.round_now.fetch_max(task_now.micros(), Ordering::Relaxed);
                    task_now
                }
                None => Instant::from_micros(self.round_now.load(Ordering::Relaxed)),
            };
            let result = f(stack, now);
            self.publish(stack);
            return result;
        }
        let before = stack.poll_deadline();
        let result = f(stack, self.now());
        self.publish(stack);
        let after = stack.poll_deadline();
        if after.is_some() && (before.is_none() || after < before) {
            self.poke();
        }
        result
    }

    /// Send what the stack queued and wake the sockets its events name: the
    /// blocked calls and the async tasks waiting on them.
    fn publish(&self, stack: &mut Stack) {
        self.flush(stack);
        self.wake_on_events(stack);
    }

    /// Wake the sockets the stack's events name, sending nothing.
    fn wake_on_events(&self, stack: &mut Stack) {
        // The task wakers' lock only when there is an event to give them.
        let mut tasks = None;
        while let Some(event) = stack.poll_event() {
            self.wakers.wake(&event);
            tasks.get_or_insert_with(|| self.tasks.lock()).wake(&event);
        }
    }

    /// Have `waker` woken at the next event naming `on`. Called with the stack
    /// locked (`stack` proves it), right after the core said "not yet", so the
    /// event cannot slip between the two.
    pub(crate) fn register(&self, _stack: &mut Stack, on: WaitOn, direction: Direction, waker: &std::task::Waker) {
        self.tasks.lock().register(on, direction, waker);
    }

    /// Hand everything the stack wants to send to the device as one batch. A
    /// lone packet (a socket call's datagram or ACK, the common case) goes
    /// without building a batch.
    fn flush(&self, stack: &mut Stack) {
        let Some(first) = stack.poll_transmit() else {
            return;
        };
        let Some(second) = stack.poll_transmit() else {
            if let Err(e) = self.device.send(&first) {
                warn!(error = %e, "device send failed");
            }
            stack.recycle(first);
            return;
        };
        let mut batch = vec![first, second];
        batch.extend(std::iter::from_fn(|| stack.poll_transmit()));
        if let Err(e) = self.device.send_batch(&batch) {
            warn!(error = %e, packets = batch.len(), "device send failed");
        }
        for packet in batch {
            stack.recycle(packet);
        }
    }

    fn poke(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// One round of the driver: read a batch of packets, wake the sockets they
    /// made ready, and say how long the device lets it sleep and whether it
    /// read the device dry (else a full batch is waiting to be read next). The
    /// stack's timers, and sending what the round made it send, wait for
    /// [`finish_round`](Inner::finish_round), after the tasks it woke have run.
    fn round(&self, buf: &mut [u8]) -> Round {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        let mut drained = false;
        {
            let mut stack = self.stack.lock();
            self.round_open.store(true, Ordering::Relaxed);
            let now = self.now();
            self.round_now.store(now.micros(), Ordering::Relaxed);
            let mut bytes = 0;
            for _ in 0..RX_BATCH {
                if bytes >= RX_BATCH_BYTES {
                    break;
                }
                match self.device.recv(buf) {
                    Ok(Some(len)) => {
                        bytes += len;
                        let packet = buf.get(..len).unwrap_or_default();
                        let dropped = stack.input_with(now, packet, self.device.rx_checksum());
                        self.device.processed(packet, dropped);
                    }
                    Ok(None) => {
                        drained = true;
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "device receive failed");
                        drained = true;
                        break;
                    }
                }
            }
            self.wake_on_events(&mut stack);
        }
        let mut timeout = MAX_SLEEP;
        if let Some(due) = self.device.service() {
            timeout = timeout.min(due.saturating_duration_since(std::time::Instant::now()));
        }
        Round { timeout, drained }
    }

    /// After a round: fire the runtime timers that are due and run the tasks
    /// woken so far. Returns how long the driver may sleep as far as they are
    /// concerned (zero while tasks are still ready).
    fn after_round(&self, round: &Round) -> Duration {
        let mut timeout = round.timeout;
        let wall = std::time::Instant::now();
        if let Some(next) = self.executor.fire_timers(wall) {
            timeout = timeout.min(next.saturating_duration_since(wall));
        }
        self.executor.run_ready(|| self.now());
        if self.executor.has_ready() {
            return Duration::ZERO;
        }
        timeout
    }

    /// The end of a round, once the tasks it woke have run: run the stack's
    /// timers, send what it holds, and say how long the driver may sleep until
    /// the stack's next deadline (the tasks' calls may have armed earlier ones
    /// without a poke, `call`) — not at all if this woke a task.
    ///
    /// Timers last is what keeps the receive window open. The batch's one ACK
    /// (`AckState::EndOfBatch`) is built when the timers run and advertises the
    /// room left in the receive buffer then: built before the reading task ran,
    /// it offered only what the batch had not filled — half the 4 MiB buffer
    /// after 32 segments of 64 KiB, before `RX_BATCH_BYTES` — and a second ACK
    /// followed from the read (DESIGN.md, "Measuring"). Now the task's read
    /// usually sends it, with the room that read made.
    fn finish_round(&self) -> Duration {
        let mut stack = self.stack.lock();
        stack.handle_timeout(self.now());
        // Not `call`: the driver computes its own sleep from the deadline below,
        // and poking itself would make every round with a timer armed end in a
        // wake-up — a busy loop (it was: a connection in TIME-WAIT kept a core
        // at 100 %).
        self.publish(&mut stack);
        // From here a call that arms an earlier deadline pokes the driver.
        self.round_open.store(false, Ordering::Relaxed);
        if self.executor.has_ready() {
            return Duration::ZERO;
        }
        stack.poll_deadline().map_or(MAX_SLEEP, |d| d.saturating_duration_since(self.now()).min(MAX_SLEEP))
    }

    /// The driver is stopping: wake everything that waits on it.
    fn wake_everyone(&self) {
        self.wakers.wake_all();
        self.tasks.lock().wake_all();
    }

    /// Empty the wake-up eventfd (it is non-blocking).
    fn drain_wake(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own eventfd.
        unsafe { libc::read(self.wake.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    fn sleep(&self, timeout: Duration) {
        let mut fds = [
            libc::pollfd { fd: self.device.readable_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // Round up so a deadline 0.3 ms away does not spin with a 0 ms timeout.
        let ms = i32::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: two valid pollfds for the duration of the call.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if fds[1].revents & libc::POLLIN != 0 {
            self.drain_wake();
        }
    }
}

/// What one round of the driver found.
struct Round {
    /// Until the device's next deadline (at most `MAX_SLEEP`); the stack's
    /// comes from `finish_round`.
    timeout: Duration,
    /// The device had no more packets (else a full batch stopped the round).
    drained: bool,
}

/// The driver thread: rounds until `shutdown`, or until nothing but this thread
/// refers to the stack any more.
fn drive(inner: Weak<Inner>) {
    executor::enter_driver();
    let mut buf = vec![0u8; 65_536];
    while let Some(inner) = inner.upgrade() {
        if inner.is_stopped() {
            inner.wake_everyone();
            return;
        }
        let round = inner.round(&mut buf);
        // Timers due fire, and the tasks the round or they woke run now, on
        // this thread; while some are still ready the driver does not sleep.
        let timeout = inner.after_round(&round).min(inner.finish_round());
        // A round that stopped at a full batch goes on at once: packets wait.
        if round.drained {
            inner.sleep(timeout);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::link;

    /// With a timer armed far ahead (a SYN's retransmission, 1 s) and nothing else
    /// to do, the driver sleeps: it used to poke its own wake-up fd after every
    /// round that left a timer armed, and spun at thousands of rounds a second.
    #[test]
    fn an_armed_timer_does_not_keep_the_driver_awake() {
        let (dev, _peer) = link::pair(1500).expect("a link pair");
        let runtime = Runtime::spawn(dev, StackConfig::default()).expect("spawn");
        let peer = std::net::SocketAddr::from(([198, 18, 0, 1], 9));
        runtime.with_stack(|stack, now| stack.tcp_connect(now, peer)).expect("connect starts");
        let before = runtime.driver_rounds();
        std::thread::sleep(Duration::from_millis(300));
        let rounds = runtime.driver_rounds() - before;
        runtime.shutdown();
        assert!(rounds <= 5, "the driver ran {rounds} rounds in 300 ms with only a 1 s timer armed");
    }

    /// A task on the driver thread arms a timer without poking the driver (its
    /// calls skip that, `Inner::call`): a connect whose SYN, unanswered, is due
    /// again after 50 ms. The driver reads the stack's deadline again after
    /// running its tasks, so the second SYN follows the first by about 50 ms —
    /// not by the driver's longest sleep (1 s), which is what a missed deadline
    /// would give.
    #[test]
    fn a_timer_armed_by_a_task_on_the_driver_fires_on_time() {
        let (dev, peer) = link::pair(1500).expect("a link pair");
        let mut config = StackConfig::default();
        config.tcp.rto.initial = Duration::from_millis(50);
        config.tcp.rto.min = Duration::from_millis(50);
        let runtime = Runtime::spawn(dev, config).expect("spawn");
        // Let the driver fall asleep first, so that the task's spawn wakes it
        // from its sleep (with its wake-up fd drained) rather than mid-round.
        let mut rounds = runtime.driver_rounds();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = runtime.driver_rounds();
            if now == rounds && now > 0 {
                break;
            }
            rounds = now;
        }
        let task_runtime = runtime.clone();
        runtime.spawn_task(async move {
            // Connect through the stack directly, so that no waker of this
            // task hears of the connection and wakes it again (which would
            // make the driver run another round at once and hide a missed
            // deadline); then wait for ever (a runtime timer would poke the
            // driver, hiding it too).
            let to = std::net::SocketAddr::from(([198, 18, 0, 1], 9));
            let connecting = task_runtime.with_stack(|stack, now| stack.tcp_connect(now, to));
            assert!(connecting.is_ok(), "{connecting:?}");
            std::future::pending::<()>().await;
        });
        let mut syns = Vec::new();
        let mut buf = [0u8; 1500];
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while syns.len() < 2 && std::time::Instant::now() < give_up {
            let mut pfd = libc::pollfd { fd: peer.readable_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd for the duration of the call.
            unsafe { libc::poll(&mut pfd, 1, 100) };
            while let Ok(Some(_)) = peer.recv(&mut buf) {
                syns.push(std::time::Instant::now());
            }
        }
        runtime.shutdown();
        assert!(syns.len() >= 2, "the SYN and its retransmission: {} seen", syns.len());
        let gap = syns[1] - syns[0];
        assert!(gap < Duration::from_millis(700), "the retransmission came {gap:?} after the SYN, not about 50 ms");
    }

    /// Dropping every handle without `shutdown` still frees the stack: the driver
    /// thread lets go of it within one sleep (`MAX_SLEEP`) and ends.
    #[test]
    fn dropping_the_last_handle_ends_the_driver() {
        let (dev, _peer) = link::pair(1500).expect("a link pair");
        let runtime = Runtime::spawn(dev, StackConfig::default()).expect("spawn");
        let weak = Arc::downgrade(&runtime.inner);
        let give_up = std::time::Instant::now() + MAX_SLEEP * 3;
        while Arc::strong_count(&runtime.inner) < 2 {
            assert!(std::time::Instant::now() < give_up, "the driver never started a round");
            std::thread::yield_now();
        }
        drop(runtime);
        while weak.upgrade().is_some() {
            assert!(std::time::Instant::now() < give_up, "the driver still holds the stack after {:?}", MAX_SLEEP * 3);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
