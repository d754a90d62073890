//! `/api/v1/auth/*`: register, login, logout, me.

use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header::SET_COOKIE, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use promptlab::accounts::service::SignedIn;
use promptlab::accounts::{AuthResponse, LoginRequest, Me, RegisterRequest};
use promptlab::auth::session_cookie;

fn signed_in_response(state: &AppState, status: StatusCode, s: SignedIn) -> Response {
    let cookie = session_cookie::set_until(
        &s.token,
        s.expires_at,
        state.engine.config().secure_cookies(),
    );
    let body = AuthResponse {
        token: s.token,
        expires_at: s.expires_at,
        user: s.user,
    };
    (status, [(SET_COOKIE, cookie)], Json(body)).into_response()
}

pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let signed_in = state.engine.register(req).await?;
    Ok(signed_in_response(&state, StatusCode::CREATED, signed_in))
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let signed_in = state.engine.login(req).await?;
    Ok(signed_in_response(&state, StatusCode::OK, signed_in))
}

pub async fn logout(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    state.engine.logout(&who).await?;
    let cookie = session_cookie::clear(state.engine.config().secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response())
}

pub async fn me(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Me>, ApiError> {
    Ok(Json(state.engine.me(&who).await?))
}
