//! REST API for non-browser clients, under `/api/v1`. Handlers are thin: extract,
//! authenticate, call the engine, map the error.

use crate::state::AppState;
use axum::Router;

pub mod auth;
pub mod error;
pub mod extract;
pub mod prompts;

/// Routes that are not rate limited.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/logout", axum::routing::post(auth::logout))
        .route("/auth/me", axum::routing::get(auth::me))
        .merge(prompts::router())
        .fallback(error::not_found)
}

/// Credential-checking routes; the caller wraps them in the auth rate limit.
pub fn credential_router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", axum::routing::post(auth::register))
        .route("/auth/login", axum::routing::post(auth::login))
}
