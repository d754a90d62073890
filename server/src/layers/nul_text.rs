//! Text with a NUL character (U+0000) is refused, on every route and either database.
//!
//! PostgreSQL cannot store a NUL in a text column, so a prompt's name, a run's model or a
//! search filter holding one would end in a database error (a 500) there, after the run's
//! provider request was already sent, and be stored without complaint on SQLite. No field
//! of PromptLab has a use for it. So a request that encodes one, in its address (`%00`),
//! a JSON body (a `\u0000` escape) or a form body (`%00`), is answered 400
//! `validation_error` with the reason `nul_character` before any handler sees it.
//! A provider's text is cleaned where it arrives instead (`runs::pool::worker`).

use crate::api::error::error_response;
use crate::layers::body_limit::too_large;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use promptlab::{Error, ErrorCode};

/// How a body encodes its text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Json,
    Form,
}

fn body_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(Encoding::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(Encoding::Form)
    } else {
        None
    }
}

/// Whether percent-encoded text (an address, a form body) holds a NUL.
fn percent_nul(b: &[u8]) -> bool {
    b.contains(&0) || b.windows(3).any(|w| w == b"%00")
}

/// Whether a JSON text holds a NUL: a `\u0000` escape, that is `u0000` after an odd run of
/// backslashes (an even run is escaped backslashes, then the letters `u0000`).
fn json_nul(b: &[u8]) -> bool {
    if b.contains(&0) {
        return true;
    }
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'\\') {
        let start = i + off;
        let end = start + b[start..].iter().take_while(|&&c| c == b'\\').count();
        if (end - start) % 2 == 1 && b[end..].starts_with(b"u0000") {
            return true;
        }
        i = end;
    }
    false
}

fn refused(path: &str, place: &str) -> Response {
    let error = Error::invalid_field(
        place,
        "nul_character",
        "text may not contain the NUL character (U+0000)",
    );
    // A server function's client reads the error itself; REST and pages get the REST form.
    if path.starts_with("/api/") && !path.starts_with("/api/v1/") {
        (StatusCode::BAD_REQUEST, axum::Json(error)).into_response()
    } else {
        error_response(error)
    }
}

pub async fn refuse_nul(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    if percent_nul(uri.path().as_bytes()) || uri.query().is_some_and(|q| percent_nul(q.as_bytes()))
    {
        return refused(uri.path(), "address");
    }
    let Some(encoding) = body_encoding(req.headers()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The body is already capped (`body_limit`), so this reads at most the limit.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let limited =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            return if limited {
                too_large(state.engine.config().max_body_bytes)
            } else {
                error_response(Error::new(
                    ErrorCode::ValidationError,
                    "the request body could not be read",
                ))
            };
        }
    };
    let nul = match encoding {
        Encoding::Json => json_nul(&bytes),
        Encoding::Form => percent_nul(&bytes),
    };
    if nul {
        return refused(parts.uri.path(), "body");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_are_told_from_escaped_backslashes() {
        assert!(json_nul(br#"{"a":"x\u0000y"}"#));
        assert!(json_nul(br#"{"a":"\\\u0000"}"#));
        assert!(json_nul(b"{\"a\":\"\0\"}"));
        // An escaped backslash, then the letters: the text `\u0000`, no NUL.
        assert!(!json_nul(br#"{"a":"\\u0000"}"#));
        assert!(!json_nul(br#"{"a":"\\\\u0000"}"#));
        assert!(!json_nul(br#"{"a":"\u0001 \u0010"}"#));
        assert!(!json_nul(br#"{"a":"%00 and \n"}"#));
        assert!(!json_nul(br#"{"a":"ends with \\"}"#));
        assert!(!json_nul(b"\\"));
    }

    #[test]
    fn percent_encoded_nul_is_found_and_an_encoded_percent_is_not() {
        assert!(percent_nul(b"q=a%00b"));
        assert!(percent_nul(b"q=a\0b"));
        assert!(!percent_nul(b"q=100%2500"));
        assert!(!percent_nul(b"q=%20%30%300"));
    }

    #[test]
    fn bodies_are_read_by_their_content_type() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, ct.parse().unwrap());
            body_encoding(&h)
        };
        assert_eq!(with("application/json"), Some(Encoding::Json));
        assert_eq!(
            with("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(with("application/merge-patch+json"), Some(Encoding::Json));
        assert_eq!(
            with("application/x-www-form-urlencoded"),
            Some(Encoding::Form)
        );
        assert_eq!(with("text/plain"), None);
        assert_eq!(body_encoding(&HeaderMap::new()), None);
    }
}
