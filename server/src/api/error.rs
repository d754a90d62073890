//! The REST error response: the engine's [`promptlab::Error`] as
//! `{"error": {"code", "message", "details"}}` with the status its code maps to.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use promptlab::error::ErrorBody;
use promptlab::{Error, ErrorCode};

/// An engine error on its way out of a REST handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.0)
    }
}

/// Render any engine error as a JSON response.
pub fn error_response(error: Error) -> Response {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorBody { error })).into_response()
}

/// A server function's path: under `/api/`, not the REST API's `/api/v1/`.
pub fn is_server_fn(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

/// `error` in the form the caller at `path` reads: bare for a server function's client
/// (its error type is [`Error`] itself), the REST form for everyone else.
pub fn answer(path: &str, error: Error) -> Response {
    if is_server_fn(path) {
        let status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(error)).into_response()
    } else {
        error_response(error)
    }
}

/// Fallback for unknown API paths.
pub async fn not_found() -> ApiError {
    ApiError(Error::new(ErrorCode::NotFound, "no such API endpoint"))
}
