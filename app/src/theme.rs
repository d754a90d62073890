//! Light/dark theme. Until a user chooses, the page follows `prefers-color-scheme` (pure
//! CSS); a choice is kept in a cookie the server reads to render `<html data-theme>`.

use leptos::prelude::*;

/// Cookie that holds an explicit choice.
pub const THEME_COOKIE: &str = "promptlab_theme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// No choice yet: follow the operating system.
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "light" => Self::Light,
            "dark" => Self::Dark,
            _ => Self::System,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    /// Value of `<html data-theme>`; absent while following the system.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Self::System => None,
            other => Some(other.as_str()),
        }
    }
}

/// Read the theme the page is rendered with from the cookie and share it with the tree
/// (a value, not a signal: the page is rendered once, on the server; the toggle's island
/// keeps its own).
pub fn provide_theme() -> Theme {
    let theme = initial();
    provide_context(theme);
    theme
}

#[cfg(feature = "ssr")]
fn initial() -> Theme {
    use_context::<http::request::Parts>()
        .and_then(|parts| promptlab::auth::session_cookie::cookie(&parts.headers, THEME_COOKIE))
        .map(|v| Theme::parse(&v))
        .unwrap_or(Theme::System)
}

#[cfg(not(feature = "ssr"))]
fn initial() -> Theme {
    Theme::System
}

/// Remember a choice in the browser (the no-JS path sets the same cookie on the server).
#[cfg(feature = "hydrate")]
pub fn remember(theme: Theme) {
    crate::remember_preference(THEME_COOKIE, theme.as_str());
}

/// Show `theme` on the page: `<html data-theme>`, which the server sets on the first render.
#[cfg(feature = "hydrate")]
pub fn show(theme: Theme) {
    if let Some(root) = document().document_element() {
        let _ = match theme.attribute() {
            Some(value) => root.set_attribute("data-theme", value),
            None => root.remove_attribute("data-theme"),
        };
    }
}

/// Whether the operating system currently prefers dark.
#[cfg(feature = "hydrate")]
pub fn system_prefers_dark() -> bool {
    window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .map(|m| m.matches())
        .unwrap_or(false)
}
