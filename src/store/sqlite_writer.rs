//! The run path's SQLite writes, on a thread of their own with a connection of their own.
//!
//! Every run makes two writes: its row at the start and its final state at the end, and
//! the client waits for both (a run is not reported started, or succeeded, before it is
//! stored). Through sqlx each of them is a pool checkout, a hand-off to the connection's
//! own thread and back, and a ping of the connection on its way back into the pool:
//! several thread wake-ups per statement, which on a busy 2-core machine cost more than
//! SQLite's own work. Here one thread owns one connection; a caller hands its statement
//! over a channel and gets its rows back on a oneshot, so a write costs two wake-ups.
//!
//! The thread also commits in groups: statements that arrive while it is writing are
//! written together, in one transaction, by its next turn. Nobody waits for a batch to
//! fill: a statement that finds the thread idle is written at once, alone, so a quiet
//! server adds no latency; batches form only while a write is in progress.
//!
//! Each statement keeps its own outcome: in SQLite a statement that fails on a constraint
//! (a unique key taken, say) undoes only itself, and the rest of the transaction goes on.
//! After errors that can leave the transaction in doubt (a full disk, an I/O error, out of
//! memory), or when SQLite rolled it back by itself, or when the commit fails, the batch is
//! rolled back and every statement of it gets the error, with SQLite's code. A caller's
//! rows are only handed over once the transaction has committed: with WAL and
//! `synchronous=NORMAL`, as for the pool, a committed write survives the process being
//! killed (the crash test), though not a power cut before the next checkpoint's sync. A
//! caller that goes away does not take its statement back: it is written all the same, as
//! it would be if the caller had gone away a moment later.
//!
//! The thread opens its connection itself (a locked database can keep that waiting). If a
//! batch panics, or SQLite reports the connection unusable (the file moved, an I/O error,
//! a transaction that would not end), the thread opens a new one before the next batch.
//! [`Writer::alive`] (readiness, `/health/ready`) asks the thread itself, through the same
//! queue as the writes: it answers once what was sent before is written, and only with a
//! connection it can use.
//! [`Writer::close`] (at shutdown) writes what was handed over, then closes the
//! connection.
//!
//! Values are bound exactly as sqlx binds them through sea-orm (a UUID as its 16 bytes, a
//! timestamp as RFC 3339 text, a bool as 0 or 1), so rows written here and rows written
//! through the pool read back the same, and compare equal in queries; the tests check it
//! column by column. The connection is opened on the file sqlx opened, with the pool's
//! settings: WAL, `synchronous=NORMAL`, foreign keys on, no automatic checkpoints, the
//! WAL cut back to `store::WAL_SIZE_LIMIT` when its log starts over, stable query plans,
//! and a 5 s wait for another connection's lock; only its busy handler retries sooner
//! than SQLite's own (`busy::BUSY_RETRY`).

use libsqlite3_sys as ffi;
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, Statement};
use std::borrow::Cow;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio::sync::oneshot;

/// Most statements written in one transaction.
const MAX_BATCH: usize = 256;

/// How long a write waits for another connection's write lock (as the pool's do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An error SQLite reported, with its extended result code. It is handed on as sqlx's
/// database error, so the callers' checks (a unique key taken) read it as they read
/// sqlx's own.
#[derive(Debug)]
pub struct SqliteError {
    code: c_int,
    message: String,
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

impl SqliteError {
    fn into_db_err(self) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::Database(Box::new(self)),
        )))
    }

    /// The writer's connection is broken and no new one could be opened.
    fn unusable() -> Self {
        Self {
            code: ffi::SQLITE_CANTOPEN,
            message: "the SQLite writer has no usable connection: the database file moved, \
                      was deleted or cannot be opened"
                .into(),
        }
    }

    fn other(message: impl Into<String>) -> Self {
        Self {
            code: ffi::SQLITE_MISUSE,
            message: message.into(),
        }
    }
}

type Rows = Result<Vec<Row>, DbErr>;

struct Job {
    stmt: Statement,
    reply: oneshot::Sender<Rows>,
}

enum Message {
    Write(Job),
    /// Answered once what was sent before is written: whether the thread has a usable
    /// connection (it tries to reopen a broken one first).
    Ping(oneshot::Sender<bool>),
    /// Finish what was sent before, close the connection and end the thread.
    Close,
}

/// The writer: a handle to its thread. The thread ends, and closes its connection, on
/// [`Writer::close`] or when the handle is dropped.
pub struct Writer {
    inbox: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Transactions written (a lone statement counts as one), for the tests.
    #[cfg(test)]
    batches: Arc<std::sync::atomic::AtomicUsize>,
    /// Makes the next batch panic inside the thread, for the tests of its recovery.
    #[cfg(test)]
    panic_next: Arc<std::sync::atomic::AtomicBool>,
    /// Statements handed to the thread, for the tests.
    #[cfg(test)]
    sent: std::sync::atomic::AtomicUsize,
}

impl Writer {
    /// Start the thread and open its connection to the SQLite file at `path` (created and
    /// migrated already). The connection is opened on that thread: a locked database can
    /// keep it waiting up to the busy timeout.
    pub async fn open(path: &Path) -> Result<Self, DbErr> {
        let (inbox, messages) = mpsc::channel::<Message>();
        let (opened, open_result) = oneshot::channel();
        #[cfg(test)]
        let batches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        #[cfg(test)]
        let counted = batches.clone();
        #[cfg(test)]
        let panic_next = Arc::new(std::sync::atomic::AtomicBool::new(false));
        #[cfg(test)]
        let to_panic = panic_next.clone();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = match Connection::open(&path) {
                    Ok(c) => {
                        let _ = opened.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                loop {
                    let first = match messages.recv() {
                        Ok(Message::Write(job)) => job,
                        Ok(Message::Ping(pong)) => {
                            let _ = pong.send(usable(&mut conn, &path));
                            continue;
                        }
                        Ok(Message::Close) | Err(_) => break,
                    };
                    let mut batch = vec![first];
                    let mut pings = Vec::new();
                    let mut closing = false;
                    while batch.len() < MAX_BATCH {
                        match messages.try_recv() {
                            Ok(Message::Write(job)) => batch.push(job),
                            Ok(Message::Ping(pong)) => pings.push(pong),
                            Ok(Message::Close) => {
                                closing = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    #[cfg(test)]
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let statements = batch.len();
                    let writing = std::time::Instant::now();
                    BUSY_RETRIES.with(|n| n.set(0));
                    // A reopening that failed before is tried again first, and a file that
                    // moved away is not written to: what went there would be lost.
                    let written = if usable(&mut conn, &path) {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            #[cfg(test)]
                            if to_panic.swap(false, std::sync::atomic::Ordering::SeqCst) {
                                panic!("a batch panics (test)");
                            }
                            conn.write(batch)
                        }))
                    } else {
                        connection::fail_all(batch, &SqliteError::unusable());
                        Ok(())
                    };
                    let busy_retries = BUSY_RETRIES.with(|n| n.get());
                    let wal_frames = wal::WAL_FRAMES.with(|n| n.get());
                    tracing::debug!(target: "promptlab::timing", statements, busy_retries, wal_frames, exec_us = writing.elapsed().as_micros() as u64, "writer batch");
                    // A panic (its callers were answered with an error when their replies
                    // were dropped) or a connection SQLite no longer can use (the file
                    // moved or replaced, an I/O error): start over with a new connection.
                    if written.is_err() {
                        tracing::error!("a batch of the SQLite writer panicked");
                        conn.broken.set(true);
                    }
                    if !pings.is_empty() || conn.broken.get() {
                        let ok = usable(&mut conn, &path);
                        for pong in pings {
                            let _ = pong.send(ok);
                        }
                    }
                    if closing {
                        break;
                    }
                }
            })
            .map_err(|e| DbErr::Custom(format!("starting the SQLite writer: {e}")))?;
        match open_result.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into_db_err()),
            Err(_) => return Err(DbErr::Custom("the SQLite writer did not start".into())),
        }
        Ok(Self {
            inbox,
            thread: std::sync::Mutex::new(Some(thread)),
            #[cfg(test)]
            batches,
            #[cfg(test)]
            panic_next,
            #[cfg(test)]
            sent: Default::default(),
        })
    }

    /// Execute `stmt` (a write, usually with `RETURNING`) and return its rows, committed.
    pub async fn write(&self, stmt: Statement) -> Rows {
        let (reply, answer) = oneshot::channel();
        self.inbox
            .send(Message::Write(Job { stmt, reply }))
            .map_err(|_| DbErr::Custom("the SQLite writer has stopped".into()))?;
        #[cfg(test)]
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        answer
            .await
            .map_err(|_| DbErr::Custom("the SQLite writer dropped a write".into()))?
    }

    /// True when the thread answers within `within`, after writing what was sent before it
    /// was asked, with a connection it can use. False once it has ended (closed, or stopped
    /// by a fault), while its connection is broken and cannot be opened again, and while a
    /// write is kept waiting longer than `within` (by another connection's lock, say).
    pub async fn alive(&self, within: Duration) -> bool {
        let (pong, answer) = oneshot::channel();
        if self.inbox.send(Message::Ping(pong)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, answer).await, Ok(Ok(true)))
    }

    /// Write what was sent before, then close the connection and end the thread; later
    /// writes are refused. Waits for the thread (off the async runtime's threads).
    pub async fn close(&self) {
        let _ = self.inbox.send(Message::Close);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// True when the writer's connection can be written to: not broken, and its file still at
/// `path`. Otherwise it is replaced by a new one on `path`; when that fails (no file there
/// now, say) the old one stays, marked broken, and the next batch or readiness check tries
/// again. The writes of a batch on a broken connection fail with SQLite's own error.
fn usable(conn: &mut Connection, path: &Path) -> bool {
    if conn.moved() {
        tracing::error!(path = %path.display(), "the SQLite database file moved away from under the writer");
        conn.broken.set(true);
    }
    if !conn.broken.get() {
        return true;
    }
    tracing::error!("the SQLite writer reopens its connection");
    match Connection::open(path) {
        Ok(c) => {
            *conn = c;
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "reopening the SQLite writer's connection failed; trying again before the next write");
            false
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The thread finishes what was sent, then ends; nobody waits for it here.
        let _ = self.inbox.send(Message::Close);
    }
}

mod busy;
mod cells;
mod connection;
mod values;
mod wal;

use busy::BUSY_RETRIES;
#[cfg(test)]
use busy::{busy_pause, BUSY_QUICK, BUSY_RETRY};
pub(super) use connection::Connection;
pub use values::{Cell, FromCell, FromRow, Row};

#[cfg(test)]
mod tests;
