//! How long the write-ahead log is after each of the writer's commits, for the timing
//! events: the difference from one batch to the next is what the batch added to it (each
//! page a transaction changed is one frame), which `bench/timing.py` sums per run.

use libsqlite3_sys as ffi;
use std::os::raw::{c_char, c_int, c_void};

std::thread_local! {
    /// Frames in the log after the writer thread's last commit.
    pub(super) static WAL_FRAMES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// SQLite's WAL hook, called on the committing thread after each commit with the number
/// of frames in the log. It takes the automatic checkpoint's place, which the store turns
/// off anyway (`store::checkpoints` does them); a later `PRAGMA wal_autocheckpoint` would
/// remove it. Returns `SQLITE_OK`.
pub(super) unsafe extern "C" fn after_commit(
    _: *mut c_void,
    _: *mut ffi::sqlite3,
    _: *const c_char,
    frames: c_int,
) -> c_int {
    WAL_FRAMES.with(|n| n.set(u32::try_from(frames).unwrap_or(0)));
    ffi::SQLITE_OK
}
