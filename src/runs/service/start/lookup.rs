//! A start's lookups of runs it may answer with instead of calling the provider: an
//! earlier request with the same `Idempotency-Key`, a cached success or an identical run in
//! flight. Read through `store::sqlite_reads` (inline on SQLite).

use crate::accounts::service::Identity;
use crate::error::Result;
use crate::runs::RunStatus;
use crate::store::sqlite_reads::Reads;
use crate::store::{db_error, runs};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Statement,
};
use uuid::Uuid;

pub(super) async fn by_idempotency_key(
    reads: &Reads,
    db: &DatabaseConnection,
    who: &Identity,
    key: &str,
) -> Result<Option<runs::Model>> {
    reads
        .one(db, &idempotency_statement(who.user.id, key))
        .await
        .map_err(db_error("run by idempotency key"))
}

/// [`by_idempotency_key`]'s query (`ux_runs_idempotency`, which holds only the runs
/// started with a key: `key = ?` implies `key IS NOT NULL` to both planners).
pub(crate) fn idempotency_statement(user: Uuid, key: &str) -> sea_orm::sea_query::SelectStatement {
    runs::Entity::find()
        .filter(runs::Column::CreatedBy.eq(user))
        .filter(runs::Column::IdempotencyKey.eq(key))
        .limit(1)
        .into_query()
}

/// The run a start with this key answers with instead of calling the provider: a
/// success since `cache_since` (when the cache applies), else an identical run queued or
/// running.
pub(super) async fn same_key(
    reads: &Reads,
    db: &DatabaseConnection,
    project: Uuid,
    key: &str,
    cache_since: Option<DateTime<Utc>>,
) -> Result<Option<runs::Model>> {
    let stmt = same_key_statement(db.get_database_backend(), project, key, cache_since);
    reads
        .one_statement(db, stmt)
        .await
        .map_err(db_error("runs with the same key"))
}

/// [`same_key`]'s statement: one snapshot, two bounded index seeks. The latest success
/// with this key since `cache_since` (`idx_runs_key`, of successes only: key, then a
/// range of `finished_at` read newest first) and the run in flight (`ux_runs_in_flight`:
/// at most one), the success first ('succeeded' > 'running' > 'queued'). One condition
/// with an OR would read every older success with this key, newest first, before the run
/// in flight; on SQLite this runs on the caller's thread (`store::sqlite_reads`). The
/// statuses are written into the SQL, so the planners can use the partial indexes.
pub(crate) fn same_key_statement(
    backend: DatabaseBackend,
    project: Uuid,
    key: &str,
    cache_since: Option<DateTime<Utc>>,
) -> Statement {
    let (queued, running, succeeded) = (
        RunStatus::Queued.as_str(),
        RunStatus::Running.as_str(),
        RunStatus::Succeeded.as_str(),
    );
    let at = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let live = |first: usize| {
        format!(
            "SELECT * FROM runs WHERE project_id = {} AND run_key = {} \
             AND status IN ('{queued}', '{running}')",
            at(first),
            at(first + 1)
        )
    };
    match cache_since {
        None => Statement::from_sql_and_values(
            backend,
            format!("{} LIMIT 1", live(1)),
            [project.into(), key.into()],
        ),
        Some(since) => Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT * FROM (SELECT * FROM runs WHERE run_key = {} AND status = '{succeeded}' \
                 AND finished_at >= {} AND project_id = {} ORDER BY finished_at DESC LIMIT 1) AS hit \
                 UNION ALL SELECT * FROM ({} LIMIT 1) AS live ORDER BY status DESC LIMIT 1",
                at(1),
                at(2),
                at(3),
                live(4)
            ),
            [
                key.into(),
                since.into(),
                project.into(),
                project.into(),
                key.into(),
            ],
        ),
    }
}
