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
//! That blocks the async runtime's thread for the statement, so only lookups that are
//! bounded index seeks come here (tens of µs). The connections have no busy handler: in
//! WAL mode readers do not wait for writers, and a read that finds the database busy all
//! the same (a WAL being recovered, say) fails at once and is read through the pool, which
//! waits. Any other failure, and a row the caller's `FromRow` cannot decode, is also read
//! again through the pool, which then gives the answer; a connection SQLite reports
//! unusable is dropped. A connection that cannot be opened makes reads go through the pool
//! for [`RETRY_OPEN`] before the next try (one warning per try). Each read holds a
//! connection only for its statement, with no `.await` in between, so there are at most
//! as many as threads that read at once, opened on first use (on the reading thread) and
//! kept ([`MAX_IDLE`] at most). `Reads::close` (at shutdown) closes them.
//!
//! A read sees every write committed before it started, through the pool or the writer
//! thread, as a read through the pool would. PostgreSQL and in-memory SQLite (a second
//! connection could not see it) read through the pool.

use super::sqlite_writer::{Connection, FromRow, Row};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement, StatementBuilder,
};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections kept for the inline reads; more are closed after use.
const MAX_IDLE: usize = 16;

/// After a connection failed to open, how long reads go through the pool.
const RETRY_OPEN: Duration = Duration::from_secs(10);

/// Where the run path reads; one per process.
#[derive(Default)]
pub struct Reads {
    inline: Option<Inline>,
}

struct Inline {
    path: PathBuf,
    idle: Mutex<Idle>,
    /// Reads answered inline, for the tests.
    #[cfg(test)]
    answered: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Idle {
    connections: Vec<Connection>,
    /// No inline reads before then (a connection failed to open).
    pause_until: Option<Instant>,
    /// Closed: every read goes through the pool.
    closed: bool,
}

impl Reads {
    /// Reads for the database at `url` that `db` is connected to: inline on a SQLite file
    /// (`store::sqlite_direct_path`), through the pool otherwise.
    pub fn open(db: &DatabaseConnection, url: &str) -> Result<Self, DbErr> {
        let Some(path) = super::sqlite_direct_path(db, url)? else {
            return Ok(Self::default());
        };
        Ok(Self {
            inline: Some(Inline {
                path,
                idle: Mutex::new(Idle::default()),
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
                i.idle.lock().map(|i| i.connections.len()).unwrap_or(0),
            )
        })
    }

    /// The first row of `query` (a point lookup: add `LIMIT 1` where more could match).
    pub async fn one<M: FromQueryResult + FromRow>(
        &self,
        db: &DatabaseConnection,
        query: &impl StatementBuilder,
    ) -> Result<Option<M>, DbErr> {
        self.one_statement(db, query.build(&db.get_database_backend()))
            .await
    }

    /// [`Reads::one`] for a statement built for `db`'s backend.
    pub async fn one_statement<M: FromQueryResult + FromRow>(
        &self,
        db: &DatabaseConnection,
        stmt: Statement,
    ) -> Result<Option<M>, DbErr> {
        if let Some(inline) = &self.inline {
            if let Some(rows) = inline.read(&stmt) {
                match rows.first().map(M::from_row).transpose() {
                    Ok(found) => {
                        #[cfg(test)]
                        inline
                            .answered
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return Ok(found);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "an inline read's row did not decode; reading through the pool");
                    }
                }
            }
        }
        db.query_one_raw(stmt)
            .await?
            .map(|row| M::from_query_result(&row, ""))
            .transpose()
    }

    /// Close the idle connections; later reads go through the pool (at shutdown).
    pub fn close(&self) {
        if let Some(inline) = &self.inline {
            let connections = match inline.idle.lock() {
                Ok(mut idle) => {
                    idle.closed = true;
                    std::mem::take(&mut idle.connections)
                }
                Err(_) => Vec::new(),
            };
            drop(connections);
        }
    }
}

impl Inline {
    /// The rows of `stmt`, or `None` when it is to be read through the pool instead.
    fn read(&self, stmt: &Statement) -> Option<Vec<Row>> {
        let idle = {
            let mut idle = self.idle.lock().ok()?;
            if idle.closed || idle.pause_until.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            idle.connections.pop()
        };
        let mut conn = match idle {
            Some(c) => c,
            None => match Connection::open_reader(&self.path) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = RETRY_OPEN.as_secs(), "opening an inline read connection failed; reading through the pool");
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.pause_until = Some(Instant::now() + RETRY_OPEN);
                    }
                    return None;
                }
            },
        };
        let rows = conn.execute(stmt);
        if !conn.broken.get() {
            if let Ok(mut idle) = self.idle.lock() {
                if !idle.closed && idle.connections.len() < MAX_IDLE {
                    idle.connections.push(conn);
                }
            }
        }
        match rows {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::debug!(error = %e, "an inline read failed; reading through the pool");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
