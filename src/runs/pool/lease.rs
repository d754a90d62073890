//! Keeping the store true while runs execute: leases renewed by a heartbeat (which also
//! picks up cancel requests), expired leases recovered by the reaper, partial output
//! written by the flusher, and running runs handed back to the queue at shutdown.

use super::Executing;
use crate::engine::Engine;
use crate::runs::bus::Live;
use crate::runs::service::summary;
use crate::runs::{codes, RunStatus};
use crate::store::runs;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sea_orm::{ColumnTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// The ids of runs matching `condition`. On PostgreSQL they are locked in id order, so two
/// multi-row updates never wait on each other in a cycle (deadlock); with `skip_locked`,
/// rows another transaction holds are left out. SQLite has one writer and no row locks,
/// and is not asked for an order it would scan the primary key for.
pub(super) fn locked_ids(
    backend: DatabaseBackend,
    condition: sea_orm::sea_query::SimpleExpr,
    skip_locked: bool,
) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(condition);
    if backend == DatabaseBackend::Postgres {
        q.order_by(runs::Column::Id, Order::Asc);
        if skip_locked {
            q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        } else {
            q.lock(LockType::Update);
        }
    }
    q
}

/// Running runs whose lease this instance holds (`idx_runs_lease`, a partial index of
/// the running runs only).
pub(super) fn held_by(instance: &str) -> sea_orm::sea_query::SimpleExpr {
    runs::status_is(RunStatus::Running).and(Expr::col(runs::Column::LeaseOwner).eq(instance))
}

/// Running runs whose lease ran out before `now` (`idx_runs_lease`).
pub(super) fn expired(now: chrono::DateTime<Utc>) -> sea_orm::sea_query::SimpleExpr {
    runs::status_is(RunStatus::Running).and(Expr::col(runs::Column::LeaseExpiresAt).lt(now))
}

/// Put this process's running runs back in the queue (shutdown); the interrupted attempt
/// does not count.
pub(super) async fn release(engine: &Engine) -> Result<u64, DbErr> {
    let r = runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Queued.as_str()),
        )
        .col_expr(
            runs::Column::Attempts,
            Expr::col(runs::Column::Attempts).sub(1),
        )
        .col_expr(
            runs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            runs::Column::LeaseExpiresAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(runs::Column::Output, Expr::value(""))
        .filter(held_by(&engine.runtime().instance))
        .exec(engine.db())
        .await?;
    Ok(r.rows_affected)
}

pub(super) async fn heartbeat(
    engine: Engine,
    mut stop: watch::Receiver<bool>,
    executing: Arc<Executing>,
) {
    let every = (engine.config().runs.lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let settings = &engine.config().runs;
        let until = Utc::now()
            + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::seconds(30));
        let me = engine.runtime().instance.clone();
        let mine = locked_ids(engine.db().get_database_backend(), held_by(&me), false);
        let renewed = runs::Entity::update_many()
            .col_expr(runs::Column::LeaseExpiresAt, Expr::value(until))
            .filter(runs::Column::Id.in_subquery(mine))
            .filter(runs::Column::LeaseOwner.eq(me.clone()))
            .exec(engine.db())
            .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "renewing run leases failed");
        }
        // Cancel requests that came in through another instance (or the database).
        let flagged = runs::Entity::find()
            .filter(held_by(&me))
            .filter(runs::Column::CancelRequested.eq(true))
            .all(engine.db())
            .await;
        if let Ok(flagged) = flagged {
            let map = executing.lock().map(|m| m.clone()).unwrap_or_default();
            for m in flagged {
                if let Some(live) = map.get(&m.id) {
                    live.cancel();
                }
            }
        }
    }
}

pub(super) async fn reaper(engine: Engine, mut stop: watch::Receiver<bool>) {
    let every =
        (engine.config().runs.lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match recover(&engine).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(runs = n, "runs with expired leases re-queued");
                engine.runtime().queued();
            }
            Err(e) => tracing::warn!(error = %e, "recovering expired runs failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs whose worker stopped renewing the lease: canceled if asked, failed after the last
/// attempt, queued again otherwise. Returns how many were re-queued.
pub async fn recover(engine: &Engine) -> Result<u64, DbErr> {
    let db = engine.db();
    let now = Utc::now();
    let max = engine.config().runs.max_attempts;
    let none_ts = Option::<chrono::DateTime<Utc>>::None;
    let backend = db.get_database_backend();
    // Rows a live worker is writing right now are skipped (PostgreSQL): not expired.
    let expired_and = |extra: sea_orm::sea_query::SimpleExpr| {
        runs::Entity::update_many()
            .filter(runs::Column::Id.in_subquery(locked_ids(
                backend,
                expired(now).and(extra),
                true,
            )))
            .filter(runs::status_is(RunStatus::Running))
            .filter(runs::Column::LeaseExpiresAt.lt(now))
            .col_expr(
                runs::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(runs::Column::LeaseExpiresAt, Expr::value(none_ts))
    };
    let canceled = expired_and(Expr::col(runs::Column::CancelRequested).eq(true))
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Canceled.as_str()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .exec_with_returning(db)
        .await?;
    let failed = expired_and(Expr::col(runs::Column::Attempts).gte(max))
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Failed.as_str()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .col_expr(runs::Column::ErrorCode, Expr::value(codes::WORKER_LOST))
        .col_expr(
            runs::Column::ErrorMessage,
            Expr::value(format!(
                "the worker running this run stopped; gave up after {max} attempts"
            )),
        )
        .exec_with_returning(db)
        .await?;
    let requeued = expired_and(Expr::val(1).eq(1))
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Queued.as_str()),
        )
        .col_expr(runs::Column::Output, Expr::value(""))
        .exec(db)
        .await?;
    let runtime = engine.runtime();
    for m in canceled.iter().chain(failed.iter()) {
        let name = runtime.prompt_name(engine, m.prompt_id).await;
        runtime.bus.publish_user(m.created_by, summary(m, &name));
    }
    Ok(requeued.rows_affected)
}

/// Write the partial output of streaming runs, all in one transaction per interval.
pub(super) async fn flusher(
    engine: Engine,
    mut stop: watch::Receiver<bool>,
    executing: Arc<Executing>,
) {
    let every = engine.config().runs.flush_interval;
    let mut flushed: HashMap<Uuid, usize> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let live: Vec<Arc<Live>> = executing
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        flushed.retain(|id, _| live.iter().any(|l| l.id == *id));
        let dirty: Vec<(Uuid, i32, String)> = live
            .iter()
            .filter(|l| flushed.get(&l.id) != Some(&l.output_len()))
            .map(|l| (l.id, l.attempts(), l.output()))
            .collect();
        if dirty.is_empty() {
            continue;
        }
        if let Err(e) = flush(&engine, &dirty).await {
            tracing::warn!(error = %e, runs = dirty.len(), "writing partial output failed");
            continue;
        }
        for (id, _, out) in dirty {
            flushed.insert(id, out.len());
        }
    }
}

async fn flush(engine: &Engine, dirty: &[(Uuid, i32, String)]) -> Result<(), DbErr> {
    let me = engine.runtime().instance.clone();
    let write = |id: Uuid, attempt: i32, output: String| {
        runs::Entity::update_many()
            .col_expr(runs::Column::Output, Expr::value(output))
            .filter(runs::Column::Id.eq(id))
            .filter(runs::Column::LeaseOwner.eq(me.clone()))
            .filter(runs::Column::Attempts.eq(attempt))
            .filter(runs::status_is(RunStatus::Running))
    };
    if engine.db().get_database_backend() == DatabaseBackend::Sqlite {
        // One writer anyway: one transaction for all is far cheaper than one each.
        let txn = crate::store::begin_write(engine.db()).await?;
        for (id, attempt, output) in dirty {
            write(*id, *attempt, output.clone()).exec(&txn).await?;
        }
        return txn.commit().await;
    }
    // PostgreSQL: one row per statement, so no lock is held while waiting for another.
    for (id, attempt, output) in dirty {
        write(*id, *attempt, output.clone())
            .exec(engine.db())
            .await?;
    }
    Ok(())
}
