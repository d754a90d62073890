//! The language switch. Each choice is a link to `/prefs/locale/{locale}`, which sets the
//! cookie and comes back to the page, rendered by the server in the chosen language. (The
//! page's text is the server's: only its islands run in the browser, so a switch in place
//! would leave most of it in the old language.)

use crate::i18n::*;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn LocaleSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let location = use_location();
    let choices = [
        (Locale::en, "EN", "English"),
        (Locale::pt_BR, "PT", "Português (Brasil)"),
    ];
    view! {
        <div class="locale-switch" role="group" aria-label=move || t_string!(i18n, prefs.language)>
            {choices
                .into_iter()
                .map(|(locale, short, long)| {
                    let href = move || {
                        format!("/prefs/locale/{}?next={}", locale.as_str(), encode(&location.pathname.get()))
                    };
                    view! {
                        <a
                            href=href
                            hreflang=locale.as_str()
                            title=long
                            data-locale=locale.as_str()
                            class="chip"
                            aria-current=move || (i18n.get_locale() == locale).then_some("true")
                        >
                            {short}
                        </a>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Percent-encode a path for a query parameter.
pub fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
