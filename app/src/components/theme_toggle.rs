//! Light/dark toggle. A link to `/prefs/theme/{theme}` without JavaScript; in the browser
//! (a small island) it switches in place. While no choice is made the page follows the
//! system setting.

use super::locale_switch::encode;
use crate::i18n::*;
use crate::theme::Theme;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = expect_context::<Theme>();
    let path = use_location().pathname.get_untracked();
    view! { <ThemeSwitch current=theme.as_str().to_owned() path/> }
}

/// `current` is the theme the page was rendered with, `path` the page's path (where the
/// link without JavaScript comes back to).
#[island]
fn ThemeSwitch(current: String, path: String) -> impl IntoView {
    crate::island_i18n();
    let i18n = use_i18n();
    let theme = RwSignal::new(Theme::parse(&current));
    // Without JavaScript the server cannot know the system setting; guess "to dark".
    let target = move || match theme.get() {
        Theme::Dark => Theme::Light,
        Theme::Light | Theme::System => Theme::Dark,
    };
    let label = move || match target() {
        Theme::Light => t_string!(i18n, prefs.theme_to_light),
        _ => t_string!(i18n, prefs.theme_to_dark),
    };
    view! {
        <a
            class="icon-button theme-toggle"
            data-testid="theme-toggle"
            href=move || format!("/prefs/theme/{}?next={}", target().as_str(), encode(&path))
            title=label
            aria-label=label
            on:click=move |ev| {
                ev.prevent_default();
                #[cfg(feature = "hydrate")]
                {
                    let next = match theme.get_untracked() {
                        Theme::Dark => Theme::Light,
                        Theme::Light => Theme::Dark,
                        Theme::System => if crate::theme::system_prefers_dark() { Theme::Light } else { Theme::Dark },
                    };
                    crate::theme::remember(next);
                    crate::theme::show(next);
                    theme.set(next);
                }
            }
        >
            <span class="icon-sun" aria-hidden="true">"☀"</span>
            <span class="icon-moon" aria-hidden="true">"☾"</span>
        </a>
    }
}
