//! Rejects state-changing requests made by another site. Server functions and cookie
//! sessions have no CSRF token; a browser always sends `Origin` (or `Sec-Fetch-Site`) on a
//! cross-site POST, so a foreign one is refused with 403. Requests without either (curl,
//! API clients with bearer tokens) are not browser-driven and pass.

use crate::api::error::error_response;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use promptlab::Error;

pub async fn reject_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !safe && is_cross_site(req.headers(), &state.engine.config().allowed_origins) {
        return error_response(Error::forbidden("cross-site request refused"));
    }
    next.run(req).await
}

/// True when the request comes from a page of another origin.
pub fn is_cross_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return true;
        };
        let origin = origin.trim_end_matches('/');
        if allowed.iter().any(|a| a == origin) {
            return false;
        }
        // "null" (sandboxed frames, file://) and anything unparsable are foreign.
        let Some((_, authority)) = origin.split_once("://") else {
            return true;
        };
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        return host != Some(authority);
    }
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_passes_foreign_fails() {
        assert!(!is_cross_site(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            &[]
        ));
        assert!(is_cross_site(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "https://evil.example")
            ]),
            &[]
        ));
        assert!(is_cross_site(
            &headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            &[]
        ));
        assert!(is_cross_site(
            &headers(&[("host", "a:1"), ("origin", "http://a:1.evil")]),
            &[]
        ));
        assert!(!is_cross_site(&headers(&[("host", "a:1")]), &[]));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &[]
        ));
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &[]
        ));
    }

    #[test]
    fn configured_origins_pass() {
        let allowed = vec!["https://app.example".to_owned()];
        assert!(!is_cross_site(
            &headers(&[("host", "internal:3000"), ("origin", "https://app.example")]),
            &allowed
        ));
    }
}
