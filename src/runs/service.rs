//! Runs on the server: start (render, key, cache, idempotency, queue), read, list, cancel,
//! and the event streams. Execution is the worker pool's ([`super::pool`]).

mod stream;

pub use stream::{events, user_events, UserStreamItem};

use super::{
    run_key, EventKind, Run, RunError, RunParams, RunQuery, RunStatus, RunSummary, StartRun,
    Started, PREVIEW_CHARS,
};
use crate::accounts::service::Identity;
use crate::auth::authorize;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::prompts::Page;
use crate::store::{
    db_error, is_unique_violation, memberships, prompt_versions as pv, prompts, runs,
};
use crate::versions::{Message, VersionContent};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

fn run_not_found() -> Error {
    Error::not_found("run not found")
}

/// Convert a stored run (with its prompt's name) to the summary lists show.
pub fn summary(m: &runs::Model, prompt_name: &str) -> RunSummary {
    let error = m.error_code.as_ref().map(|code| RunError {
        code: code.clone(),
        message: m.error_message.clone().unwrap_or_default(),
    });
    RunSummary {
        id: m.id,
        project_id: m.project_id,
        prompt_id: m.prompt_id,
        prompt_name: prompt_name.to_owned(),
        version_number: m.version_number,
        status: RunStatus::parse(&m.status).unwrap_or(RunStatus::Failed),
        provider: m.provider.clone(),
        model: m.model.clone(),
        mock: m.provider == "mock",
        cached: m.cached,
        attempts: m.attempts,
        error,
        input_tokens: m.input_tokens.map(|t| u32::try_from(t).unwrap_or(0)),
        output_tokens: m.output_tokens.map(|t| u32::try_from(t).unwrap_or(0)),
        cost_usd: m.cost_usd,
        provider_model: m.provider_model.clone(),
        latency_ms: m.latency_ms.map(|t| u64::try_from(t).unwrap_or(0)),
        ttft_ms: m.ttft_ms.map(|t| u64::try_from(t).unwrap_or(0)),
        queued_at: m.queued_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        created_by: m.created_by,
        run_key: m.run_key.clone(),
        preview: m.output.chars().take(PREVIEW_CHARS).collect(),
    }
}

/// A stored run in full.
pub fn full(m: runs::Model, prompt_name: &str) -> Run {
    let summary = summary(&m, prompt_name);
    Run {
        summary,
        params: serde_json::from_str(&m.params).unwrap_or_default(),
        variables: serde_json::from_str(&m.variables).unwrap_or_default(),
        messages: serde_json::from_str(&m.messages).unwrap_or_default(),
        output: m.output,
    }
}

pub(crate) async fn prompt_name(db: &DatabaseConnection, id: Uuid) -> Result<String> {
    Ok(prompts::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_error("run prompt name"))?
        .map(|p| p.name)
        .unwrap_or_default())
}

/// Load a run the caller may act on.
pub(crate) async fn load(
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<runs::Model> {
    let run = runs::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_error("load run"))?
        .ok_or_else(run_not_found)?;
    match authorize(db, who.user.id, run.project_id, action).await {
        Ok(_) => Ok(run),
        Err(e) if e.code == crate::ErrorCode::NotFound => Err(run_not_found()),
        Err(e) => Err(e),
    }
}

pub async fn get(engine: &Engine, who: &Identity, id: Uuid) -> Result<Run> {
    let db = engine.db();
    let m = load(db, who, id, Action::Read).await?;
    let name = prompt_name(db, m.prompt_id).await?;
    Ok(full(m, &name))
}

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
    let prompt = crate::prompts::service::load_live(db, who, req.prompt_id, Action::Write).await?;
    let number = req.version.unwrap_or(prompt.latest_version);
    if number <= 0 {
        return Err(Error::invalid_field(
            "version",
            "no_version",
            "the prompt has no saved version to run",
        ));
    }
    let version = pv::Entity::find_by_id((prompt.id, number))
        .one(db)
        .await
        .map_err(db_error("run version"))?
        .ok_or_else(|| Error::not_found(format!("version {number} not found")))?;
    let content: VersionContent = serde_json::from_str(&version.content).map_err(|e| {
        tracing::error!(prompt = %prompt.id, version = number, error = %e, "stored version does not parse");
        Error::internal()
    })?;
    let resolved = req.resolve(&content.params)?;
    engine
        .providers()
        .get(&resolved.provider, &resolved.model)?;
    let messages =
        crate::template::render_messages(&content.messages, &content.variables, &req.variables)?;
    let variables = effective_variables(&content, &req.variables);
    let key = run_key(
        &version.content_hash,
        &resolved.provider,
        &resolved.model,
        &resolved.params,
        &variables,
    );

    if let Some(ikey) = &idempotency_key {
        if let Some(existing) = by_idempotency_key(db, who, ikey).await? {
            return replay_idempotent(existing, &key, &prompt.name);
        }
    }
    let settings = &engine.config().runs;
    if !req.bypass_cache && !settings.cache_ttl.is_zero() {
        if let Some(hit) = cache_hit(db, prompt.project_id, &key, settings.cache_ttl).await? {
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
    }
    if let Some(running) = in_flight(db, prompt.project_id, &key).await? {
        return Ok(Started {
            run: full(running, &prompt.name),
            created: false,
        });
    }

    let now = Utc::now();
    let id = Uuid::new_v4();
    let model = runs::Model {
        id,
        project_id: prompt.project_id,
        prompt_id: prompt.id,
        version_number: number,
        created_by: who.user.id,
        status: RunStatus::Queued.as_str().into(),
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
        attempts: 0,
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        provider_model: None,
        latency_ms: None,
        ttft_ms: None,
        queued_at: now,
        started_at: None,
        finished_at: None,
        lease_owner: None,
        lease_expires_at: None,
        cancel_requested: false,
    };
    // The live entry exists before the row, so a worker that claims it at once continues
    // this entry instead of starting another.
    let bus = &engine.runtime().bus;
    let live = bus.open(id, who.user.id, RunStatus::Queued, 0);
    match runs::ActiveModel::from(model).insert(db).await {
        Ok(m) => {
            live.emit(EventKind::Queued);
            bus.publish_user(who.user.id, summary(&m, &prompt.name));
            engine.runtime().wake.notify_one();
            Ok(Started {
                run: full(m, &prompt.name),
                created: true,
            })
        }
        Err(e) if is_unique_violation(&e) => {
            bus.close(id);
            // Lost a race to an identical start (same key in flight, or same
            // Idempotency-Key): answer with the winner.
            if let Some(ikey) = &idempotency_key {
                if let Some(existing) = by_idempotency_key(db, who, ikey).await? {
                    return replay_idempotent(existing, &key, &prompt.name);
                }
            }
            match in_flight(db, prompt.project_id, &key).await? {
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
            bus.close(id);
            Err(db_error("insert run")(e))
        }
    }
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

async fn by_idempotency_key(
    db: &DatabaseConnection,
    who: &Identity,
    key: &str,
) -> Result<Option<runs::Model>> {
    runs::Entity::find()
        .filter(runs::Column::CreatedBy.eq(who.user.id))
        .filter(runs::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
        .map_err(db_error("run by idempotency key"))
}

async fn in_flight(
    db: &DatabaseConnection,
    project: Uuid,
    key: &str,
) -> Result<Option<runs::Model>> {
    runs::Entity::find()
        .filter(runs::Column::ProjectId.eq(project))
        .filter(runs::Column::RunKey.eq(key))
        .filter(
            runs::Column::Status.is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]),
        )
        .one(db)
        .await
        .map_err(db_error("in-flight run"))
}

async fn cache_hit(
    db: &DatabaseConnection,
    project: Uuid,
    key: &str,
    ttl: Duration,
) -> Result<Option<runs::Model>> {
    let since = Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    runs::Entity::find()
        .filter(runs::Column::RunKey.eq(key))
        .filter(runs::Column::Status.eq(RunStatus::Succeeded.as_str()))
        .filter(runs::Column::FinishedAt.gte(since))
        .filter(runs::Column::ProjectId.eq(project))
        .order_by_desc(runs::Column::FinishedAt)
        .one(db)
        .await
        .map_err(db_error("run cache"))
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
        id: Uuid::new_v4(),
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

/// History with filters, newest first.
pub async fn list(engine: &Engine, who: &Identity, query: RunQuery) -> Result<Page<RunSummary>> {
    query.validate()?;
    let db = engine.db();
    let (page, per_page) = query.paging();
    let projects: Vec<Uuid> = match query.prompt_id {
        Some(prompt) => {
            vec![
                crate::prompts::service::load(db, who, prompt, Action::Read)
                    .await?
                    .project_id,
            ]
        }
        None => memberships::Entity::find()
            .filter(memberships::Column::UserId.eq(who.user.id))
            .all(db)
            .await
            .map_err(db_error("run projects"))?
            .into_iter()
            .map(|m| m.project_id)
            .collect(),
    };
    let mut select = runs::Entity::find().filter(runs::Column::ProjectId.is_in(projects));
    if let Some(p) = query.prompt_id {
        select = select.filter(runs::Column::PromptId.eq(p));
    }
    if let Some(v) = query.version {
        select = select.filter(runs::Column::VersionNumber.eq(v));
    }
    if let Some(s) = query.status {
        select = select.filter(runs::Column::Status.eq(s.as_str()));
    }
    if let Some(p) = query.provider.as_deref().filter(|p| !p.is_empty()) {
        select = select.filter(runs::Column::Provider.eq(p));
    }
    if let Some(m) = query.model.as_deref().filter(|m| !m.is_empty()) {
        select = select.filter(runs::Column::Model.eq(m));
    }
    if let Some(from) = query.from {
        select = select.filter(runs::Column::QueuedAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(runs::Column::QueuedAt.lte(to));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
        select = select.filter(Condition::all().add(Expr::col(runs::Column::Output).like(pattern)));
    }
    let total = select
        .clone()
        .count(db)
        .await
        .map_err(db_error("count runs"))?;
    let models = select
        .order_by_desc(runs::Column::QueuedAt)
        .order_by_desc(runs::Column::Id)
        .offset(u64::from(page - 1) * u64::from(per_page))
        .limit(u64::from(per_page))
        .all(db)
        .await
        .map_err(db_error("list runs"))?;
    let names = prompt_names(db, models.iter().map(|m| m.prompt_id).collect()).await?;
    let items = models
        .iter()
        .map(|m| summary(m, names.get(&m.prompt_id).map(String::as_str).unwrap_or("")))
        .collect();
    Ok(Page {
        items,
        total,
        page,
        per_page,
    })
}

async fn prompt_names(
    db: &DatabaseConnection,
    mut ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    ids.sort();
    ids.dedup();
    Ok(prompts::Entity::find()
        .filter(prompts::Column::Id.is_in(ids))
        .all(db)
        .await
        .map_err(db_error("run prompt names"))?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// Cancel a queued or running run. A running one stops streaming and keeps its partial
/// output; this waits (briefly) for the worker to record that.
pub async fn cancel(engine: &Engine, who: &Identity, id: Uuid) -> Result<Run> {
    let db = engine.db();
    let run = load(db, who, id, Action::Write).await?;
    let status = RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed);
    if status.is_terminal() {
        return Err(
            Error::conflict(format!("the run already {}", status.as_str())).with_details(
                serde_json::json!({ "reason": "run_finished", "status": status.as_str() }),
            ),
        );
    }
    let bus = &engine.runtime().bus;
    let now = Utc::now();
    let queued = runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Canceled.as_str()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .col_expr(runs::Column::CancelRequested, Expr::value(true))
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Status.eq(RunStatus::Queued.as_str()))
        .exec_with_returning(db)
        .await
        .map_err(db_error("cancel queued run"))?;
    let name = prompt_name(db, run.prompt_id).await?;
    if let Some(m) = queued.into_iter().next() {
        let s = summary(&m, &name);
        if let Some(live) = bus.get(id) {
            live.emit(EventKind::Canceled {
                run: Box::new(s.clone()),
            });
            bus.close(id);
        }
        bus.publish_user(m.created_by, s);
        return Ok(full(m, &name));
    }
    // Running (here or elsewhere): flag it, tell the local worker, wait for the end.
    runs::Entity::update_many()
        .col_expr(runs::Column::CancelRequested, Expr::value(true))
        .filter(runs::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_error("request cancel"))?;
    if let Some(live) = bus.get(id) {
        let (_, mut rx) = live.subscribe(None);
        live.cancel();
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.kind.is_terminal() => break,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
    }
    get(engine, who, id).await
}

/// The recent runs of a prompt (for the prompt page).
pub async fn recent_for_prompt(
    engine: &Engine,
    who: &Identity,
    prompt: Uuid,
    limit: u32,
) -> Result<Vec<RunSummary>> {
    let query = RunQuery {
        prompt_id: Some(prompt),
        per_page: Some(limit),
        ..Default::default()
    };
    Ok(list(engine, who, query).await?.items)
}
