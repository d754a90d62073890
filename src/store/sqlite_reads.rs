//! The run path's reads on SQLite, made inline on the calling thread.
//!
//! Before a run's provider request goes out, its start reads the session, the prompt with
//! the caller's role, and the runs with the same key (cache, in flight). Through sqlx each
//! of those is a pool checkout, a hand-off to the connection's own thread and back, and a
//! ping of the connection on its way back into the pool: on a busy 2-core machine about
//! 0.1–0.15 ms each, several times SQLite's own work for a lookup by key. Here the caller
//! takes an idle connection of its own (or opens one), runs the statement on its own
//! thread, and puts the connection back: no hand-off at all.
//!
//! That blocks the async runtime's thread for the statement, so only point lookups by an
//! indexed key come here (tens of µs). The connections never wait: in WAL mode readers do
//! not wait for writers, and a read that finds the database busy all the same (a WAL
//! being recovered, say) fails at once and is read through the pool, which waits. Any
//! other failure is also read again through the pool, so this path can make a read faster
//! and never changes its answer; a connection SQLite reports unusable is dropped. There
//! are at most as many connections as threads that read at once (each read holds one only
//! for its statement), opened on first use and kept ([`MAX_IDLE`] at most).
//!
//! A read sees every write committed before it started, through the pool or the writer
//! thread, as a read through the pool would. PostgreSQL and in-memory SQLite (a second
//! connection could not see it) read through the pool.

use super::sqlite_writer::{Connection, FromRow, Row};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement,
    StatementBuilder,
};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;

/// Idle connections kept for the inline reads; more are closed after use.
const MAX_IDLE: usize = 16;

/// Where the run path reads; one per process.
#[derive(Default)]
pub struct Reads {
    inline: Option<Inline>,
}

struct Inline {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads answered inline, for the tests.
    #[cfg(test)]
    answered: std::sync::atomic::AtomicUsize,
}

impl Reads {
    /// Reads for the database at `url` that `db` is connected to: inline on a SQLite file
    /// (the file sqlx opened: its reading of the URL), through the pool otherwise.
    pub fn open(db: &DatabaseConnection, url: &str) -> Result<Self, DbErr> {
        if db.get_database_backend() != DatabaseBackend::Sqlite || super::sqlite_path(url).is_none()
        {
            return Ok(Self::default());
        }
        let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(|e| DbErr::Custom(format!("reading the database URL: {e}")))?;
        Ok(Self {
            inline: Some(Inline {
                path: options.get_filename().to_owned(),
                idle: Mutex::new(Vec::new()),
                #[cfg(test)]
                answered: Default::default(),
            }),
        })
    }

    /// Reads answered inline so far, and idle connections kept (`None`: reads go through
    /// the pool), for the tests.
    #[cfg(test)]
    pub(crate) fn inline_stats(&self) -> Option<(usize, usize)> {
        self.inline.as_ref().map(|i| {
            (
                i.answered.load(std::sync::atomic::Ordering::SeqCst),
                i.idle.lock().map(|i| i.len()).unwrap_or(0),
            )
        })
    }

    /// The first row of `query` (a point lookup: add `LIMIT 1` where more could match).
    pub async fn one<M: FromQueryResult + FromRow>(
        &self,
        db: &DatabaseConnection,
        query: &impl StatementBuilder,
    ) -> Result<Option<M>, DbErr> {
        let stmt = query.build(&db.get_database_backend());
        if let Some(inline) = &self.inline {
            if let Some(rows) = inline.read(&stmt) {
                return rows.first().map(M::from_row).transpose();
            }
        }
        db.query_one_raw(stmt)
            .await?
            .map(|row| M::from_query_result(&row, ""))
            .transpose()
    }
}

impl Inline {
    /// The rows of `stmt`, or `None` when it is to be read through the pool instead.
    fn read(&self, stmt: &Statement) -> Option<Vec<Row>> {
        let idle = self.idle.lock().ok()?.pop();
        let mut conn = match idle {
            Some(c) => c,
            None => match Connection::open_reader(&self.path) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "opening an inline read connection; reading through the pool");
                    return None;
                }
            },
        };
        let rows = conn.execute(stmt);
        if !conn.broken.get() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
        match rows {
            Ok(rows) => {
                #[cfg(test)]
                self.answered
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Some(rows)
            }
            Err(e) => {
                tracing::debug!(error = %e, "an inline read failed; reading through the pool");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
