//! The writer thread's SQLite connection: opened with the pool's settings and its own busy
//! handler, statements prepared once, batches written in one transaction. The run path's
//! inline reads (`store::sqlite_reads`) use the same connection type, opened for reading.

use super::cells::{cell, column_names};
use super::values::{bind_value, Bind, Row};
use super::{Job, SqliteError};
use libsqlite3_sys as ffi;
use sea_orm::Statement;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::ptr::NonNull;
use std::sync::Arc;

mod open;

/// Prepared statements kept per connection; the run path uses a handful.
const MAX_PREPARED: usize = 64;

/// A connection of the writer thread (or of the inline reads) and its prepared statements.
pub(in crate::store) struct Connection {
    db: NonNull<ffi::sqlite3>,
    prepared: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
    /// SQLite reported an error after which this connection is not to be trusted (the file
    /// moved or unreadable, an I/O error, a transaction that would not end, a write refused
    /// as read-only): the thread opens a new one.
    pub(in crate::store) broken: std::cell::Cell<bool>,
}

// SAFETY: the connection is opened with SQLITE_OPEN_NOMUTEX in SQLite's multi-thread mode
// (libsqlite3-sys builds it thread-safe): a connection and its statements may move between
// threads as long as one thread at a time uses them, which owning it (`&mut self` for
// every statement) guarantees. Nothing in it is tied to the thread that opened it: the
// writer's busy handler keeps its state in the calling thread's locals, and the readers
// have no busy handler.
unsafe impl Send for Connection {}

/// Errors after which the connection is replaced.
fn fatal(code: c_int) -> bool {
    matches!(
        code & 0xff,
        ffi::SQLITE_IOERR
            | ffi::SQLITE_CORRUPT
            | ffi::SQLITE_CANTOPEN
            | ffi::SQLITE_NOTADB
            | ffi::SQLITE_READONLY
    )
}

/// Statement errors after which SQLite advises rolling the transaction back, whether or
/// not it did so itself.
fn rolls_back(code: c_int) -> bool {
    matches!(
        code & 0xff,
        ffi::SQLITE_FULL
            | ffi::SQLITE_IOERR
            | ffi::SQLITE_NOMEM
            | ffi::SQLITE_BUSY
            | ffi::SQLITE_INTERRUPT
            | ffi::SQLITE_CORRUPT
    )
}

impl Connection {
    /// The connection's last error, for result code `rc`.
    fn error(&self, rc: c_int) -> SqliteError {
        // SAFETY: an open connection; the message is copied before the next call.
        let (code, message) = unsafe {
            let code = ffi::sqlite3_extended_errcode(self.db.as_ptr());
            let msg = ffi::sqlite3_errmsg(self.db.as_ptr());
            let message = if msg.is_null() {
                String::new()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            };
            (if code == 0 { rc } else { code }, message)
        };
        if fatal(code) {
            self.broken.set(true);
        }
        SqliteError { code, message }
    }

    /// Run SQL without parameters or rows (pragmas, BEGIN, COMMIT).
    fn exec(&self, sql: &str) -> Result<(), SqliteError> {
        let c_sql = CString::new(sql).map_err(|_| SqliteError::other("SQL holds a NUL"))?;
        let mut errmsg: *mut c_char = std::ptr::null_mut();
        // SAFETY: an open connection, NUL-terminated SQL, no callback; the error message
        // SQLite allocates is copied, then freed with sqlite3_free.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                c_sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                &mut errmsg,
            )
        };
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        let mut e = self.error(rc);
        if !errmsg.is_null() {
            // SAFETY: set by sqlite3_exec to a NUL-terminated string it allocated.
            unsafe {
                e.message = CStr::from_ptr(errmsg).to_string_lossy().into_owned();
                ffi::sqlite3_free(errmsg.cast());
            }
        }
        Err(e)
    }

    /// A `RESTART` checkpoint of the main database: takes the write lock, copies every
    /// frame of the WAL into the database file, syncs it, and waits until no reader uses
    /// the WAL, so the next write starts the log over. `Ok(false)` when the busy timeout
    /// ran out first (a write or a reader held on): what it copied stays copied.
    pub(in crate::store) fn checkpoint_restart(&self) -> Result<bool, SqliteError> {
        // SAFETY: an open connection; a null name means the main database; SQLite accepts
        // null for the two counts, which are not wanted here.
        let rc = unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                self.db.as_ptr(),
                std::ptr::null(),
                ffi::SQLITE_CHECKPOINT_RESTART,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok(true),
            ffi::SQLITE_BUSY => Ok(false),
            _ => Err(self.error(rc)),
        }
    }

    /// True while no transaction is open (SQLite rolled a failed one back by itself).
    fn autocommit(&self) -> bool {
        // SAFETY: an open connection.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) != 0 }
    }

    /// Write a batch and answer every caller in it.
    pub(super) fn write(&mut self, mut batch: Vec<Job>) {
        if !self.autocommit() {
            // A transaction left open (a ROLLBACK that failed): end it before anything else,
            // or statements would seem committed inside it.
            let _ = self.exec("ROLLBACK");
            if !self.autocommit() {
                self.broken.set(true);
                return fail_all(batch, &SqliteError::other("a transaction would not end"));
            }
        }
        if batch.len() == 1 {
            if let Some(job) = batch.pop() {
                let rows = self.execute(&job.stmt).map_err(SqliteError::into_db_err);
                let _ = job.reply.send(rows);
            }
            return;
        }
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            return fail_all(batch, &e);
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut failed = None;
        for job in &batch {
            match self.execute(&job.stmt) {
                Err(e) if rolls_back(e.code) || self.autocommit() => {
                    // The whole transaction goes (SQLite may have rolled it back already):
                    // none of the batch is written.
                    failed = Some(e);
                    break;
                }
                r => results.push(r),
            }
        }
        if failed.is_none() {
            match self.exec("COMMIT") {
                Ok(()) => {
                    for (job, rows) in batch.into_iter().zip(results) {
                        let _ = job.reply.send(rows.map_err(SqliteError::into_db_err));
                    }
                    return;
                }
                Err(e) => failed = Some(e),
            }
        }
        if !self.autocommit() {
            let _ = self.exec("ROLLBACK");
        }
        if let Some(e) = failed {
            fail_all(batch, &e);
        }
    }

    /// The statement for `sql`, prepared once and kept.
    fn prepare(&mut self, sql: &str) -> Result<NonNull<ffi::sqlite3_stmt>, SqliteError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(*s);
        }
        if self.prepared.len() >= MAX_PREPARED {
            self.finalize_all();
        }
        let len = c_int::try_from(sql.len()).map_err(|_| SqliteError::other("SQL too long"))?;
        let mut stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        // SAFETY: an open connection; `sql` is valid for `len` bytes (no NUL needed when
        // the length is given); out-pointers are valid.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| SqliteError::other("empty statement"))?;
        // SAFETY: `tail` points into `sql`, at or after its start.
        let rest = unsafe { tail.offset_from(sql.as_ptr().cast()) } as usize;
        if sql.get(rest..).is_some_and(|r| !r.trim().is_empty()) {
            // SAFETY: the statement was just prepared and is not kept.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
            return Err(SqliteError::other("one statement at a time"));
        }
        self.prepared.insert(sql.to_owned(), stmt);
        Ok(stmt)
    }

    fn finalize_all(&mut self) {
        for (_, s) in self.prepared.drain() {
            // SAFETY: each was prepared on this connection and is finalized once.
            unsafe { ffi::sqlite3_finalize(s.as_ptr()) };
        }
    }

    /// Bind `stmt`'s values, step it to the end and collect its rows.
    pub(in crate::store) fn execute(&mut self, stmt: &Statement) -> Result<Vec<Row>, SqliteError> {
        let binds = match &stmt.values {
            Some(values) => values
                .0
                .iter()
                .map(bind_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(SqliteError::other)?,
            None => Vec::new(),
        };
        let raw = self.prepare(&stmt.sql)?;
        let s = raw.as_ptr();
        // Reset on every way out, so the statement holds no lock and no bound value.
        struct Reset(*mut ffi::sqlite3_stmt);
        impl Drop for Reset {
            fn drop(&mut self) {
                // SAFETY: a live prepared statement of this connection.
                unsafe {
                    ffi::sqlite3_reset(self.0);
                    ffi::sqlite3_clear_bindings(self.0);
                }
            }
        }
        let _reset = Reset(s);
        // SAFETY: `s` is a live statement; text and blobs are copied by SQLite
        // (SQLITE_TRANSIENT) before the call returns.
        unsafe {
            let expected = ffi::sqlite3_bind_parameter_count(s);
            if expected as usize != binds.len() {
                return Err(SqliteError::other(format!(
                    "{} values for {expected} parameters",
                    binds.len()
                )));
            }
            for (i, b) in binds.iter().enumerate() {
                let at = (i + 1) as c_int;
                let rc = match b {
                    Bind::Null => ffi::sqlite3_bind_null(s, at),
                    Bind::Integer(v) => ffi::sqlite3_bind_int64(s, at, *v),
                    Bind::Real(v) => ffi::sqlite3_bind_double(s, at, *v),
                    Bind::Text(t) => ffi::sqlite3_bind_text64(
                        s,
                        at,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Bind::Blob(b) => ffi::sqlite3_bind_blob64(
                        s,
                        at,
                        b.as_ptr().cast(),
                        b.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                };
                if rc != ffi::SQLITE_OK {
                    return Err(self.error(rc));
                }
            }
        }
        let mut rows = Vec::new();
        let mut names: Option<Arc<[String]>> = None;
        loop {
            // SAFETY: a live statement with every parameter bound.
            let rc = unsafe { ffi::sqlite3_step(s) };
            match rc {
                ffi::SQLITE_ROW => {
                    let names = names.get_or_insert_with(|| column_names(s)).clone();
                    let cells = (0..names.len())
                        .map(|i| cell(s, i as c_int))
                        .collect::<Result<_, _>>()?;
                    rows.push(Row { names, cells });
                }
                ffi::SQLITE_DONE => return Ok(rows),
                rc => return Err(self.error(rc)),
            }
        }
    }
}

/// Answer every caller of a batch that was not written with `e` (its code kept, so a
/// busy database still reads as one).
pub(super) fn fail_all(batch: Vec<Job>, e: &SqliteError) {
    for job in batch {
        let e = SqliteError {
            code: e.code,
            message: format!("the batch was not written: {}", e.message),
        };
        let _ = job.reply.send(Err(e.into_db_err()));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.finalize_all();
        // SAFETY: every statement is finalized; the handle is not used again.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}
