//! Preference links that work without JavaScript: `/prefs/locale/{locale}` and
//! `/prefs/theme/{theme}` set their cookie and send the browser back to `next` (a path on
//! this site only, so they cannot be used as an open redirect).

use crate::api::error::ApiError;
use crate::api::extract::{ApiPath, ApiQuery};
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use leptos_i18n::Locale as _;
use promptlab::Error;
use promptlab_app::i18n::Locale;
use promptlab_app::theme::{Theme, THEME_COOKIE};
use promptlab_app::LOCALE_COOKIE;
use serde::Deserialize;

const ONE_YEAR: u32 = 365 * 24 * 3600;

#[derive(Deserialize)]
pub struct Back {
    next: Option<String>,
}

pub async fn locale(
    ApiPath(locale): ApiPath<String>,
    ApiQuery(back): ApiQuery<Back>,
) -> Result<Response, ApiError> {
    let locale: Locale = locale
        .parse()
        .map_err(|_| Error::invalid_field("locale", "locale_unknown", "unknown locale"))?;
    Ok(remember(
        LOCALE_COOKIE,
        locale.as_str(),
        back.next.as_deref(),
    ))
}

pub async fn theme(
    ApiPath(theme): ApiPath<String>,
    ApiQuery(back): ApiQuery<Back>,
) -> Result<Response, ApiError> {
    let parsed = Theme::parse(&theme);
    if parsed.as_str() != theme {
        return Err(Error::invalid_field(
            "theme",
            "theme_unknown",
            "theme is light, dark or system",
        )
        .into());
    }
    Ok(remember(
        THEME_COOKIE,
        parsed.as_str(),
        back.next.as_deref(),
    ))
}

fn remember(cookie: &str, value: &str, next: Option<&str>) -> Response {
    let set = format!("{cookie}={value}; Path=/; Max-Age={ONE_YEAR}; SameSite=Lax");
    ([(SET_COOKIE, set)], Redirect::to(safe_next(next))).into_response()
}

/// `next` if it is a path on this site, else `/`. Only visible ASCII passes: browsers drop
/// tabs and line breaks from a URL before reading it (`/\t/evil.example` would be
/// `//evil.example`, another site), and a header cannot hold a line break or non-ASCII
/// text at all. A path from the browser's address is percent-encoded already.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic())
                && !n.contains('\\')
                && !n.contains("://") =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths() {
        assert_eq!(safe_next(Some("/register")), "/register");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        // Browsers drop tabs and line breaks inside a URL: each of these is `//evil.example`.
        for hidden in ["\t", "\n", "\r", "\u{0b}", "\u{0c}", " "] {
            let next = format!("/{hidden}/evil.example");
            assert_eq!(safe_next(Some(&next)), "/", "{next:?}");
        }
        // A header holds visible ASCII only; the browser sends the rest percent-encoded.
        assert_eq!(safe_next(Some("/prompts/caf\u{e9}")), "/");
        assert_eq!(
            safe_next(Some("/prompts/caf%C3%A9?tag=a-b")),
            "/prompts/caf%C3%A9?tag=a-b"
        );
    }
}
