//! The run queue's, the leases' and the cache's indexes hold only the rows they are read
//! for, and the idempotency index only runs started with a key.
//!
//! Every run is inserted, then updated once at its end, and each write changes every
//! index whose columns it touches: with the first schema a run cost about 19 pages of the
//! write-ahead log when written alone (one insert, one final update), most of them index
//! pages. As partial indexes, a finished run leaves the queue's and the leases' indexes,
//! a run enters the cache's only when it succeeds, and a run without an
//! `Idempotency-Key` enters no idempotency index at all: about 12 pages per run, and
//! indexes that stay as small as the number of runs in flight. The reads these indexes
//! serve name the status as a literal (`store::runs::status_is`), as a planner needs to
//! use a partial index; `runs::pool::tests::plans` checks that they do. Uniqueness is
//! unchanged: NULL keys never conflicted.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, the index as the first schema made it, the index now).
const INDEXES: [(&str, &str, &str); 4] = [
    (
        "idx_runs_queue",
        "CREATE INDEX idx_runs_queue ON runs (status, provider, queued_at)",
        "CREATE INDEX idx_runs_queue ON runs (provider, queued_at) WHERE status = 'queued'",
    ),
    (
        "idx_runs_lease",
        "CREATE INDEX idx_runs_lease ON runs (status, lease_expires_at)",
        "CREATE INDEX idx_runs_lease ON runs (lease_expires_at) WHERE status = 'running'",
    ),
    (
        "idx_runs_key",
        "CREATE INDEX idx_runs_key ON runs (run_key, status, finished_at)",
        "CREATE INDEX idx_runs_key ON runs (run_key, finished_at) WHERE status = 'succeeded'",
    ),
    (
        "ux_runs_idempotency",
        "CREATE UNIQUE INDEX ux_runs_idempotency ON runs (created_by, idempotency_key)",
        "CREATE UNIQUE INDEX ux_runs_idempotency ON runs (created_by, idempotency_key) \
         WHERE idempotency_key IS NOT NULL",
    ),
];

async fn replace(manager: &SchemaManager<'_>, new: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for (name, old_sql, new_sql) in INDEXES {
        // The same statements on SQLite and PostgreSQL.
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
            .await?;
        db.execute_unprepared(if new { new_sql } else { old_sql })
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too (sea-orm's default there is none): all four indexes
    /// change together or not at all, and every statement is on one connection. Across
    /// the pool's connections, a `CREATE INDEX` on one that has not yet read the schema
    /// since the `DROP INDEX` on another fails with "already exists".
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, false).await
    }
}
