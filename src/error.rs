//! The one error type of the engine, shared by server and browser.
//!
//! Every error carries a stable machine-readable [`ErrorCode`], a human message and optional
//! structured details. The code decides the HTTP status; REST handlers serialise the error
//! as `{"error": {...}}` and server functions send it as their error type, so a client sees
//! the same code whichever door it came through. Internal failures (database, I/O) are
//! logged in full where they happen and reach clients only as a generic `internal_error`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. Clients match on these; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or a field is invalid.
    ValidationError,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed (or a cross-site state change).
    Forbidden,
    /// 404: no such thing, or not visible to the caller.
    NotFound,
    /// 409: conflicts with the current state (duplicate email, stale version).
    Conflict,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 429: too many requests; retry later.
    RateLimited,
    /// 429: a usage quota is exhausted.
    QuotaExceeded,
    /// 502: an upstream model provider failed.
    ProviderError,
    /// 500: something broke on our side; details are in the server log.
    InternalError,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "validation_error",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::ProviderError => "provider_error",
            Self::InternalError => "internal_error",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::ValidationError => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited | Self::QuotaExceeded => 429,
            Self::ProviderError => 502,
            Self::InternalError => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a stable code, a message for humans and optional details
/// (for validation errors: `{"field": "...", "reason": "..."}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// A validation error about one field; `reason` is a stable, translatable key.
    pub fn invalid_field(field: &str, reason: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
            .with_details(serde_json::json!({ "field": field, "reason": reason }))
    }

    /// Attach structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A generic internal error. Log the cause where it happens; never put it here.
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalError, "internal error")
    }

    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        self.details.get("field").and_then(|v| v.as_str())
    }

    /// The stable reason key of a validation error, if any.
    pub fn reason(&self) -> Option<&str> {
        self.details.get("reason").and_then(|v| v.as_str())
    }
}

/// Longest part of a decoder's message kept in an error. A decoder repeats the value it
/// refused (`unknown variant `aaaa…``), which may be most of a megabyte; an error is no
/// place to echo it back, and the layer that gives a server function's error its status
/// reads 64 KB at most.
pub const DECODE_MESSAGE_MAX: usize = 300;

/// `message` cut to [`DECODE_MESSAGE_MAX`] bytes (on a character boundary), `…` marking a
/// cut.
pub fn clip_decode_message(message: &str) -> String {
    if message.len() <= DECODE_MESSAGE_MAX {
        return message.to_owned();
    }
    let mut end = DECODE_MESSAGE_MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

/// JSON body of every REST error: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: Error,
}

/// Server functions return this error type directly, so the browser gets the same code
/// and details as a REST client.
impl server_fn::error::FromServerFnError for Error {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::MissingArg(m) | E::Deserialization(m) => Self::new(
                ErrorCode::ValidationError,
                format!("invalid request: {}", clip_decode_message(&m)),
            ),
            E::Request(m) | E::Response(m) => {
                Self::new(ErrorCode::InternalError, format!("network error: {m}"))
            }
            other => Self::new(ErrorCode::InternalError, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_messages_are_clipped_on_a_character_boundary() {
        assert_eq!(clip_decode_message("short"), "short");
        let long = format!("unknown variant `{}`", "é".repeat(100_000));
        let clipped = clip_decode_message(&long);
        assert!(clipped.len() <= DECODE_MESSAGE_MAX + '…'.len_utf8());
        assert!(clipped.starts_with("unknown variant `éé") && clipped.ends_with('…'));
        let e = <Error as server_fn::error::FromServerFnError>::from_server_fn_error(
            server_fn::error::ServerFnErrorErr::Args(long),
        );
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.len() < 400, "{}", e.message.len());
    }

    #[test]
    fn codes_serialise_as_their_wire_names() {
        for code in [
            ErrorCode::ValidationError,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::QuotaExceeded,
            ErrorCode::ProviderError,
            ErrorCode::InternalError,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn body_shape_is_stable() {
        let body = ErrorBody {
            error: Error::invalid_field("email", "email_invalid", "not an email"),
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["error"]["code"], "validation_error");
        assert_eq!(v["error"]["details"]["field"], "email");
        let plain = serde_json::to_value(Error::conflict("taken")).unwrap();
        assert!(plain.get("details").is_none());
    }

    #[test]
    fn statuses() {
        assert_eq!(ErrorCode::Conflict.http_status(), 409);
        assert_eq!(ErrorCode::RateLimited.http_status(), 429);
        assert_eq!(ErrorCode::InternalError.http_status(), 500);
    }
}
