//! Starting a run: render the version, key it, answer from the cache or an identical run
//! in flight or an earlier request with the same `Idempotency-Key`, else insert it
//! (claimed, straight to a worker, when the pool has room; queued otherwise).

use super::{full, summary};
use crate::accounts::service::Identity;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::runs::pool::chat_request;
use crate::runs::{run_key, EventKind, RunParams, RunStatus, StartRun, Started};
use crate::store::{db_error, is_unique_violation, prompts, runs};
use crate::versions::{Message, VersionContent};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, QueryTrait};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Variable values with the schema's defaults filled in: what the templates will see.
fn effective_variables(content: &VersionContent, given: &Map<String, Value>) -> Map<String, Value> {
    let mut values = given.clone();
    for spec in &content.variables {
        if let (false, Some(default)) = (values.contains_key(&spec.name), &spec.default) {
            values.insert(spec.name.clone(), default.clone());
        }
    }
    values
}

/// Start a run: see the module docs of [`crate::runs`] for cache and idempotency rules.
pub async fn start(
    engine: &Engine,
    who: &Identity,
    req: StartRun,
    idempotency_key: Option<String>,
) -> Result<Started> {
    let db = engine.db();
    let began = std::time::Instant::now();
    let reads = engine.reads();
    let prompt =
        crate::prompts::service::load_live_through(reads, db, who, req.prompt_id, Action::Write)
            .await?;
    let prompt_us = began.elapsed().as_micros() as u64;
    let number = req.version.unwrap_or(prompt.latest_version);
    if number <= 0 {
        return Err(Error::invalid_field(
            "version",
            "no_version",
            "the prompt has no saved version to run",
        ));
    }
    let version = engine
        .runtime()
        .version(db, prompt.id, number)
        .await?
        .ok_or_else(|| Error::not_found(format!("version {number} not found")))?;
    let content = &version.content;
    let resolved = req.resolve(&content.params)?;
    let client = engine
        .providers()
        .get(&resolved.provider, &resolved.model)?;
    let messages = engine
        .templates()
        .render(
            who.user.id,
            &content.messages,
            &content.variables,
            &req.variables,
        )
        .await?;
    let variables = effective_variables(content, &req.variables);
    let key = run_key(
        &version.content_hash,
        &resolved.provider,
        &resolved.model,
        &resolved.params,
        &variables,
    );

    if let Some(ikey) = &idempotency_key {
        if let Some(existing) = by_idempotency_key(reads, db, who, ikey).await? {
            return replay_idempotent(existing, &key, &prompt.name);
        }
    }
    let settings = &engine.config().runs;
    let cache_since = (!req.bypass_cache && !settings.cache_ttl.is_zero()).then(|| {
        Utc::now()
            - chrono::Duration::from_std(settings.cache_ttl).unwrap_or(chrono::Duration::hours(1))
    });
    let looking = std::time::Instant::now();
    let same = same_key(reads, db, prompt.project_id, &key, cache_since).await?;
    let lookup_us = looking.elapsed().as_micros() as u64;
    match same {
        Some(hit) if hit.status == RunStatus::Succeeded.as_str() => {
            return record_cached(
                engine,
                who,
                &prompt,
                number,
                &resolved.params,
                &variables,
                &messages,
                hit,
                idempotency_key,
            )
            .await;
        }
        Some(running) => {
            return Ok(Started {
                run: full(running, &prompt.name),
                created: false,
            })
        }
        None => {}
    }
    // An identical run started since the lookup is found by the insert below: the
    // partial unique index refuses a second one, and the winner is returned.

    // With room in the pool the run is inserted as claimed by this process and goes
    // straight to a worker, its provider request sent while the row is written (see
    // `pool::opening`); otherwise it waits in the queue for the dispatcher.
    let runtime = engine.runtime();
    let mut reservation = runtime.reserve(&resolved.provider).await;
    if let Some(r) = reservation.as_mut() {
        r.open_early(
            client,
            chat_request(
                resolved.model.clone(),
                messages.clone(),
                resolved.params.clone(),
            ),
        );
    }
    tracing::debug!(target: "promptlab::timing", prompt_us, lookup_us, opened_us = began.elapsed().as_micros() as u64, "run start read");
    let now = Utc::now();
    let claimed = reservation.is_some();
    let lease_until = claimed.then(|| {
        now + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::seconds(30))
    });
    // Time-ordered (UUIDv7): each new run's key lands at the end of the primary key's
    // index, on a page the last runs already changed, instead of on a random one.
    let id = Uuid::now_v7();
    let model = runs::Model {
        id,
        project_id: prompt.project_id,
        prompt_id: prompt.id,
        version_number: number,
        created_by: who.user.id,
        status: if claimed {
            RunStatus::Running
        } else {
            RunStatus::Queued
        }
        .as_str()
        .into(),
        provider: resolved.provider.clone(),
        model: resolved.model.clone(),
        params: json(&resolved.params)?,
        variables: json(&variables)?,
        messages: json(&messages)?,
        run_key: key.clone(),
        cached: false,
        idempotency_key: idempotency_key.clone(),
        output: String::new(),
        error_code: None,
        error_message: None,
        attempts: i32::from(claimed),
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        provider_model: None,
        latency_ms: None,
        ttft_ms: None,
        queued_at: now,
        started_at: claimed.then_some(now),
        finished_at: None,
        lease_owner: claimed.then(|| runtime.instance.clone()),
        lease_expires_at: lease_until,
        cancel_requested: false,
    };
    // The live entry exists before the row, so a worker that claims it at once continues
    // this entry instead of starting another.
    let bus = &runtime.bus;
    let live = bus.open(id, who.user.id, RunStatus::Queued, 0);
    let writing = std::time::Instant::now();
    let inserted = insert_run(engine, model).await;
    tracing::debug!(target: "promptlab::timing", run = %id, write_us = writing.elapsed().as_micros() as u64, "run inserted");
    match inserted {
        Ok(m) => {
            live.emit(EventKind::Queued);
            bus.publish_user(who.user.id, summary(&m, &prompt.name));
            match reservation {
                Some(r) => runtime.hand_over(m.clone(), r),
                None => runtime.queued(),
            }
            Ok(Started {
                run: full(m, &prompt.name),
                created: true,
            })
        }
        Err(e) if is_unique_violation(&e) => {
            // The provider request opened early goes unread.
            drop(reservation);
            bus.close(id);
            // Lost a race to an identical start (same key in flight, or same
            // Idempotency-Key): answer with the winner.
            if let Some(ikey) = &idempotency_key {
                if let Some(existing) = by_idempotency_key(reads, db, who, ikey).await? {
                    return replay_idempotent(existing, &key, &prompt.name);
                }
            }
            match same_key(reads, db, prompt.project_id, &key, None).await? {
                Some(running) => Ok(Started {
                    run: full(running, &prompt.name),
                    created: false,
                }),
                None => Err(Error::conflict(
                    "an identical run just finished; start it again",
                )),
            }
        }
        Err(e) => {
            drop(reservation);
            bus.close(id);
            Err(db_error("insert run")(e))
        }
    }
}

/// Insert a run's row through the group commit (see `store::group_commit`): under load,
/// many starts share one transaction. The row comes back as stored.
async fn insert_run(
    engine: &Engine,
    model: runs::Model,
) -> std::result::Result<runs::Model, DbErr> {
    let mut query = runs::Entity::insert(runs::ActiveModel::from(model)).into_query();
    query.returning_all();
    let commits = &engine.runtime().commits;
    commits
        .returning_one(engine.db(), &query)
        .await?
        .ok_or(DbErr::RecordNotInserted)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|_| Error::internal())
}

fn replay_idempotent(existing: runs::Model, key: &str, prompt_name: &str) -> Result<Started> {
    if existing.run_key != key {
        return Err(Error::conflict(
            "this Idempotency-Key was used for a different run request",
        )
        .with_details(serde_json::json!({ "reason": "idempotency_key_reused", "run_id": existing.id })));
    }
    Ok(Started {
        run: full(existing, prompt_name),
        created: false,
    })
}

#[allow(clippy::too_many_arguments)]
async fn record_cached(
    engine: &Engine,
    who: &Identity,
    prompt: &prompts::Model,
    number: i32,
    params: &RunParams,
    variables: &Map<String, Value>,
    messages: &[Message],
    hit: runs::Model,
    idempotency_key: Option<String>,
) -> Result<Started> {
    let now = Utc::now();
    let model = runs::Model {
        id: Uuid::now_v7(),
        project_id: prompt.project_id,
        prompt_id: prompt.id,
        version_number: number,
        created_by: who.user.id,
        status: RunStatus::Succeeded.as_str().into(),
        provider: hit.provider.clone(),
        model: hit.model.clone(),
        params: json(params)?,
        variables: json(variables)?,
        messages: json(&messages)?,
        run_key: hit.run_key.clone(),
        cached: true,
        idempotency_key,
        output: hit.output.clone(),
        error_code: None,
        error_message: None,
        attempts: 0,
        input_tokens: hit.input_tokens,
        output_tokens: hit.output_tokens,
        cost_usd: Some(0.0),
        provider_model: hit.provider_model.clone(),
        latency_ms: Some(0),
        ttft_ms: Some(0),
        queued_at: now,
        started_at: Some(now),
        finished_at: Some(now),
        lease_owner: None,
        lease_expires_at: None,
        cancel_requested: false,
    };
    let m = match runs::ActiveModel::from(model).insert(engine.db()).await {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "this Idempotency-Key is being used by another request",
            ))
        }
        Err(e) => return Err(db_error("insert cached run")(e)),
    };
    engine
        .runtime()
        .bus
        .publish_user(who.user.id, summary(&m, &prompt.name));
    Ok(Started {
        run: full(m, &prompt.name),
        created: true,
    })
}

mod lookup;

use lookup::{by_idempotency_key, same_key};
#[cfg(test)]
pub(crate) use lookup::{idempotency_statement, same_key_statement};
