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

use super::bus::Live;
use super::service::summary;
use super::{codes, EventKind, RunParams, RunStatus};
use crate::config::RunSettings;
use crate::engine::Engine;
use crate::providers::{ChatRequest, Delta, Provider, ProviderError, Retry, Usage};
use crate::store::runs;
use crate::versions::Message;
use chrono::Utc;
use futures::{FutureExt, StreamExt};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sea_orm::{ColumnTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

/// Most runs claimed in one query.
const CLAIM_BATCH: usize = 64;
/// How often the dispatcher looks at the queue when nothing wakes it.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Longest `Retry-After` honoured; longer asks are capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What the engine shares with the pool: the bus, the wake-up call and this process's
/// lease name.
pub struct Runtime {
    pub bus: super::bus::Bus,
    pub wake: Notify,
    pub instance: String,
    /// Prompt names for the summaries workers publish.
    names: Mutex<HashMap<Uuid, String>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            bus: Default::default(),
            wake: Notify::new(),
            instance: format!("w-{}", Uuid::new_v4().simple()),
            names: Mutex::new(HashMap::new()),
        }
    }
}

impl Runtime {
    async fn prompt_name(&self, engine: &Engine, prompt: Uuid) -> String {
        if let Some(n) = self.names.lock().ok().and_then(|m| m.get(&prompt).cloned()) {
            return n;
        }
        let name = super::service::prompt_name(engine.db(), prompt)
            .await
            .unwrap_or_default();
        if let Ok(mut m) = self.names.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(prompt, name.clone());
        }
        name
    }
}

/// Runs this process is executing.
type Executing = Mutex<HashMap<Uuid, Arc<Live>>>;

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
        let dispatcher = tokio::spawn(dispatch(
            engine.clone(),
            stop.subscribe(),
            executing.clone(),
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

async fn dispatch(engine: Engine, mut stop: watch::Receiver<bool>, executing: Arc<Executing>) {
    let settings = engine.config().runs.clone();
    let runtime = engine.runtime_arc();
    let global = Arc::new(Semaphore::new(settings.concurrency));
    let providers: Vec<String> = engine
        .providers()
        .catalog()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let limits: HashMap<String, Arc<Semaphore>> = providers
        .iter()
        .map(|p| (p.clone(), Arc::new(Semaphore::new(settings.limit_for(p)))))
        .collect();
    let mut set = JoinSet::new();
    tracing::info!(instance = %runtime.instance, concurrency = settings.concurrency, "run workers started");
    loop {
        while set.try_join_next().is_some() {}
        if *stop.borrow() {
            break;
        }
        let mut filled = false;
        for p in &providers {
            let limit = &limits[p];
            let free = global.available_permits().min(limit.available_permits());
            if free == 0 {
                continue;
            }
            let want = free.min(CLAIM_BATCH);
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
                        let (Ok(g), Ok(l)) = (
                            global.clone().try_acquire_owned(),
                            limit.clone().try_acquire_owned(),
                        ) else {
                            // Only this loop takes permits, so they are there; if not,
                            // the lease runs out and the reaper re-queues the run.
                            tracing::error!(run = %m.id, "no permit for a claimed run");
                            continue;
                        };
                        let engine = engine.clone();
                        let executing = executing.clone();
                        set.spawn(async move {
                            let id = m.id;
                            let run =
                                AssertUnwindSafe(execute(&engine, m, &executing)).catch_unwind();
                            if run.await.is_err() {
                                tracing::error!(run = %id, "run worker panicked");
                                fail_after_panic(&engine, id, &executing).await;
                            }
                            drop((g, l));
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(provider = %p, error = %e, "claiming runs failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if filled {
            continue;
        }
        tokio::select! {
            _ = runtime.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = stop.changed() => {}
            Some(_) = set.join_next(), if !set.is_empty() => {}
        }
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
    let mut oldest = Query::select();
    oldest
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(runs::Column::Status.eq(RunStatus::Queued.as_str()))
        .and_where(runs::Column::Provider.eq(provider))
        .order_by(runs::Column::QueuedAt, Order::Asc)
        .limit(limit as u64);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Several instances share one queue without waiting on each other.
        oldest.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Running.as_str()),
        )
        .col_expr(
            runs::Column::Attempts,
            Expr::col(runs::Column::Attempts).add(1),
        )
        .col_expr(
            runs::Column::LeaseOwner,
            Expr::value(engine.runtime().instance.clone()),
        )
        .col_expr(runs::Column::LeaseExpiresAt, Expr::value(until))
        .col_expr(runs::Column::StartedAt, Expr::value(now))
        .col_expr(runs::Column::Output, Expr::value(""))
        .filter(runs::Column::Id.in_subquery(oldest))
        .filter(runs::Column::Status.eq(RunStatus::Queued.as_str()))
        .exec_with_returning(db)
        .await
}

/// The ids of runs matching `condition`. On PostgreSQL they are locked in id order, so two
/// multi-row updates never wait on each other in a cycle (deadlock); with `skip_locked`,
/// rows another transaction holds are left out.
fn locked_ids(
    backend: DatabaseBackend,
    condition: sea_orm::sea_query::SimpleExpr,
    skip_locked: bool,
) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(condition)
        .order_by(runs::Column::Id, Order::Asc);
    if backend == DatabaseBackend::Postgres {
        if skip_locked {
            q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        } else {
            q.lock(LockType::Update);
        }
    }
    q
}

/// Put this process's running runs back in the queue (shutdown); the interrupted attempt
/// does not count.
async fn release(engine: &Engine) -> Result<u64, DbErr> {
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
        .filter(runs::Column::LeaseOwner.eq(engine.runtime().instance.clone()))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(engine.db())
        .await?;
    Ok(r.rows_affected)
}

async fn heartbeat(engine: Engine, mut stop: watch::Receiver<bool>, executing: Arc<Executing>) {
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
        let mine = locked_ids(
            engine.db().get_database_backend(),
            Expr::col(runs::Column::LeaseOwner)
                .eq(me.clone())
                .and(Expr::col(runs::Column::Status).eq(RunStatus::Running.as_str())),
            false,
        );
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
            .filter(runs::Column::LeaseOwner.eq(me))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
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

async fn reaper(engine: Engine, mut stop: watch::Receiver<bool>) {
    let every =
        (engine.config().runs.lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match recover(&engine).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(runs = n, "runs with expired leases re-queued");
                engine.runtime().wake.notify_one();
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
    let is_expired = || {
        Expr::col(runs::Column::Status)
            .eq(RunStatus::Running.as_str())
            .and(Expr::col(runs::Column::LeaseExpiresAt).lt(now))
    };
    // Rows a live worker is writing right now are skipped (PostgreSQL): not expired.
    let expired = |extra: sea_orm::sea_query::SimpleExpr| {
        runs::Entity::update_many()
            .filter(runs::Column::Id.in_subquery(locked_ids(
                backend,
                is_expired().and(extra),
                true,
            )))
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
            .filter(runs::Column::LeaseExpiresAt.lt(now))
            .col_expr(
                runs::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(runs::Column::LeaseExpiresAt, Expr::value(none_ts))
    };
    let canceled = expired(Expr::col(runs::Column::CancelRequested).eq(true))
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Canceled.as_str()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .exec_with_returning(db)
        .await?;
    let failed = expired(Expr::col(runs::Column::Attempts).gte(max))
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
    let requeued = expired(Expr::val(1).eq(1))
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
async fn flusher(engine: Engine, mut stop: watch::Receiver<bool>, executing: Arc<Executing>) {
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
            .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
    };
    if engine.db().get_database_backend() == DatabaseBackend::Sqlite {
        // One writer anyway: one transaction for all is far cheaper than one each.
        let txn = engine.db().begin().await?;
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

/// How one attempt went.
enum Outcome {
    Done(Done),
    Failed(Failure),
    Canceled,
}

struct Done {
    usage: Option<Usage>,
    provider_model: Option<String>,
    ttft: Option<Duration>,
    elapsed: Duration,
}

struct Failure {
    code: &'static str,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    elapsed: Duration,
}

fn classify(e: ProviderError, elapsed: Duration) -> Failure {
    let code = match e.status {
        Some(429) => codes::RATE_LIMITED,
        Some(401) | Some(403) => codes::PROVIDER_AUTH,
        Some(s) if s >= 500 => codes::PROVIDER_UNAVAILABLE,
        Some(_) => codes::PROVIDER_REJECTED,
        None if e.retry == Retry::Retryable => codes::CONNECTION_ERROR,
        None => codes::PROVIDER_PROTOCOL,
    };
    Failure {
        code,
        message: e.message,
        retryable: e.retry == Retry::Retryable,
        retry_after: e.retry_after,
        elapsed,
    }
}

fn timeout(what: &str, limit: Duration, elapsed: Duration) -> Failure {
    Failure {
        code: codes::TIMEOUT,
        message: format!("{what} within {} ms", limit.as_millis()),
        retryable: true,
        retry_after: None,
        elapsed,
    }
}

/// Stream one attempt into the live entry.
async fn attempt(
    client: &dyn Provider,
    request: ChatRequest,
    live: &Live,
    settings: &RunSettings,
    cancel: &mut watch::Receiver<bool>,
) -> Outcome {
    let t0 = Instant::now();
    let total_deadline = t0 + settings.total_timeout;
    let first_deadline = (t0 + settings.first_byte_timeout).min(total_deadline);
    let mut stream = tokio::select! {
        biased;
        _ = cancel.wait_for(|c| *c) => return Outcome::Canceled,
        r = tokio::time::timeout_at(first_deadline, client.stream(request)) => match r {
            Err(_) => return Outcome::Failed(timeout("no response", settings.first_byte_timeout, t0.elapsed())),
            Ok(Err(e)) => return Outcome::Failed(classify(e, t0.elapsed())),
            Ok(Ok(s)) => s,
        },
    };
    let mut first = false;
    let mut done = Done {
        usage: None,
        provider_model: None,
        ttft: None,
        elapsed: Duration::ZERO,
    };
    loop {
        let deadline = if first {
            total_deadline
        } else {
            first_deadline
        };
        let item = tokio::select! {
            biased;
            _ = cancel.wait_for(|c| *c) => return Outcome::Canceled,
            r = tokio::time::timeout_at(deadline, stream.next()) => match r {
                Err(_) if first => return Outcome::Failed(timeout("the answer did not finish", settings.total_timeout, t0.elapsed())),
                Err(_) => return Outcome::Failed(timeout("no first token", settings.first_byte_timeout, t0.elapsed())),
                Ok(None) => break,
                Ok(Some(item)) => item,
            },
        };
        first = true;
        match item {
            Err(e) => return Outcome::Failed(classify(e, t0.elapsed())),
            Ok(Delta::Model(m)) => done.provider_model = Some(m.chars().take(200).collect()),
            Ok(Delta::Text(text)) => {
                if done.ttft.is_none() {
                    done.ttft = Some(t0.elapsed());
                }
                live.emit(EventKind::Delta { text });
            }
            Ok(Delta::Usage(u)) => {
                done.usage = Some(u);
                live.emit(EventKind::Usage {
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                });
            }
        }
    }
    done.elapsed = t0.elapsed();
    Outcome::Done(done)
}

/// Execute one claimed run to its end (or until it is handed back).
async fn execute(engine: &Engine, m: runs::Model, executing: &Executing) {
    let runtime = engine.runtime();
    let settings = &engine.config().runs;
    let live = runtime
        .bus
        .open(m.id, m.created_by, RunStatus::Running, m.attempts);
    if let Ok(mut map) = executing.lock() {
        map.insert(m.id, live.clone());
    }
    let name = runtime.prompt_name(engine, m.prompt_id).await;
    let mut attempt_no = m.attempts;
    live.emit(EventKind::Started {
        attempt: attempt_no,
    });
    runtime.bus.publish_user(m.created_by, summary(&m, &name));

    let end = match request_for(engine, &m) {
        Err(f) => End::Failed(f),
        Ok((client, request)) => {
            let mut cancel = live.canceled();
            loop {
                match attempt(&*client, request.clone(), &live, settings, &mut cancel).await {
                    Outcome::Done(d) => break End::Succeeded(d),
                    Outcome::Canceled => break End::Canceled,
                    Outcome::Failed(f) if f.retryable && attempt_no < settings.max_attempts => {
                        let delay = f
                            .retry_after
                            .map(|d| d.min(MAX_RETRY_AFTER))
                            .unwrap_or_else(|| settings.backoff_before(attempt_no + 1));
                        live.emit(EventKind::Retrying {
                            attempt: attempt_no + 1,
                            delay_ms: delay.as_millis() as u64,
                            code: f.code.to_owned(),
                            message: f.message.clone(),
                        });
                        tracing::info!(run = %m.id, attempt = attempt_no, code = f.code, delay_ms = delay.as_millis() as u64, "retrying run");
                        let canceled = tokio::select! {
                            _ = tokio::time::sleep(delay) => false,
                            _ = cancel.wait_for(|c| *c) => true,
                        };
                        if canceled {
                            break End::Canceled;
                        }
                        attempt_no += 1;
                        match next_attempt(engine, m.id, attempt_no).await {
                            Ok(true) => {}
                            Ok(false) => break End::Lost,
                            Err(e) => {
                                tracing::warn!(run = %m.id, error = %e, "recording a retry failed");
                                break End::Lost;
                            }
                        }
                        live.emit(EventKind::Started {
                            attempt: attempt_no,
                        });
                    }
                    Outcome::Failed(f) => break End::Failed(f),
                }
            }
        }
    };
    finish(engine, &m, &name, &live, attempt_no, end).await;
    if let Ok(mut map) = executing.lock() {
        if map.get(&m.id).is_some_and(|l| Arc::ptr_eq(l, &live)) {
            map.remove(&m.id);
        }
    }
}

enum End {
    Succeeded(Done),
    Failed(Failure),
    Canceled,
    /// The lease was lost (another worker took the run over): record nothing.
    Lost,
}

fn request_for(
    engine: &Engine,
    m: &runs::Model,
) -> Result<(Arc<dyn Provider>, ChatRequest), Failure> {
    let client = engine
        .providers()
        .get(&m.provider, &m.model)
        .map_err(|e| Failure {
            code: codes::PROVIDER_REJECTED,
            message: e.message,
            retryable: false,
            retry_after: None,
            elapsed: Duration::ZERO,
        })?;
    let messages: Vec<Message> = serde_json::from_str(&m.messages).unwrap_or_default();
    let params: RunParams = serde_json::from_str(&m.params).unwrap_or_default();
    Ok((
        client,
        ChatRequest {
            model: m.model.clone(),
            messages,
            temperature: params.temperature,
            top_p: params.top_p,
            max_tokens: params.max_tokens,
            stop: params.stop,
        },
    ))
}

/// Record the start of another attempt; false if this process no longer holds the run.
async fn next_attempt(engine: &Engine, id: Uuid, attempt_no: i32) -> Result<bool, DbErr> {
    let r = runs::Entity::update_many()
        .col_expr(runs::Column::Attempts, Expr::value(attempt_no))
        .col_expr(runs::Column::Output, Expr::value(""))
        .col_expr(runs::Column::StartedAt, Expr::value(Utc::now()))
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Attempts.eq(attempt_no - 1))
        .filter(runs::Column::LeaseOwner.eq(engine.runtime().instance.clone()))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(engine.db())
        .await?;
    Ok(r.rows_affected == 1)
}

/// Write the run's final state (only while this process holds its lease), then tell the
/// watchers and forget the live entry.
async fn finish(
    engine: &Engine,
    m: &runs::Model,
    name: &str,
    live: &Arc<Live>,
    attempt_no: i32,
    end: End,
) {
    let runtime = engine.runtime();
    if matches!(end, End::Lost) {
        runtime.bus.close_if_same(m.id, live);
        return;
    }
    let now = Utc::now();
    let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
    let none_s = Option::<String>::None;
    let mut update = runs::Entity::update_many()
        .col_expr(runs::Column::Output, Expr::value(live.output()))
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .col_expr(runs::Column::LeaseOwner, Expr::value(none_s.clone()))
        .col_expr(
            runs::Column::LeaseExpiresAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(runs::Column::Id.eq(m.id))
        .filter(runs::Column::LeaseOwner.eq(runtime.instance.clone()))
        .filter(runs::Column::Attempts.eq(attempt_no))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()));
    update = match &end {
        End::Succeeded(d) => {
            let cost = d.usage.and_then(|u| {
                let by = |model: &str| {
                    engine
                        .prices()
                        .cost(&m.provider, model, u.input_tokens, u.output_tokens)
                };
                d.provider_model
                    .as_deref()
                    .and_then(by)
                    .or_else(|| by(&m.model))
            });
            update
                .col_expr(
                    runs::Column::Status,
                    Expr::value(RunStatus::Succeeded.as_str()),
                )
                .col_expr(
                    runs::Column::InputTokens,
                    Expr::value(
                        d.usage
                            .map(|u| i32::try_from(u.input_tokens).unwrap_or(i32::MAX)),
                    ),
                )
                .col_expr(
                    runs::Column::OutputTokens,
                    Expr::value(
                        d.usage
                            .map(|u| i32::try_from(u.output_tokens).unwrap_or(i32::MAX)),
                    ),
                )
                .col_expr(runs::Column::CostUsd, Expr::value(cost))
                .col_expr(
                    runs::Column::ProviderModel,
                    Expr::value(d.provider_model.clone()),
                )
                .col_expr(runs::Column::LatencyMs, Expr::value(ms(d.elapsed)))
                .col_expr(runs::Column::TtftMs, Expr::value(d.ttft.map(ms)))
        }
        End::Failed(f) => update
            .col_expr(
                runs::Column::Status,
                Expr::value(RunStatus::Failed.as_str()),
            )
            .col_expr(runs::Column::ErrorCode, Expr::value(f.code))
            .col_expr(
                runs::Column::ErrorMessage,
                Expr::value(f.message.chars().take(2000).collect::<String>()),
            )
            .col_expr(runs::Column::LatencyMs, Expr::value(ms(f.elapsed))),
        End::Canceled | End::Lost => update.col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Canceled.as_str()),
        ),
    };
    let stored = match update.exec_with_returning(engine.db()).await {
        Ok(mut rows) if !rows.is_empty() => rows.remove(0),
        Ok(_) => {
            tracing::warn!(run = %m.id, "run was taken over before it finished here; dropping this result");
            runtime.bus.close_if_same(m.id, live);
            return;
        }
        Err(e) => {
            // The lease will expire and the reaper will retry or fail the run.
            tracing::error!(run = %m.id, error = %e, "recording the end of a run failed");
            runtime.bus.close_if_same(m.id, live);
            return;
        }
    };
    let s = summary(&stored, name);
    let kind = match end {
        End::Succeeded(_) => EventKind::Succeeded {
            run: Box::new(s.clone()),
        },
        End::Failed(f) => EventKind::Failed {
            code: f.code.to_owned(),
            message: f.message,
            run: Box::new(s.clone()),
        },
        End::Canceled | End::Lost => EventKind::Canceled {
            run: Box::new(s.clone()),
        },
    };
    live.emit(kind);
    runtime.bus.close_if_same(m.id, live);
    runtime.bus.publish_user(stored.created_by, s);
}

async fn fail_after_panic(engine: &Engine, id: Uuid, executing: &Executing) {
    let live = executing.lock().ok().and_then(|mut m| m.remove(&id));
    let r = runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Failed.as_str()),
        )
        .col_expr(runs::Column::ErrorCode, Expr::value("internal_error"))
        .col_expr(
            runs::Column::ErrorMessage,
            Expr::value("the run failed inside the server; see the server log"),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(
            runs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(engine.db())
        .await;
    if let Err(e) = r {
        tracing::error!(run = %id, error = %e, "recording a panicked run failed");
    }
    if live.is_some() {
        engine.runtime().bus.close(id);
    }
}
