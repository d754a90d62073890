//! The store: the only place that speaks SQL. sea-orm entities and the queries the engine
//! needs, on SQLite (default) or PostgreSQL, chosen by the URL.
//!
//! Callers get domain types or [`crate::Error`] back; database errors are logged here with
//! their cause and surface as `internal_error`, except the ones that mean something to a
//! user (a unique key taken becomes `conflict`).

use crate::error::{Error, ErrorCode};
use promptlab_migrations::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};
use std::time::Duration;

pub mod group_commit;
pub mod label_events;
pub mod labels;
pub mod memberships;
pub mod projects;
pub mod prompt_versions;
pub mod prompts;
pub mod runs;
pub mod sessions;
pub mod sqlite_reads;
pub mod sqlite_writer;
pub mod users;

mod checkpoints;
pub use checkpoints::{checkpoints, Checkpoints, CHECKPOINT_EVERY};

/// Which database the URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(Error::new(
                ErrorCode::InternalError,
                "DATABASE_URL must start with sqlite: or postgres://",
            ))
        }
    }
}

/// Open a connection pool and bring the schema up to date.
///
/// SQLite runs in WAL mode with foreign keys on; a missing parent directory of the file is
/// created so the default `data/promptlab.db` works on a fresh checkout.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    let backend = Backend::of(url)?;
    // A file database is created (when the URL asks for it: `mode=rwc`) here, once, before
    // the pool opens; the pool's own connections never create one. Otherwise a connection
    // opened after the file was moved or deleted would make a new, empty database at the
    // path, and the server would go on in it as if nothing happened.
    let file_db = backend == Backend::Sqlite && sqlite_path(url).is_some();
    if file_db {
        ensure_sqlite_dir(url);
        create_sqlite_file(url).await.map_err(db_error("create"))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    match backend {
        Backend::Sqlite => {
            // No ping before each query: on SQLite it is a round trip to the connection's
            // thread that checks only that the thread is alive (a query would tell that too),
            // and it cost ~65 µs on every query of the run path.
            opts.max_connections(8)
                .min_connections(1)
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(move |o| {
                    let o = o
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(5))
                        // Checkpoints run in `checkpoints`, off the request path: left to
                        // SQLite, the commit that crosses 1,000 WAL pages copies them all
                        // into the database file before it returns.
                        .pragma("wal_autocheckpoint", "0")
                        .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string());
                    if file_db {
                        o.create_if_missing(false)
                    } else {
                        o
                    }
                })
                .map_sqlx_sqlite_pool_opts(|pool| {
                    pool.after_connect(|conn, _| Box::pin(stable_query_plans(conn)))
                });
        }
        Backend::Postgres => {
            opts.max_connections(16).min_connections(1);
        }
    }
    let db = Database::connect(opts).await.map_err(db_error("connect"))?;
    promptlab_migrations::Migrator::up(&db, None)
        .await
        .map_err(db_error("migrate"))?;
    Ok(db)
}

/// sqlx's reading of a SQLite URL (percent-decoding, `file:` names, `mode=`).
fn sqlite_options(url: &str) -> Result<sea_orm::sqlx::sqlite::SqliteConnectOptions, DbErr> {
    url.parse()
        .map_err(|e| DbErr::Custom(format!("reading the database URL: {e}")))
}

/// Create the SQLite database file of `url` when it is missing and the URL allows it: one
/// connection with the URL's own options (`mode=rwc` creates, a plain URL fails on a
/// missing file, as the pool would).
async fn create_sqlite_file(url: &str) -> Result<(), DbErr> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let options = sqlite_options(url)?;
    if options.get_filename().exists() {
        return Ok(());
    }
    let conn = options
        .connect()
        .await
        .map_err(|e| DbErr::Custom(format!("creating the database file: {e}")))?;
    conn.close()
        .await
        .map_err(|e| DbErr::Custom(format!("creating the database file: {e}")))
}

/// Turn on SQLite's query planner stability guarantee for one connection.
///
/// Without it SQLite compiles a cached statement again every time a value is bound to a
/// parameter its plan looked at, and sea-orm binds `LIMIT` (every `.one()`, the claim
/// batch, list pages) as a parameter: a callgrind profile of the run path found a third of
/// the server's instructions in `sqlite3Reprepare`. With the guarantee, plans are made once
/// per statement and connection, without peeking at bound values.
async fn stable_query_plans(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection's handle, and the lock guard keeps sqlx's
    // worker thread off it for the duration of this call; the option takes an int and an
    // optional out-pointer (null: not wanted).
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::os::raw::c_int,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        tracing::warn!(code = rc, "could not turn on SQLite query plan stability");
    }
    Ok(())
}

/// Bytes a WAL file is cut back to when its log starts over (`journal_size_limit`), so a
/// burst of writes does not leave a large file behind.
pub(crate) const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Begin a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`, waiting for it as any write does): a deferred transaction that reads first
/// and writes later fails at its first write with `SQLITE_BUSY_SNAPSHOT`, without waiting,
/// whenever another connection committed in between (the run writer, say). PostgreSQL
/// ignores the mode.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::TransactionTrait;
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// True when the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

/// The file the run path's own SQLite connections (`sqlite_writer`, `sqlite_reads`) open
/// for `db`, connected to `url`: the file sqlx opened (its reading of the URL:
/// percent-decoding, `file:` names). `None` (use the pool) for PostgreSQL, an in-memory
/// database a second connection could not see, and URLs that ask for more than a plain
/// open gives (`mode=ro`, another VFS, an immutable file).
pub(crate) fn sqlite_direct_path(
    db: &DatabaseConnection,
    url: &str,
) -> Result<Option<std::path::PathBuf>, DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite
        || sqlite_path(url).is_none()
        || ["mode=ro", "vfs=", "immutable="]
            .iter()
            .any(|o| url.contains(o))
    {
        return Ok(None);
    }
    let options = sqlite_options(url)?;
    Ok(Some(options.get_filename().to_owned()))
}

/// The database file of a SQLite URL; `None` for an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory")).then_some(path)
}

fn ensure_sqlite_dir(url: &str) {
    let Some(path) = sqlite_path(url) else {
        return;
    };
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                tracing::warn!(dir = %parent.display(), error = %e, "could not create the database directory");
            }
        }
    }
}

/// Map a database error: log it with what we were doing, return a generic internal error.
pub(crate) fn db_error(what: &'static str) -> impl Fn(DbErr) -> Error {
    move |e| {
        tracing::error!(operation = what, error = %e, "database error");
        Error::internal()
    }
}

/// True when the error is a unique-key violation: from the pool (sqlx) or from the
/// SQLite writer, which reports its errors as sqlx database errors of its own type.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    match e {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(x))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(x)) => {
            matches!(&**x, sea_orm::sqlx::Error::Database(d) if d.is_unique_violation())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
