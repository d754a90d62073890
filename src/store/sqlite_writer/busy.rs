//! The writer's busy handler: how a write that finds another connection's write lock
//! waits for it.

use super::BUSY_TIMEOUT;
use std::os::raw::c_int;
use std::time::Duration;

/// How a write waiting for the lock tries again: every [`BUSY_RETRY`] (asked of the OS;
/// with timer slack about 0.1 ms) for the first [`BUSY_QUICK`] of the wait, then every
/// millisecond, until [`BUSY_TIMEOUT`] has passed. SQLite's own busy handler sleeps 1 ms
/// before its first retry (then 2, 5, 10 ms...), while the pool's writes that hold the lock
/// (a heartbeat, a flush of partial output) mostly take a fraction of that: in the
/// overhead benchmark about 1 write in 100 met one, and each of them paid the whole
/// millisecond (bench/RESULTS.md).
pub(super) const BUSY_RETRY: Duration = Duration::from_micros(50);
pub(super) const BUSY_QUICK: Duration = Duration::from_millis(2);

std::thread_local! {
    /// Retries of the writer thread's current batch while another connection held the lock.
    pub(super) static BUSY_RETRIES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// When the current wait for the lock began.
    static BUSY_SINCE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// After `waited`: `None` to give up, else how long to sleep before the next try.
pub(super) fn busy_pause(waited: Duration) -> Option<Duration> {
    if waited >= BUSY_TIMEOUT {
        None
    } else if waited < BUSY_QUICK {
        Some(BUSY_RETRY)
    } else {
        Some(Duration::from_millis(1))
    }
}

/// The writer's busy handler (see [`BUSY_RETRY`]); 0 tells SQLite to give up (`SQLITE_BUSY`).
/// `tries` is 0 at the start of each wait.
pub(super) unsafe extern "C" fn retry_when_busy(_: *mut std::ffi::c_void, tries: c_int) -> c_int {
    let now = std::time::Instant::now();
    let since = BUSY_SINCE.with(|s| match s.get() {
        Some(t) if tries > 0 => t,
        _ => {
            s.set(Some(now));
            now
        }
    });
    match busy_pause(now - since) {
        None => 0,
        Some(pause) => {
            BUSY_RETRIES.with(|n| n.set(n.get().saturating_add(1)));
            std::thread::sleep(pause);
            1
        }
    }
}
