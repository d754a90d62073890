//! Text with a NUL character (U+0000) is refused, on every route and either database.
//!
//! PostgreSQL cannot store a NUL in a text column, so a prompt's name, a run's model or a
//! search filter holding one would end in a database error (a 500) there, after the run's
//! provider request was already sent, and be stored without complaint on SQLite. No field
//! of PromptLab has a use for it. So a request that encodes one, in its address (`%00`),
//! a JSON body (a `\u0000` escape) or a form body (`%00`), is answered 400
//! `validation_error` with the reason `nul_character` before any handler sees it.
//! A body is read as its reader will read it: a REST body by its `Content-Type`, a server
//! function's by the function's own encoding (server_fn does not look at the header).
//! A provider's text is cleaned where it arrives instead (`runs::pool::worker`).

use crate::api::error::{answer, is_server_fn};
use crate::layers::body_limit::too_large_error;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use promptlab::nul::{in_json, in_percent_encoded};
use promptlab::{Error, ErrorCode};

/// How a body encodes its text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Json,
    Form,
}

/// The encoding a REST body declares (the API's extractors refuse a body whose
/// `Content-Type` is not JSON).
fn declared_encoding(headers: &HeaderMap) -> Option<Encoding> {
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

/// How a request's body will be read. A server function decodes its body by the
/// function's own encoding whatever `Content-Type` says: JSON for the functions with
/// strict JSON arguments, a form for every other one.
fn encoding_of(path: &str, headers: &HeaderMap) -> Option<Encoding> {
    if !is_server_fn(path) {
        return declared_encoding(headers);
    }
    if promptlab_app::functions::strict::json_argument_paths().contains(&path) {
        Some(Encoding::Json)
    } else {
        Some(Encoding::Form)
    }
}

fn refused(path: &str, place: &str) -> Response {
    answer(
        path,
        Error::invalid_field(
            place,
            "nul_character",
            "text may not contain the NUL character (U+0000)",
        ),
    )
}

pub async fn refuse_nul(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    if in_percent_encoded(uri.path().as_bytes())
        || uri
            .query()
            .is_some_and(|q| in_percent_encoded(q.as_bytes()))
    {
        return refused(uri.path(), "address");
    }
    let Some(encoding) = encoding_of(uri.path(), req.headers()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // The body is already capped (`body_limit`), so this reads at most the limit.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let limited =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            let max = state.engine.config().max_body_bytes;
            return answer(
                path,
                if limited {
                    too_large_error(max)
                } else {
                    Error::new(
                        ErrorCode::ValidationError,
                        "the request body could not be read",
                    )
                },
            );
        }
    };
    let nul = match encoding {
        Encoding::Json => in_json(&bytes),
        Encoding::Form => in_percent_encoded(&bytes),
    };
    if nul {
        return refused(path, "body");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn rest_bodies_are_read_by_their_content_type() {
        let rest = |ct: &str| encoding_of("/api/v1/runs", &with_type(ct));
        assert_eq!(rest("application/json"), Some(Encoding::Json));
        assert_eq!(
            rest("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(rest("application/merge-patch+json"), Some(Encoding::Json));
        assert_eq!(
            rest("application/x-www-form-urlencoded"),
            Some(Encoding::Form)
        );
        assert_eq!(rest("text/plain"), None);
        assert_eq!(encoding_of("/api/v1/runs", &HeaderMap::new()), None);
    }

    #[test]
    fn server_function_bodies_are_read_as_the_function_reads_them() {
        for ct in [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
        ] {
            assert_eq!(
                encoding_of("/api/runs/start", &with_type(ct)),
                Some(Encoding::Json)
            );
            assert_eq!(
                encoding_of("/api/prompts/save", &with_type(ct)),
                Some(Encoding::Json)
            );
            assert_eq!(
                encoding_of("/api/prompts/create", &with_type(ct)),
                Some(Encoding::Form)
            );
        }
        assert_eq!(
            encoding_of("/api/runs/cancel", &HeaderMap::new()),
            Some(Encoding::Form)
        );
    }
}
