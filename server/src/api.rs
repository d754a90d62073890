//! REST API for non-browser clients, under `/api/v1`. Handlers are thin: extract,
//! authenticate, call the engine, map the error.

use crate::state::AppState;
use axum::Router;

pub mod auth;
pub mod error;
pub mod extract;
pub mod prompts;
pub mod runs;

/// Routes that are not rate limited.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/logout", axum::routing::post(auth::logout))
        .route("/auth/me", axum::routing::get(auth::me))
        .merge(prompts::router())
        .merge(runs::router())
        .route("/providers", axum::routing::get(providers))
        .fallback(error::not_found)
}

/// The providers and models this server can run, with prices; never any key.
async fn providers(
    axum::extract::State(state): axum::extract::State<AppState>,
    extract::Caller(_who): extract::Caller,
) -> axum::Json<serde_json::Value> {
    let engine = &state.engine;
    let list: Vec<serde_json::Value> = engine
        .providers()
        .catalog()
        .into_iter()
        .map(|p| {
            let prices: serde_json::Map<String, serde_json::Value> = p
                .models
                .iter()
                .filter_map(|m| engine.prices().price(&p.name, m).map(|price| (m.clone(), serde_json::json!(price))))
                .collect();
            serde_json::json!({ "name": p.name, "models": p.models, "mock": p.mock, "prices": prices })
        })
        .collect();
    axum::Json(serde_json::json!({ "providers": list }))
}

/// Credential-checking routes; the caller wraps them in the auth rate limit.
pub fn credential_router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", axum::routing::post(auth::register))
        .route("/auth/login", axum::routing::post(auth::login))
}
