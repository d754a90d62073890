//! The fake's pauses (`latency=`, `delay=`), kept to a fraction of a millisecond.
//!
//! tokio's timers round every deadline up to the next millisecond of their runtime's clock,
//! and its driver waits in whole milliseconds: a 5 ms pause takes 5 to 7 ms, and where in
//! that range depends on when the request arrived relative to the fake's millisecond grid
//! and on what else the driver was waiting for. The benchmarks measure what PromptLab adds
//! between a model and a client against a goal of 1 ms, by subtracting what a client sees
//! straight from this fake; a pause whose error is as large as that goal, and differs for a
//! request that arrives a few hundred µs later (through PromptLab), would be measured with
//! it. So the fake keeps its own deadlines: one thread holds them in a heap and sleeps
//! until the earliest on the OS's high-resolution timer (a futex wait, late by the kernel's
//! timer slack, 50 µs by default), then wakes the tasks that are due. Nothing else here
//! uses it: it is for pacing, not for timeouts.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// A pause of `d`, ended by the pacing thread: never before `d`, and on an idle machine
/// within a fraction of a millisecond after it.
pub fn sleep(d: Duration) -> Pause {
    Pause {
        at: Instant::now() + d,
        entry: None,
    }
}

/// What [`sleep`] returns: ready once its deadline has passed.
pub struct Pause {
    at: Instant,
    /// Its place in the heap, once it has waited.
    entry: Option<Arc<Entry>>,
}

impl Future for Pause {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        match &self.entry {
            Some(entry) => {
                *lock(&entry.waker) = Some(cx.waker().clone());
                // The thread fires only once the deadline has passed; if it did so after
                // the check above, it may have taken the last poll's waker (another task's,
                // if the future moved), so this poll must not wait for one.
                if Instant::now() >= self.at {
                    return Poll::Ready(());
                }
            }
            None => {
                let entry = Arc::new(Entry {
                    waker: Mutex::new(Some(cx.waker().clone())),
                });
                add(self.at, entry.clone());
                self.entry = Some(entry);
            }
        }
        Poll::Pending
    }
}

/// One waiting pause, shared by its future and the heap: the waker of its last poll.
struct Entry {
    waker: Mutex<Option<Waker>>,
}

impl Entry {
    fn fire(&self) {
        if let Some(w) = lock(&self.waker).take() {
            w.wake();
        }
    }
}

/// A deadline in the heap; the earliest on top.
struct Due {
    at: Instant,
    entry: Arc<Entry>,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Due {}

struct Heap {
    due: BinaryHeap<Due>,
    /// When the thread looks next (`None`: it waits until woken).
    looks_at: Option<Instant>,
}

/// The deadlines, one heap per process.
static HEAP: Mutex<Heap> = Mutex::new(Heap {
    due: BinaryHeap::new(),
    looks_at: None,
});

/// Add a deadline; wake the thread if it would look later than that.
fn add(at: Instant, entry: Arc<Entry>) {
    let sooner = {
        let mut heap = lock(&HEAP);
        heap.due.push(Due { at, entry });
        let sooner = heap.looks_at.is_none_or(|t| at < t);
        if sooner {
            heap.looks_at = Some(at);
        }
        sooner
    };
    if sooner {
        pacer().unpark();
    }
}

/// How many times the thread has looked at the heap, for the tests.
#[cfg(test)]
static LOOKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The thread that keeps the deadlines, started by the first pause that waits.
fn pacer() -> &'static Thread {
    static PACER: OnceLock<Thread> = OnceLock::new();
    PACER.get_or_init(|| {
        std::thread::Builder::new()
            .name("fake-pacing".into())
            .spawn(run)
            .expect("start the fake provider's pacing thread")
            .thread()
            .clone()
    })
}

/// The thread's loop: fire what is due, then sleep until the next deadline.
fn run() {
    let mut fired = Vec::new();
    loop {
        let next = {
            let mut heap = lock(&HEAP);
            let now = Instant::now();
            while heap.due.peek().is_some_and(|d| d.at <= now) {
                if let Some(d) = heap.due.pop() {
                    fired.push(d.entry);
                }
            }
            heap.looks_at = heap.due.peek().map(|d| d.at);
            #[cfg(test)]
            LOOKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            heap.looks_at
        };
        // Woken in deadline order, outside the lock.
        for entry in fired.drain(..) {
            entry.fire();
        }
        // A deadline added since sets the thread's unpark token, so neither wait below
        // sleeps through it.
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
