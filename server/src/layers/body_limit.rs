//! Caps request bodies: a declared length over the limit is refused at once with 413 and
//! our JSON error; a body without a length is cut off when it passes the limit.

use crate::api::error::answer;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::Limited;
use promptlab::{Error, ErrorCode};

pub async fn limit_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let max = state.engine.config().max_body_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return answer(req.uri().path(), too_large_error(max));
    }
    let req = req.map(|body| Body::new(Limited::new(body, max)));
    next.run(req).await
}

/// The error for a body over `max` bytes.
pub fn too_large_error(max: usize) -> Error {
    Error::new(
        ErrorCode::PayloadTooLarge,
        format!("request body is larger than {max} bytes"),
    )
    .with_details(serde_json::json!({ "limit_bytes": max }))
}
