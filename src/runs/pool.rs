//! The worker pool: claims queued runs from the store and executes them against providers.
//!
//! The database is the source of truth. A dispatcher claims `queued` rows in batches, as
//! far as the global and per-provider limits allow, with a lease in this process's name;
//! a heartbeat keeps the leases of running runs alive and picks up cancel requests; a
//! reaper re-queues runs whose lease expired (their worker died) or fails them after the
//! last attempt; a flusher writes partial output of streaming runs, batched, once per
//! interval. Retryable provider errors back off (honouring `Retry-After`), permanent ones
//! fail at once. At shutdown the dispatcher stops claiming, in-flight runs get a grace
//! period, and whatever is still running goes back to the queue for the next start.
//!
//! Here: the shared runtime, start/stop and the dispatcher with its claim query. Next
//! door: `worker` (executing one run) and `lease` (heartbeat, reaper, flusher, release).

mod lease;
mod opening;
mod runtime;
mod worker;

pub(crate) use opening::chat_request;
use opening::Opening;
pub use runtime::Runtime;
use runtime::{Claimed, Handoff};

pub use lease::recover;
use lease::{flusher, heartbeat, reaper, release};
use worker::{execute, fail_after_panic};

use super::bus::Live;
use super::RunStatus;
use crate::engine::Engine;
use crate::store::runs;
use chrono::Utc;
use futures::FutureExt;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Statement};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

/// Most runs claimed in one query.
const CLAIM_BATCH: usize = 64;

/// Runs this process is executing.
pub(crate) type Executing = Mutex<HashMap<Uuid, Arc<Live>>>;

/// The running pool; [`Workers::shutdown`] stops it.
pub struct Workers {
    stop: watch::Sender<bool>,
    dispatcher: tokio::task::JoinHandle<()>,
    helpers: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Start the dispatcher, heartbeat, reaper and flusher.
    pub fn start(engine: Engine) -> Self {
        let stop = watch::channel(false).0;
        let executing: Arc<Executing> = Arc::default();
        let settings = &engine.config().runs;
        let limits: HashMap<String, Arc<Semaphore>> = engine
            .providers()
            .catalog()
            .into_iter()
            .map(|p| {
                let permits = settings.limit_for(&p.name);
                (p.name, Arc::new(Semaphore::new(permits)))
            })
            .collect();
        let (inbox, claimed) = mpsc::unbounded_channel();
        let handoff = Handoff {
            global: Arc::new(Semaphore::new(settings.concurrency)),
            limits: Arc::new(limits),
            inbox,
            round: Arc::default(),
        };
        if let Ok(mut slot) = engine.runtime().handoff.lock() {
            *slot = Some(handoff.clone());
        }
        let dispatcher = tokio::spawn(dispatch(
            engine.clone(),
            stop.subscribe(),
            executing.clone(),
            handoff,
            claimed,
        ));
        let helpers = vec![
            tokio::spawn(heartbeat(
                engine.clone(),
                stop.subscribe(),
                executing.clone(),
            )),
            tokio::spawn(reaper(engine.clone(), stop.subscribe())),
            tokio::spawn(flusher(engine, stop.subscribe(), executing)),
        ];
        Self {
            stop,
            dispatcher,
            helpers,
        }
    }

    /// Stop claiming, let in-flight runs finish within the grace period, and put the rest
    /// back in the queue.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.dispatcher.await {
            tracing::error!(error = %e, "run dispatcher ended badly");
        }
        for h in self.helpers {
            h.abort();
            let _ = h.await;
        }
    }
}

/// Up to `most` pairs of a global and a provider permit, as many as are free now.
fn take_permits(
    global: &Arc<Semaphore>,
    provider: &Arc<Semaphore>,
    most: usize,
) -> Vec<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
    let mut held = Vec::new();
    while held.len() < most {
        let Ok(g) = global.clone().try_acquire_owned() else {
            break;
        };
        let Ok(l) = provider.clone().try_acquire_owned() else {
            break;
        };
        held.push((g, l));
    }
    held
}

/// Run one claimed run on the pool's task set; the permits are held until it ends.
fn spawn_worker(
    set: &mut JoinSet<()>,
    engine: &Engine,
    executing: &Arc<Executing>,
    m: runs::Model,
    permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    opening: Option<Opening>,
) {
    let engine = engine.clone();
    let executing = executing.clone();
    set.spawn(async move {
        let id = m.id;
        let run = AssertUnwindSafe(execute(&engine, m, opening, &executing)).catch_unwind();
        if run.await.is_err() {
            tracing::error!(run = %id, "run worker panicked");
            fail_after_panic(&engine, id, &executing).await;
        }
        drop(permits);
    });
}

async fn dispatch(
    engine: Engine,
    mut stop: watch::Receiver<bool>,
    executing: Arc<Executing>,
    handoff: Handoff,
    mut claimed_at_start: mpsc::UnboundedReceiver<Claimed>,
) {
    let settings = engine.config().runs.clone();
    let runtime = engine.runtime_arc();
    let Handoff {
        global,
        limits,
        round,
        ..
    } = handoff;
    let mut providers: Vec<String> = limits.keys().cloned().collect();
    providers.sort();
    // PostgreSQL's queue is shared by every instance, and no instance is told of runs
    // another one leaves queued: look whenever this process has room. A claim there does
    // not block the writes of others (SKIP LOCKED).
    let always_look = engine.db().get_database_backend() == DatabaseBackend::Postgres;
    let mut set = JoinSet::new();
    tracing::info!(instance = %runtime.instance, concurrency = settings.concurrency, "run workers started");
    loop {
        while set.try_join_next().is_some() {}
        while let Ok(c) = claimed_at_start.try_recv() {
            spawn_worker(&mut set, &engine, &executing, c.run, c.permits, c.opening);
        }
        if *stop.borrow() {
            break;
        }
        let look = runtime.backlog.swap(false, Ordering::SeqCst) || always_look;
        let mut filled = false;
        // A provider whose queue was not looked at (no room, or the claim failed).
        let mut unseen = false;
        for p in providers.iter().filter(|_| look) {
            // Permits first, then the claim: starts take permits too (a run with room goes
            // straight to a worker), so a claimed row must never wait for one. A start that
            // finds no permit meanwhile waits for this round (declared first: dropped last).
            let claiming = round.lock().await;
            let mut permits = take_permits(&global, &limits[p], CLAIM_BATCH);
            if permits.is_empty() {
                unseen = true;
                continue;
            }
            let want = permits.len();
            runtime.claims.fetch_add(1, Ordering::Relaxed);
            match claim(&engine, p, want).await {
                Ok(claimed) => {
                    filled |= claimed.len() == want;
                    for m in claimed {
                        // Claimed again while a worker here still streams it: that worker
                        // lost its lease (a stalled heartbeat). Stop it; the attempt
                        // number fences off anything it would still write.
                        let stale = executing.lock().ok().and_then(|mut map| map.remove(&m.id));
                        if let Some(old) = stale {
                            tracing::warn!(run = %m.id, "run re-claimed from a worker that lost its lease");
                            old.cancel();
                            runtime.bus.close_if_same(m.id, &old);
                        }
                        let Some(held) = permits.pop() else {
                            // The claim returns at most `want` rows; if not, the lease
                            // runs out and the reaper re-queues the run.
                            tracing::error!(run = %m.id, "no permit for a claimed run");
                            continue;
                        };
                        spawn_worker(&mut set, &engine, &executing, m, held, None);
                    }
                }
                Err(e) => {
                    unseen = true;
                    tracing::warn!(provider = %p, error = %e, "claiming runs failed");
                    drop(permits);
                    drop(claiming);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if filled || unseen {
            // More may be waiting (a full batch), or what waits was not seen.
            runtime.backlog.store(true, Ordering::SeqCst);
        }
        if filled {
            continue;
        }
        tokio::select! {
            Some(c) = claimed_at_start.recv() => {
                spawn_worker(&mut set, &engine, &executing, c.run, c.permits, c.opening);
            }
            _ = runtime.wake.notified() => {}
            // What put runs in the queue without a word (another process on the same
            // database) is seen within this.
            _ = tokio::time::sleep(settings.queue_poll) => runtime.backlog.store(true, Ordering::SeqCst),
            _ = stop.changed() => {}
            Some(_) = set.join_next(), if !set.is_empty() => {}
        }
    }
    // No more runs straight from start; the ones already handed over run like the rest.
    if let Ok(mut slot) = runtime.handoff.lock() {
        *slot = None;
    }
    claimed_at_start.close();
    while let Some(c) = claimed_at_start.recv().await {
        spawn_worker(&mut set, &engine, &executing, c.run, c.permits, c.opening);
    }
    let in_flight = set.len();
    if in_flight > 0 {
        tracing::info!(
            in_flight,
            grace_ms = settings.shutdown_grace.as_millis() as u64,
            "waiting for in-flight runs"
        );
        let drain = async { while set.join_next().await.is_some() {} };
        if tokio::time::timeout(settings.shutdown_grace, drain)
            .await
            .is_err()
        {
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
    }
    match release(&engine).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(runs = n, "in-flight runs returned to the queue"),
        Err(e) => {
            tracing::error!(error = %e, "returning runs to the queue failed; their leases will expire")
        }
    }
    let ids: Vec<Uuid> = executing
        .lock()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    for id in ids {
        runtime.bus.close(id);
    }
}

/// Claim up to `limit` queued runs of one provider.
async fn claim(engine: &Engine, provider: &str, limit: usize) -> Result<Vec<runs::Model>, DbErr> {
    let db = engine.db();
    let settings = &engine.config().runs;
    let now = Utc::now();
    let until =
        now + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::seconds(30));
    let instance = engine.runtime().instance.clone();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Several instances share one queue without waiting on each other (SKIP LOCKED).
        // The pick is a materialised CTE: as `id IN (SELECT … LIMIT n FOR UPDATE SKIP
        // LOCKED)` PostgreSQL may run the subquery more than once and update more than
        // `n` rows (seen: 4 rows claimed for 1 permit).
        let sql = r#"WITH picked AS MATERIALIZED (
                SELECT "id" FROM "runs"
                WHERE "status" = 'queued' AND "provider" = $1
                ORDER BY "queued_at" ASC
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            )
            UPDATE "runs" SET
                "status" = 'running',
                "attempts" = "runs"."attempts" + 1,
                "lease_owner" = $3,
                "lease_expires_at" = $4,
                "started_at" = $5,
                "output" = ''
            FROM picked
            WHERE "runs"."id" = picked."id" AND "runs"."status" = 'queued'
            RETURNING "runs".*"#;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        return runs::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                [
                    provider.into(),
                    limit.into(),
                    instance.into(),
                    until.into(),
                    now.into(),
                ],
            ))
            .all(db)
            .await;
    }
    // SQLite: one writer, and the uncorrelated subquery is evaluated once.
    runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Running.as_str()),
        )
        .col_expr(
            runs::Column::Attempts,
            Expr::col(runs::Column::Attempts).add(1),
        )
        .col_expr(runs::Column::LeaseOwner, Expr::value(instance))
        .col_expr(runs::Column::LeaseExpiresAt, Expr::value(until))
        .col_expr(runs::Column::StartedAt, Expr::value(now))
        .col_expr(runs::Column::Output, Expr::value(""))
        .filter(runs::Column::Id.in_subquery(oldest_queued(provider, limit)))
        .filter(runs::status_is(RunStatus::Queued))
        .exec_with_returning(db)
        .await
}

/// The ids of the `limit` oldest queued runs of one provider (`idx_runs_queue`).
fn oldest_queued(provider: &str, limit: usize) -> sea_orm::sea_query::SelectStatement {
    let mut oldest = Query::select();
    oldest
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(runs::status_is(RunStatus::Queued))
        .and_where(runs::Column::Provider.eq(provider))
        .order_by(runs::Column::QueuedAt, Order::Asc)
        .limit(limit as u64);
    oldest
}

#[cfg(test)]
mod tests;
