//! Server-function errors with the right HTTP status.
//!
//! leptos answers every server-function error with 500, even when the arguments could not
//! be decoded (a client's fault). Our error type is JSON with a stable code, so a 500 that
//! carries a client-side code (`validation_error`, `not_found`, …) is re-answered with
//! that code's status; real internal errors stay 500.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use promptlab::Error;

/// Largest error body inspected; anything bigger is left as it is.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn fix_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<Error>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.code.http_status()) {
            parts.status = status;
        }
    }
    parts.headers.insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(bytes.len()),
    );
    Response::from_parts(parts, Body::from(bytes))
}
