//! Opening a connection (the writer's, or a reader's) and checking that its file is
//! still where it was opened from.

use super::super::busy::retry_when_busy;
use super::super::wal::after_commit;
use super::super::SqliteError;
use super::Connection;
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

/// Longest a `RESTART` checkpoint waits for the write lock or for a reader of an older
/// snapshot before it gives up until the next tick.
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// The settings the pool's connections have (`store::connect`), for a connection that
/// writes (the WAL, the sync level, automatic checkpoints off, the WAL's size limit).
fn pool_settings() -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {};",
        crate::store::WAL_SIZE_LIMIT
    )
}

impl Connection {
    /// The writer's connection: the pool's settings, the writer's busy handler, and a WAL
    /// hook that notes the log's length after each commit (`wal::WAL_FRAMES`).
    pub(in crate::store::sqlite_writer) fn open(path: &Path) -> Result<Self, SqliteError> {
        let conn = Self::open_raw(path)?.writable()?;
        // SAFETY: an open connection; no state is passed to the handler.
        unsafe {
            ffi::sqlite3_busy_handler(
                conn.db.as_ptr(),
                Some(retry_when_busy),
                std::ptr::null_mut(),
            );
        }
        conn.exec(&pool_settings())?;
        // After the settings: `PRAGMA wal_autocheckpoint` replaces any WAL hook.
        // SAFETY: an open connection; no state is passed to the hook.
        unsafe {
            ffi::sqlite3_wal_hook(conn.db.as_ptr(), Some(after_commit), std::ptr::null_mut());
        }
        Ok(conn)
    }

    /// A connection for the inline reads: it refuses writes (`query_only`) and never
    /// waits: a read that finds the database busy fails at once with `SQLITE_BUSY` (the
    /// caller then reads through the pool, which waits). The database is in WAL mode
    /// already (the pool set it up), where readers do not wait for writers.
    pub(in crate::store) fn open_reader(path: &Path) -> Result<Self, SqliteError> {
        let conn = Self::open_raw(path)?;
        conn.exec("PRAGMA query_only = ON;")?;
        Ok(conn)
    }

    /// The checkpoint task's connection for `RESTART` checkpoints (`store::checkpoints`):
    /// the pool's settings, and a busy timeout of [`RESTART_WAIT`] instead of seconds,
    /// because such a checkpoint holds every write back while it waits for a reader.
    pub(in crate::store) fn open_checkpointer(path: &Path) -> Result<Self, SqliteError> {
        let conn = Self::open_raw(path)?.writable()?;
        conn.exec(&pool_settings())?;
        conn.exec(&format!(
            "PRAGMA busy_timeout = {};",
            RESTART_WAIT.as_millis()
        ))?;
        Ok(conn)
    }

    /// This connection, if it can write its main database. SQLite opens a file read-only
    /// when opening it for writing fails, and a file that comes back to its path between
    /// those two tries (a reopening racing a restore) would give the writer a connection
    /// whose every write fails with `SQLITE_READONLY`; that is refused like a failed open,
    /// so the next batch or readiness check tries again.
    pub(in crate::store) fn writable(self) -> Result<Self, SqliteError> {
        // SAFETY: an open connection and the NUL-terminated name of its main database.
        match unsafe { ffi::sqlite3_db_readonly(self.db.as_ptr(), c"main".as_ptr()) } {
            0 => Ok(self),
            _ => Err(SqliteError {
                code: ffi::SQLITE_READONLY,
                message: "the database file could only be opened read-only".into(),
            }),
        }
    }

    fn open_raw(path: &Path) -> Result<Self, SqliteError> {
        Self::open_with(path, ffi::SQLITE_OPEN_READWRITE)
    }

    /// Opens `path` with `flags` (and no mutex: one thread at a time uses a connection).
    pub(in crate::store) fn open_with(path: &Path, flags: c_int) -> Result<Self, SqliteError> {
        // The `Send` above needs a thread-safe library (the bundled one is).
        // SAFETY: takes no arguments.
        if unsafe { ffi::sqlite3_threadsafe() } == 0 {
            return Err(SqliteError::other("SQLite was built without thread safety"));
        }
        let path = path
            .to_str()
            .ok_or_else(|| SqliteError::other("the database path is not UTF-8"))?;
        let c_path =
            CString::new(path).map_err(|_| SqliteError::other("the database path holds a NUL"))?;
        let mut db = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated path and out-pointer; the default VFS.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                c_path.as_ptr(),
                &mut db,
                flags | ffi::SQLITE_OPEN_NOMUTEX,
                std::ptr::null(),
            )
        };
        let Some(db) = NonNull::new(db) else {
            return Err(SqliteError::other("out of memory opening the database"));
        };
        let conn = Self {
            db,
            prepared: HashMap::new(),
            broken: std::cell::Cell::new(false),
        };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error(rc));
        }
        // SAFETY: an open connection; integer arguments.
        unsafe {
            ffi::sqlite3_extended_result_codes(db.as_ptr(), 1);
            ffi::sqlite3_db_config(
                db.as_ptr(),
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            );
        }
        Ok(conn)
    }

    /// True when the database file is no longer at the path it was opened from (renamed,
    /// moved or deleted): what is written here would not be in the file the next process
    /// opens. One `stat` of the path.
    pub(in crate::store::sqlite_writer) fn moved(&self) -> bool {
        let mut moved: c_int = 0;
        // SAFETY: an open connection, the NUL-terminated name of its main database, and an
        // out-pointer to an int, which SQLITE_FCNTL_HAS_MOVED writes.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.db.as_ptr(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_HAS_MOVED,
                (&mut moved as *mut c_int).cast(),
            )
        };
        rc == ffi::SQLITE_OK && moved != 0
    }
}
