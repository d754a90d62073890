//! How a session token travels over HTTP: an HttpOnly, SameSite=Lax cookie for browsers
//! (Secure outside development), or `Authorization: Bearer` for API clients. Shared by the
//! REST handlers and the server functions so both read and write it the same way.

use http::header::{AUTHORIZATION, COOKIE};
use http::HeaderMap;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "promptlab_session";

/// `Set-Cookie` value that stores a session token for `max_age_secs`.
pub fn set(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// `Set-Cookie` value that stores a session token until it expires.
pub fn set_until(token: &str, expires_at: chrono::DateTime<chrono::Utc>, secure: bool) -> String {
    set(
        token,
        (expires_at - chrono::Utc::now()).num_seconds().max(0),
        secure,
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear(secure: bool) -> String {
    set("", 0, secure)
}

/// The token of a request: the bearer token if present, else the session cookie.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let mut parts = value.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_owned());
            }
        }
    }
    cookie(headers, COOKIE_NAME).filter(|t| !t.is_empty())
}

/// The value of a named cookie, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_bearer_before_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; promptlab_session=fromcookie; b=2"),
        );
        assert_eq!(token_from(&h).as_deref(), Some("fromcookie"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer fromheader"));
        assert_eq!(token_from(&h).as_deref(), Some("fromheader"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(token_from(&h).as_deref(), Some("fromcookie"));
    }

    #[test]
    fn cookie_attributes() {
        let c = set("t", 60, true);
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60", "Path=/"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!set("t", 60, false).contains("Secure"));
        assert!(clear(false).contains("Max-Age=0"));
        assert_eq!(token_from(&HeaderMap::new()), None);
    }
}
