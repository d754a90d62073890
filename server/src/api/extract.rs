//! Extractors for REST handlers: a JSON body whose rejections are our validation errors,
//! and the authenticated caller.

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use promptlab::accounts::service::Identity;
use promptlab::auth::session_cookie;
use promptlab::error::clip_decode_message;
use promptlab::{Error, ErrorCode};

/// `Json<T>` that answers bad bodies with `validation_error` (or `payload_too_large`).
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::new(ErrorCode::PayloadTooLarge, "request body too large");
    }
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonSyntaxError(e) => {
            format!("malformed JSON: {}", clip_decode_message(&e.body_text()))
        }
        JsonRejection::JsonDataError(e) => {
            format!(
                "invalid request body: {}",
                clip_decode_message(&e.body_text())
            )
        }
        other => clip_decode_message(&other.body_text()),
    };
    Error::new(ErrorCode::ValidationError, message)
}

/// `Query<T>` that answers bad query strings with `validation_error`.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| {
                ApiError(Error::new(
                    ErrorCode::ValidationError,
                    format!("invalid query: {}", clip_decode_message(&e.body_text())),
                ))
            })
    }
}

/// `Path<T>` that answers bad path segments with `validation_error`.
pub struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| {
                ApiError(Error::new(
                    ErrorCode::ValidationError,
                    format!("invalid path: {}", clip_decode_message(&e.body_text())),
                ))
            })
    }
}

/// The authenticated caller (bearer token or session cookie); 401 otherwise.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_cookie::token_from(&parts.headers)
            .ok_or_else(|| Error::unauthorized("sign in, or send Authorization: Bearer <token>"))?;
        Ok(Self(state.engine.authenticate(&token).await?))
    }
}
