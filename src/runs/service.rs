//! Runs on the server: start (render, key, cache, idempotency, queue), read, list, cancel,
//! and the event streams. Execution is the worker pool's ([`super::pool`]).

mod start;
mod stream;

pub use start::start;
#[cfg(test)]
pub(crate) use start::{idempotency_statement, same_key_statement};

pub use stream::{events, follow_run, user_events, UserStreamItem};

use super::{EventKind, Run, RunError, RunQuery, RunStatus, RunSummary, PREVIEW_CHARS};
use crate::accounts::service::Identity;
use crate::auth::authorize::{self, MEMBER_ROLE};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::prompts::Page;
use crate::store::sqlite_writer::{FromRow, Row};
use crate::store::{db_error, memberships, prompts, runs};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait,
};
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
    hide_project(authorize::authorize(db, who.user.id, run.project_id, action).await).map(|_| run)
}

/// A project the caller is not a member of shows as the run not being found.
fn hide_project<T>(allowed: Result<T>) -> Result<T> {
    match allowed {
        Err(e) if e.code == crate::ErrorCode::NotFound => Err(run_not_found()),
        other => other,
    }
}

/// Check that the caller may `action` the run `id`, as [`load`] does, without loading it:
/// one read of the caller's role in the run's project (a row, with a NULL role for a
/// non-member, when the run exists), inline on SQLite (`store::sqlite_reads`), as a run's
/// start reads. A watcher that follows the run it just started makes this its only read:
/// through the pool, [`load`] cost two hand-offs to sqlx's connection threads and back, and
/// the whole row.
pub(crate) async fn authorize_run(
    engine: &Engine,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<()> {
    let role = authorize::role_subquery(who.user.id, (runs::Entity, runs::Column::ProjectId));
    let query = runs::Entity::find_by_id(id)
        .select_only()
        .column_as(Expr::from(role), MEMBER_ROLE)
        .limit(1)
        .into_query();
    let found: RunAccess = engine
        .reads()
        .one(engine.db(), &query)
        .await
        .map_err(db_error("authorize run"))?
        .ok_or_else(run_not_found)?;
    hide_project(authorize::role_allows(found.role.as_deref(), action)).map(|_| ())
}

/// A run's existence and the caller's role in its project (`None`: not a member).
struct RunAccess {
    role: Option<String>,
}

impl FromQueryResult for RunAccess {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            role: res.try_get(pre, MEMBER_ROLE)?,
        })
    }
}

impl FromRow for RunAccess {
    fn from_row(r: &Row) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            role: r.get(MEMBER_ROLE)?,
        })
    }
}

pub async fn get(engine: &Engine, who: &Identity, id: Uuid) -> Result<Run> {
    let db = engine.db();
    let m = load(db, who, id, Action::Read).await?;
    let name = prompt_name(db, m.prompt_id).await?;
    Ok(full(m, &name))
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
        select = select.filter(runs::status_is(s));
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
        .filter(runs::status_is(RunStatus::Queued))
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
