//! `GET /health` (the process answers) and `GET /health/ready` (the database answers, and
//! the run path can write: on SQLite its writer thread answers with a usable connection).

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let r = state.engine.readiness().await;
    let (status, label) = if r.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = json!({
        "status": label,
        "database": if r.database { "ok" } else { "unreachable" },
        "writer": if r.writer { "ok" } else { "unavailable" },
    });
    (status, Json(body))
}
