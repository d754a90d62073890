//! What a server function needs from the request: the engine, the caller, and a way to
//! answer errors with the right HTTP status.

use leptos::prelude::*;
use promptlab::accounts::service::Identity;
use promptlab::engine::Engine;
use promptlab::{Error, ErrorCode};

/// The engine the server provided for this request.
pub fn engine() -> Result<Engine, Error> {
    use_context::<Engine>().ok_or_else(|| {
        tracing_free_log("engine missing from server function context");
        Error::internal()
    })
}

fn tracing_free_log(msg: &str) {
    leptos::logging::error!("{msg}");
}

fn headers() -> http::HeaderMap {
    use_context::<http::request::Parts>()
        .map(|p| p.headers)
        .unwrap_or_default()
}

/// The signed-in caller, or `None` when there is no valid session.
pub async fn caller(engine: &Engine) -> Result<Option<Identity>, Error> {
    let Some(token) = promptlab::auth::session_cookie::token_from(&headers()) else {
        return Ok(None);
    };
    match engine.authenticate(&token).await {
        Ok(who) => Ok(Some(who)),
        Err(e) if e.code == ErrorCode::Unauthorized => Ok(None),
        Err(e) => Err(e),
    }
}

/// The signed-in caller, or `unauthorized`.
pub async fn require_caller(engine: &Engine) -> Result<Identity, Error> {
    caller(engine)
        .await?
        .ok_or_else(|| fail(Error::unauthorized("sign in first")))
}

/// True for a plain HTML form post (no JavaScript): the answer should be a redirect.
pub fn wants_html() -> bool {
    headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Give an error its HTTP status for fetch callers. Plain form posts (no JavaScript) keep
/// the redirect back to the form, which carries the error to the page.
pub fn fail(error: Error) -> Error {
    if !wants_html() {
        if let (Some(response), Ok(status)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(error.code.http_status()),
        ) {
            response.set_status(status);
        }
    }
    error
}

/// Store the session cookie on the response.
pub fn set_session_cookie(engine: &Engine, token: &str, expires_at: chrono::DateTime<chrono::Utc>) {
    let cookie = promptlab::auth::session_cookie::set_until(
        token,
        expires_at,
        engine.config().secure_cookies(),
    );
    append_set_cookie(&cookie);
}

/// Remove the session cookie.
pub fn clear_session_cookie(engine: &Engine) {
    append_set_cookie(&promptlab::auth::session_cookie::clear(
        engine.config().secure_cookies(),
    ));
}

fn append_set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}
