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
//! [`Writer::close`] (at shutdown) writes what was handed over, then closes the
//! connection.
//!
//! Values are bound exactly as sqlx binds them through sea-orm (a UUID as its 16 bytes, a
//! timestamp as RFC 3339 text, a bool as 0 or 1), so rows written here and rows written
//! through the pool read back the same, and compare equal in queries; the tests check it
//! column by column. The connection is opened on the file sqlx opened, with the pool's
//! settings: WAL, `synchronous=NORMAL`, foreign keys on, no automatic checkpoints, stable
//! query plans, and a 5 s wait for another connection's lock; only its busy handler
//! retries sooner than SQLite's own (see [`BUSY_RETRY`]).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use libsqlite3_sys as ffi;
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, Statement, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio::sync::oneshot;

/// Most statements written in one transaction.
const MAX_BATCH: usize = 256;

/// Prepared statements kept per connection; the run path uses a handful.
const MAX_PREPARED: usize = 64;

/// How long a write waits for another connection's write lock (as the pool's do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How a write waiting for the lock tries again: every [`BUSY_RETRY`] (asked of the OS;
/// with timer slack about 0.1 ms) for the first [`BUSY_QUICK`] of the wait, then every
/// millisecond, until [`BUSY_TIMEOUT`] has passed. SQLite's own busy handler sleeps 1 ms
/// before its first retry (then 2, 5, 10 ms...), while the pool's writes that hold the lock
/// (a heartbeat, a flush of partial output) mostly take a fraction of that: in the
/// overhead benchmark about 1 write in 100 met one, and each of them paid the whole
/// millisecond (bench/RESULTS.md).
const BUSY_RETRY: Duration = Duration::from_micros(50);
const BUSY_QUICK: Duration = Duration::from_millis(2);

std::thread_local! {
    /// Retries of the writer thread's current batch while another connection held the lock.
    static BUSY_RETRIES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// When the current wait for the lock began.
    static BUSY_SINCE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// After `waited`: `None` to give up, else how long to sleep before the next try.
fn busy_pause(waited: Duration) -> Option<Duration> {
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
unsafe extern "C" fn retry_when_busy(_: *mut std::ffi::c_void, tries: c_int) -> c_int {
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

/// A value as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row a statement returned.
#[derive(Debug, Clone)]
pub struct Row {
    names: Arc<[String]>,
    cells: Vec<Cell>,
}

impl Row {
    /// The value of column `name`, converted; an error names the column.
    pub fn get<T: FromCell>(&self, name: &str) -> Result<T, DbErr> {
        let cell = self
            .names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.cells.get(i))
            .ok_or_else(|| DbErr::Type(format!("no column {name} in the returned row")))?;
        T::from_cell(cell).map_err(|e| DbErr::Type(format!("column {name}: {e}")))
    }
}

/// A Rust value read from a [`Cell`], as sqlx would decode it.
pub trait FromCell: Sized {
    fn from_cell(cell: &Cell) -> Result<Self, String>;
}

/// A type read from the rows a write returned.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, DbErr>;
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

fn unexpected(want: &str, cell: &Cell) -> String {
    let got = match cell {
        Cell::Null => "NULL",
        Cell::Integer(_) => "an integer",
        Cell::Real(_) => "a real",
        Cell::Text(_) => "text",
        Cell::Blob(_) => "a blob",
    };
    format!("expected {want}, found {got}")
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.clone()),
            c => Err(unexpected("text", c)),
        }
    }
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Integer(i) => Ok(*i),
            c => Err(unexpected("an integer", c)),
        }
    }
}

impl FromCell for i32 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        let i = i64::from_cell(cell)?;
        i32::try_from(i).map_err(|_| format!("{i} does not fit in 32 bits"))
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        i64::from_cell(cell).map(|i| i != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Real(f) => Ok(*f),
            Cell::Integer(i) => Ok(*i as f64),
            c => Err(unexpected("a number", c)),
        }
    }
}

impl FromCell for uuid::Uuid {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(b) => uuid::Uuid::from_slice(b).map_err(|e| e.to_string()),
            Cell::Text(s) => uuid::Uuid::parse_str(s).map_err(|e| e.to_string()),
            c => Err(unexpected("a UUID", c)),
        }
    }
}

impl FromCell for DateTime<Utc> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => parse_timestamp(s).ok_or_else(|| format!("invalid timestamp {s:?}")),
            Cell::Integer(secs) => Utc
                .timestamp_opt(*secs, 0)
                .single()
                .ok_or_else(|| format!("invalid timestamp {secs}")),
            c => Err(unexpected("a timestamp", c)),
        }
    }
}

/// What sqlx writes (RFC 3339), and SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC).
fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%F %T%.f", "%FT%T%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| Utc.from_utc_datetime(&n))
}

/// A value to bind, as sqlx's SQLite driver encodes it through sea-orm.
#[derive(Debug, PartialEq)]
enum Bind {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn bind_value(v: &Value) -> Result<Bind, String> {
    fn opt<T>(v: &Option<T>, f: impl FnOnce(&T) -> Bind) -> Bind {
        v.as_ref().map_or(Bind::Null, f)
    }
    Ok(match v {
        Value::Bool(b) => opt(b, |b| Bind::Integer(i64::from(*b))),
        Value::TinyInt(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::SmallInt(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::Int(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::BigInt(i) => opt(i, |i| Bind::Integer(*i)),
        Value::TinyUnsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::SmallUnsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::Unsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::BigUnsigned(Some(i)) => {
            Bind::Integer(i64::try_from(*i).map_err(|_| format!("{i} does not fit in 64 bits"))?)
        }
        Value::BigUnsigned(None) => Bind::Null,
        Value::Float(f) => opt(f, |f| Bind::Real(f64::from(*f))),
        Value::Double(f) => opt(f, |f| Bind::Real(*f)),
        Value::String(s) => opt(s, |s| Bind::Text(s.to_string())),
        Value::Enum(sea_orm::sea_query::OptionEnum::Some(e)) => Bind::Text(e.value.to_string()),
        Value::Enum(sea_orm::sea_query::OptionEnum::None(_)) => Bind::Null,
        Value::Char(c) => opt(c, |c| Bind::Text(c.to_string())),
        Value::Bytes(b) => opt(b, |b| Bind::Blob(b.to_vec())),
        Value::Uuid(u) => opt(u, |u| Bind::Blob(u.as_bytes().to_vec())),
        Value::Json(j) => match j {
            Some(j) => Bind::Text(serde_json::to_string(j).map_err(|e| e.to_string())?),
            None => Bind::Null,
        },
        Value::ChronoDateTimeUtc(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTimeWithTimeZone(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTimeLocal(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTime(t) => opt(t, |t| Bind::Text(t.format("%F %T%.f").to_string())),
        Value::ChronoDate(d) => opt(d, |d| Bind::Text(d.format("%F").to_string())),
        Value::ChronoTime(t) => opt(t, |t| Bind::Text(t.format("%T%.f").to_string())),
        other => return Err(format!("cannot bind {other:?} for SQLite")),
    })
}

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
                while let Ok(Message::Write(first)) = messages.recv() {
                    let mut batch = vec![first];
                    let mut closing = false;
                    while batch.len() < MAX_BATCH {
                        match messages.try_recv() {
                            Ok(Message::Write(job)) => batch.push(job),
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
                    let written =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.write(batch)));
                    let busy_retries = BUSY_RETRIES.with(|n| n.get());
                    tracing::debug!(target: "promptlab::timing", statements, busy_retries, exec_us = writing.elapsed().as_micros() as u64, "writer batch");
                    // A panic (its callers were answered with an error when their replies
                    // were dropped) or a connection SQLite no longer can use (the file
                    // moved or replaced, an I/O error): start over with a new connection.
                    if written.is_err() || conn.broken.get() {
                        tracing::error!(panicked = written.is_err(), "the SQLite writer reopens its connection");
                        match Connection::open(&path) {
                            Ok(c) => conn = c,
                            Err(e) => tracing::error!(error = %e, "reopening the SQLite writer's connection failed; retrying at the next write"),
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

impl Drop for Writer {
    fn drop(&mut self) {
        // The thread finishes what was sent, then ends; nobody waits for it here.
        let _ = self.inbox.send(Message::Close);
    }
}

/// The writer thread's connection and its prepared statements.
struct Connection {
    db: NonNull<ffi::sqlite3>,
    prepared: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
    /// SQLite reported an error after which this connection is not to be trusted (the file
    /// moved or unreadable, an I/O error, a transaction that would not end): the thread
    /// opens a new one.
    broken: std::cell::Cell<bool>,
}

/// Errors after which the connection is replaced.
fn fatal(code: c_int) -> bool {
    matches!(
        code & 0xff,
        ffi::SQLITE_IOERR | ffi::SQLITE_CORRUPT | ffi::SQLITE_CANTOPEN | ffi::SQLITE_NOTADB
    ) || code == ffi::SQLITE_READONLY_DBMOVED
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
    fn open(path: &Path) -> Result<Self, SqliteError> {
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
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
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
            ffi::sqlite3_busy_handler(db.as_ptr(), Some(retry_when_busy), std::ptr::null_mut());
            ffi::sqlite3_db_config(
                db.as_ptr(),
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            );
        }
        conn.exec(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        Ok(conn)
    }

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

    /// True while no transaction is open (SQLite rolled a failed one back by itself).
    fn autocommit(&self) -> bool {
        // SAFETY: an open connection.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) != 0 }
    }

    /// Write a batch and answer every caller in it.
    fn write(&mut self, mut batch: Vec<Job>) {
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
    fn execute(&mut self, stmt: &Statement) -> Result<Vec<Row>, SqliteError> {
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
fn fail_all(batch: Vec<Job>, e: &SqliteError) {
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

fn column_names(s: *mut ffi::sqlite3_stmt) -> Arc<[String]> {
    // SAFETY: a live statement that has a row; names are copied at once.
    unsafe {
        let n = ffi::sqlite3_column_count(s);
        (0..n)
            .map(|i| {
                let p = ffi::sqlite3_column_name(s, i);
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            })
            .collect()
    }
}

/// Column `i` of the current row, copied.
fn cell(s: *mut ffi::sqlite3_stmt, i: c_int) -> Result<Cell, SqliteError> {
    let out_of_memory = || SqliteError {
        code: ffi::SQLITE_NOMEM,
        message: "out of memory reading a returned row".into(),
    };
    // SAFETY: a live statement positioned on a row, `i` within its column count; the
    // text and blob pointers are read (with their byte counts, fetched after them, as
    // SQLite requires) before the next step or reset.
    Ok(unsafe {
        match ffi::sqlite3_column_type(s, i) {
            ffi::SQLITE_INTEGER => Cell::Integer(ffi::sqlite3_column_int64(s, i)),
            ffi::SQLITE_FLOAT => Cell::Real(ffi::sqlite3_column_double(s, i)),
            ffi::SQLITE_TEXT => {
                let p = ffi::sqlite3_column_text(s, i);
                let n = ffi::sqlite3_column_bytes(s, i) as usize;
                // Text, even empty, has a pointer; none means SQLite ran out of memory.
                if p.is_null() {
                    return Err(out_of_memory());
                } else {
                    let bytes = std::slice::from_raw_parts(p, n);
                    Cell::Text(String::from_utf8_lossy(bytes).into_owned())
                }
            }
            ffi::SQLITE_BLOB => {
                let p = ffi::sqlite3_column_blob(s, i);
                let n = ffi::sqlite3_column_bytes(s, i) as usize;
                if p.is_null() && n > 0 {
                    return Err(out_of_memory());
                } else if p.is_null() {
                    Cell::Blob(Vec::new())
                } else {
                    Cell::Blob(std::slice::from_raw_parts(p.cast::<u8>(), n).to_vec())
                }
            }
            _ => Cell::Null,
        }
    })
}

#[cfg(test)]
mod tests;
