//! `/api/v1/runs…`: start (with `Idempotency-Key`), history with filters, one run, cancel,
//! and the server-sent event streams: one run's events (resumable with `Last-Event-ID`)
//! and the caller's run updates.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use promptlab::runs::service::{self as runs, UserStreamItem};
use promptlab::runs::{parse_idempotency_key, RunQuery, StartRun};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", get(list).post(start))
        .route("/runs/events", get(user_events))
        .route("/runs/{id}", get(fetch))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/events", get(events))
}

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// 201 with the new run; 200 with the existing one when the start was idempotent.
///
/// With `Accept: text/event-stream` the answer is the run's event stream instead (the
/// same events as `GET /runs/{id}/events` from the first, ids included, so a dropped
/// stream resumes there with `Last-Event-ID`); the run's address is in `Location`. One
/// round trip from start to first token.
async fn start(
    State(s): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    ApiJson(req): ApiJson<StartRun>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(parse_idempotency_key(v.to_str().unwrap_or(""))?),
    };
    let started = runs::start(&s.engine, &who, req, key).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    if wants_event_stream(&headers) {
        let id = started.run.summary.id;
        let stream = runs::follow_run(&s.engine, id, Some(0));
        let location = format!("/api/v1/runs/{id}");
        return Ok((status, [(LOCATION, location)], sse(stream)).into_response());
    }
    Ok((status, Json(started)).into_response())
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// One run's events as server-sent events: id = sequence number, event = kind.
fn sse(
    stream: futures::stream::BoxStream<'static, std::sync::Arc<promptlab::runs::RunEvent>>,
) -> Response {
    let sse = stream.map(|ev| {
        // Serialised in one piece, then handed over as one data line: JSON escapes line
        // breaks, and `json_data` would scan each of the serialiser's small writes for them.
        let event = match serde_json::to_string(&*ev) {
            Ok(json) => Event::default()
                .id(ev.seq.to_string())
                .event(ev.kind.name())
                .data(json),
            Err(_) => Event::default().comment("unserialisable event"),
        };
        Ok::<_, Infallible>(event)
    });
    Sse::new(sse)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

async fn list(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(runs::list(&s.engine, &who, q).await?).into_response())
}

async fn fetch(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    Ok(Json(runs::get(&s.engine, &who, id).await?).into_response())
}

async fn cancel(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    Ok(Json(runs::cancel(&s.engine, &who, id).await?).into_response())
}

#[derive(Deserialize)]
struct Resume {
    last_event_id: Option<String>,
}

/// The id to resume after: the `Last-Event-ID` header (browsers send it on reconnect) or
/// the `last_event_id` query parameter. Anything unreadable means "from a snapshot".
fn last_event_id(headers: &HeaderMap, query: &Resume) -> Option<u64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.last_event_id.clone())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

async fn events(
    State(s): State<AppState>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(resume): ApiQuery<Resume>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = last_event_id(&headers, &resume);
    let stream = runs::events(&s.engine, &who, id, last).await?;
    Ok(sse(stream))
}

async fn user_events(State(s): State<AppState>, Caller(who): Caller) -> Response {
    let stream = runs::user_events(&s.engine, &who).map(|item| {
        let event = match item {
            UserStreamItem::Run(json) => Event::default().event("run").data(&*json),
            UserStreamItem::Resync => Event::default().event("resync").data("{}"),
        };
        Ok::<_, Infallible>(event)
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
