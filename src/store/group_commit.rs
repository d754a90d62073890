//! The run path's writes: a run's row at its start, its final state at its end.
//!
//! On SQLite they go to the writer thread (`store::sqlite_writer`): a connection of its
//! own, statements handed over a channel, and group commit (statements that arrive while
//! a batch is being written share the next transaction). On PostgreSQL (many writers, and
//! a failed statement aborts its whole transaction), and for an in-memory SQLite database
//! a second connection could not see, each statement goes through the pool on its own.

use super::sqlite_writer::{FromRow, Writer};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, StatementBuilder};

/// How long readiness waits for the writer thread to answer: longer than a busy batch
/// takes, shorter than the 5 s a write may wait for another connection's lock.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the run path writes; one per process.
#[derive(Default)]
pub struct GroupCommit {
    writer: Option<Writer>,
}

impl GroupCommit {
    /// The writes of the database at `url` that `db` is connected to: on a SQLite file,
    /// through a writer thread opened here (`store::sqlite_direct_path`). Other URLs get no
    /// writer: a read-only one's writes go to the pool, which refuses them.
    pub async fn open(db: &DatabaseConnection, url: &str) -> Result<Self, DbErr> {
        let writer = match super::sqlite_direct_path(db, url)? {
            Some(path) => Some(Writer::open(&path).await?),
            None => None,
        };
        Ok(Self { writer })
    }

    /// True when the run path can write: the writer thread answers within
    /// [`READY_WAIT`] with a connection it can use (always true without a writer: the
    /// pool's own check covers those writes).
    pub async fn alive(&self) -> bool {
        match &self.writer {
            Some(w) => w.alive(READY_WAIT).await,
            None => true,
        }
    }

    /// Write what was handed over, then close the writer's connection (at shutdown).
    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.close().await;
        }
    }

    /// Execute `query` (a write with `RETURNING`) and return its first row, committed.
    pub async fn returning_one<M: FromQueryResult + FromRow>(
        &self,
        db: &DatabaseConnection,
        query: &impl StatementBuilder,
    ) -> Result<Option<M>, DbErr> {
        let stmt = query.build(&db.get_database_backend());
        match &self.writer {
            Some(writer) => writer
                .write(stmt)
                .await?
                .first()
                .map(M::from_row)
                .transpose(),
            None => db
                .query_all_raw(stmt)
                .await?
                .first()
                .map(|row| M::from_query_result(row, ""))
                .transpose(),
        }
    }
}
