//! `/api/v1/prompts…`: prompts, versions, diff, labels, render and the deployed-version
//! fetch with ETags. A `{prompt}` path segment is the prompt's id or its name.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use promptlab::accounts::service::Identity;
use promptlab::labels::{service as labels, MoveLabel};
use promptlab::projects::Action;
use promptlab::prompts::{service as prompts, NewPrompt, PromptPatch, PromptQuery};
use promptlab::versions::{service as versions, SaveOutcome, SaveVersion, Version};
use promptlab::{Error, ErrorCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/prompts", get(list).post(create))
        .route("/prompts/{prompt}", get(fetch).patch(update).delete(trash))
        .route("/prompts/{prompt}/restore", post(untrash))
        .route(
            "/prompts/{prompt}/versions",
            get(list_versions).post(save_version),
        )
        .route("/prompts/{prompt}/versions/{number}", get(get_version))
        .route(
            "/prompts/{prompt}/versions/{number}/restore",
            post(restore_version),
        )
        .route("/prompts/{prompt}/diff", get(diff))
        .route("/prompts/{prompt}/labels", get(list_labels))
        .route("/prompts/{prompt}/labels/history", get(label_history))
        .route("/prompts/{prompt}/labels/{label}", put(move_label))
        .route("/prompts/{prompt}/render", post(render))
}

#[derive(Deserialize)]
pub struct Selector {
    label: Option<String>,
    version: Option<i32>,
    project_id: Option<Uuid>,
}

/// Resolve `{prompt}` (id or name) to a prompt id the caller may read.
async fn prompt_id(
    state: &AppState,
    who: &Identity,
    key: &str,
    project: Option<Uuid>,
) -> Result<Uuid, Error> {
    let db = state.engine.db();
    match Uuid::parse_str(key) {
        // An id names one prompt; a project_id beside it must be that prompt's.
        Ok(id) => match prompts::load(db, who, id, Action::Read).await? {
            p if project.is_some_and(|project| project != p.project_id) => {
                Err(Error::not_found("prompt not found in that project"))
            }
            p => Ok(p.id),
        },
        Err(_) => Ok(prompts::find_by_name(db, who, key, project, false)
            .await?
            .id),
    }
}

/// The version a selector names: a label, a number, or the latest.
async fn select_version(
    state: &AppState,
    who: &Identity,
    id: Uuid,
    sel: &Selector,
) -> Result<Option<Version>, Error> {
    let db = state.engine.db();
    let number = match (&sel.label, sel.version) {
        (Some(_), Some(_)) => {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "pass label or version, not both",
            ))
        }
        (Some(label), None) => labels::resolve(db, id, label).await?,
        (None, Some(n)) => n,
        (None, None) => match prompts::load(db, who, id, Action::Read)
            .await?
            .latest_version
        {
            0 => return Ok(None),
            n => n,
        },
    };
    Ok(Some(versions::get(db, who, id, number).await?))
}

async fn list(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<PromptQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(prompts::list(s.engine.db(), &who, q).await?).into_response())
}

async fn create(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiJson(req): ApiJson<NewPrompt>,
) -> Result<Response, ApiError> {
    let prompt = prompts::create(s.engine.db(), &who, req).await?;
    Ok((StatusCode::CREATED, Json(prompt)).into_response())
}

/// The prompt and one version of it (by `label`, `version`, or the latest), with an ETag
/// of the version's content hash; `If-None-Match` with it answers 304.
async fn fetch(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiQuery(sel): ApiQuery<Selector>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, sel.project_id).await?;
    let prompt = prompts::get(s.engine.db(), &who, id).await?;
    let version = select_version(&s, &who, id, &sel).await?;
    let Some(version) = version else {
        return Ok(Json(json!({ "prompt": prompt, "version": null })).into_response());
    };
    let etag = format!("\"{}\"", version.content_hash);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        [(header::ETAG, etag)],
        Json(json!({ "prompt": prompt, "version": version })),
    )
        .into_response())
}

async fn update(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(patch): ApiJson<PromptPatch>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(prompts::update(s.engine.db(), &who, id, patch).await?).into_response())
}

async fn trash(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = trash_target(&s, &who, &key, true).await?;
    Ok(Json(prompts::set_trashed(s.engine.db(), &who, id, true).await?).into_response())
}

async fn untrash(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = trash_target(&s, &who, &key, false).await?;
    Ok(Json(prompts::set_trashed(s.engine.db(), &who, id, false).await?).into_response())
}

/// The prompt a trash or a restore names. A name is looked up first where the prompt is
/// going from (live prompts to trash one, the trash to restore one), then where it is
/// going to, so that doing it twice finds the prompt again and changes nothing.
async fn trash_target(
    state: &AppState,
    who: &Identity,
    key: &str,
    trash: bool,
) -> Result<Uuid, Error> {
    if let Ok(id) = Uuid::parse_str(key) {
        return Ok(id);
    }
    let db = state.engine.db();
    match prompts::find_by_name(db, who, key, None, !trash).await {
        Err(e) if e.code == ErrorCode::NotFound => {
            Ok(prompts::find_by_name(db, who, key, None, trash).await?.id)
        }
        found => Ok(found?.id),
    }
}

async fn list_versions(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(versions::list(s.engine.db(), &who, id).await?).into_response())
}

fn saved(outcome: SaveOutcome) -> Response {
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(outcome)).into_response()
}

async fn save_version(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(req): ApiJson<SaveVersion>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(saved(versions::save(s.engine.db(), &who, id, req).await?))
}

async fn get_version(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath((key, number)): ApiPath<(String, i32)>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(versions::get(s.engine.db(), &who, id, number).await?).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    base_version: Option<i32>,
}

async fn restore_version(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath((key, number)): ApiPath<(String, i32)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    // The body is optional: empty means "on top of the latest version".
    let base = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<RestoreBody>(&body)
            .map_err(|e| {
                Error::new(
                    ErrorCode::ValidationError,
                    format!("invalid request body: {e}"),
                )
            })?
            .base_version
    };
    Ok(saved(
        versions::restore(s.engine.db(), &who, id, number, base).await?,
    ))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: i32,
    to: i32,
}

async fn diff(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(versions::diff(s.engine.db(), &who, id, q.from, q.to).await?).into_response())
}

async fn list_labels(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(labels::list(s.engine.db(), &who, id).await?).into_response())
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    label: Option<String>,
}

async fn label_history(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(Json(labels::history(s.engine.db(), &who, id, q.label.as_deref()).await?).into_response())
}

async fn move_label(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath((key, label)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<MoveLabel>,
) -> Result<Response, ApiError> {
    let id = prompt_id(&s, &who, &key, None).await?;
    Ok(
        Json(labels::move_label(s.engine.db(), &who, id, &label, req.version).await?)
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderBody {
    #[serde(default)]
    variables: serde_json::Map<String, serde_json::Value>,
    label: Option<String>,
    version: Option<i32>,
}

/// Render a version (latest, by label or number) with variables.
async fn render(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<RenderBody>,
) -> Result<Response, ApiError> {
    promptlab::runs::check_variable_values(&body.variables)?;
    let id = prompt_id(&s, &who, &key, None).await?;
    let sel = Selector {
        label: body.label,
        version: body.version,
        project_id: None,
    };
    let version = select_version(&s, &who, id, &sel)
        .await?
        .ok_or_else(|| Error::not_found("the prompt has no versions yet"))?;
    let messages = s
        .engine
        .templates()
        .render(
            who.user.id,
            &version.content.messages,
            &version.content.variables,
            &body.variables,
        )
        .await?;
    Ok(Json(json!({ "version": version.number, "messages": messages, "params": version.content.params })).into_response())
}
