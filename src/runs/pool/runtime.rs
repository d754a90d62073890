//! What the engine shares with the pool: the bus, the wake-up call, this process's lease
//! name, the way a new run goes straight to a worker when there is room, and the caches
//! runs read through (prompt names, saved versions).

use super::opening::Opening;
use crate::engine::Engine;
use crate::providers::{ChatRequest, Provider};
use crate::store::runs;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// What the engine shares with the pool: the bus, the wake-up call and this process's
/// lease name.
pub struct Runtime {
    pub bus: crate::runs::bus::Bus,
    /// Wakes the dispatcher; outside the pool, through [`Runtime::queued`], which also
    /// makes it look at the queue.
    pub(super) wake: Notify,
    /// Whether runs may be waiting in the queue for this process's dispatcher: set at
    /// start-up, by [`Runtime::queued`], by the idle poll, and by the dispatcher itself when
    /// a claim filled or could not be made; cleared when the dispatcher looks. While it is
    /// clear, neither a run handed to a worker at its start nor a worker that ends sends
    /// the dispatcher to the queue: runs that went straight to a worker leave nothing
    /// there, and on SQLite each look (a claim) is a write that takes the database's write
    /// lock.
    pub(super) backlog: AtomicBool,
    /// Claims made (one per provider per look at the queue), for tests.
    pub(super) claims: AtomicU64,
    pub instance: String,
    /// Prompt names for the summaries workers publish.
    names: Mutex<HashMap<Uuid, String>>,
    /// Saved versions runs start from. Versions are immutable (the database refuses
    /// UPDATE and DELETE on them), so an entry never goes stale.
    versions: Mutex<VersionCache>,
    /// Set while this process's workers take runs: the way a new run goes straight to a
    /// worker, without waiting for the dispatcher to find it in the queue.
    pub(super) handoff: Mutex<Option<Handoff>>,
    /// The run path's writes (a run's row, its final state): on SQLite, a writer thread
    /// that commits in groups.
    pub(crate) commits: crate::store::group_commit::GroupCommit,
}

/// The limits the dispatcher works within, and its inbox of runs claimed at start.
#[derive(Clone)]
pub(super) struct Handoff {
    pub(super) global: Arc<Semaphore>,
    pub(super) limits: Arc<HashMap<String, Arc<Semaphore>>>,
    pub(super) inbox: mpsc::UnboundedSender<Claimed>,
    /// Held by the dispatcher while it holds permits for a claim that has not returned:
    /// those permits may go unused, so a start that found none waits for the claim.
    pub(super) round: Arc<tokio::sync::Mutex<()>>,
}

/// Room for one more run of a provider, held from the start of a run until its worker
/// ends: the global and the provider's permit, and the run's provider request if it was
/// opened early (see `opening`).
pub(crate) struct Reservation {
    permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    inbox: mpsc::UnboundedSender<Claimed>,
    opening: Option<Opening>,
}

impl Reservation {
    /// Send the run's provider request now, while its row is being written; the worker
    /// reads the answer. Dropping the reservation (the insert failed) drops the request.
    pub(crate) fn open_early(&mut self, client: Arc<dyn Provider>, request: ChatRequest) {
        self.opening = Some(Opening::begin(client, request));
    }
}

/// A run inserted as already claimed by this process, on its way to a worker.
pub(super) struct Claimed {
    pub(super) run: runs::Model,
    pub(super) permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    pub(super) opening: Option<Opening>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            bus: Default::default(),
            wake: Notify::new(),
            backlog: AtomicBool::new(true),
            claims: AtomicU64::new(0),
            instance: format!("w-{}", Uuid::new_v4().simple()),
            names: Mutex::new(HashMap::new()),
            versions: Mutex::default(),
            handoff: Mutex::new(None),
            commits: Default::default(),
        }
    }
}

impl Runtime {
    /// A run was put in the queue (a start with no room, runs re-queued): the dispatcher
    /// looks at the queue on its next round, and is woken for it.
    pub(crate) fn queued(&self) {
        self.backlog.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// A runtime whose run path writes through `commits`.
    pub(crate) fn with_commits(commits: crate::store::group_commit::GroupCommit) -> Self {
        Self {
            commits,
            ..Self::default()
        }
    }

    /// Room to execute one more run of `provider` right away, if this process's workers
    /// are taking runs and neither the global nor the provider's limit is reached.
    ///
    /// The dispatcher takes permits before it claims queued runs, so at that moment the
    /// pool can look full when it is not: then this waits for the claim (one query) to
    /// return what it did not use, and tries once more.
    pub(crate) async fn reserve(&self, provider: &str) -> Option<Reservation> {
        let handoff = self.handoff.lock().ok()?.clone()?;
        let limit = handoff.limits.get(provider)?.clone();
        if let Some(r) = Self::try_reserve(&handoff, &limit) {
            return Some(r);
        }
        if handoff.round.try_lock().is_ok() {
            return None;
        }
        let _claimed = handoff.round.lock().await;
        Self::try_reserve(&handoff, &limit)
    }

    fn try_reserve(handoff: &Handoff, limit: &Arc<Semaphore>) -> Option<Reservation> {
        let global = handoff.global.clone().try_acquire_owned().ok()?;
        let provider = limit.clone().try_acquire_owned().ok()?;
        Some(Reservation {
            permits: (global, provider),
            inbox: handoff.inbox.clone(),
            opening: None,
        })
    }

    /// Give a run that was inserted as running under this process's lease (with the
    /// reservation it was made with) to a worker.
    pub(crate) fn hand_over(&self, run: runs::Model, reservation: Reservation) {
        let id = run.id;
        let claimed = Claimed {
            run,
            permits: reservation.permits,
            opening: reservation.opening,
        };
        if reservation.inbox.send(claimed).is_err() {
            // The pool stopped in between: the lease runs out and the reaper re-queues it.
            tracing::warn!(run = %id, "run started while the workers stopped; it waits for its lease to expire");
        }
    }

    pub(super) async fn prompt_name(&self, engine: &Engine, prompt: Uuid) -> String {
        if let Some(n) = self.names.lock().ok().and_then(|m| m.get(&prompt).cloned()) {
            return n;
        }
        let name = crate::runs::service::prompt_name(engine.db(), prompt)
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

/// A saved version as a run needs it: parsed content and its hash.
pub(crate) struct CachedVersion {
    pub(crate) content: crate::versions::VersionContent,
    pub(crate) content_hash: String,
}

/// Bounded by the bytes of the stored content it holds; emptied when full (a start that
/// misses reads one row).
#[derive(Default)]
struct VersionCache {
    map: HashMap<(Uuid, i32), Arc<CachedVersion>>,
    bytes: usize,
}

/// Most stored version content the cache holds.
const VERSION_CACHE_BYTES: usize = 8 << 20;

impl Runtime {
    /// A saved version of a prompt, from the cache or the database; `None` if it does not
    /// exist. The caller has already checked the caller's access to the prompt.
    pub(crate) async fn version(
        &self,
        db: &sea_orm::DatabaseConnection,
        prompt: Uuid,
        number: i32,
    ) -> crate::error::Result<Option<Arc<CachedVersion>>> {
        use sea_orm::EntityTrait;
        if let Some(v) = self
            .versions
            .lock()
            .ok()
            .and_then(|c| c.map.get(&(prompt, number)).cloned())
        {
            return Ok(Some(v));
        }
        let Some(row) = crate::store::prompt_versions::Entity::find_by_id((prompt, number))
            .one(db)
            .await
            .map_err(crate::store::db_error("run version"))?
        else {
            return Ok(None);
        };
        let content = serde_json::from_str(&row.content).map_err(|e| {
            tracing::error!(%prompt, version = number, error = %e, "stored version does not parse");
            crate::error::Error::internal()
        })?;
        let v = Arc::new(CachedVersion {
            content,
            content_hash: row.content_hash,
        });
        let size = row.content.len();
        if size <= VERSION_CACHE_BYTES / 16 {
            if let Ok(mut c) = self.versions.lock() {
                if c.bytes + size > VERSION_CACHE_BYTES {
                    c.map.clear();
                    c.bytes = 0;
                }
                if c.map.insert((prompt, number), v.clone()).is_none() {
                    c.bytes += size;
                }
            }
        }
        Ok(Some(v))
    }
}
