//! The header of the signed-in app: brand, language switch, theme toggle and user menu.

use super::locale_switch::LocaleSwitch;
use super::theme_toggle::ThemeToggle;
use crate::functions::auth::SignOut;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_router::components::A;
use promptlab::accounts::Me;

#[component]
pub fn SiteHeader(me: Me) -> impl IntoView {
    let i18n = use_i18n();
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="site-header">
            <div class="header-left">
                <A href="/" attr:class="brand">{t!(i18n, brand)}</A>
                <A href="/prompts" attr:class="nav-link" attr:data-testid="nav-prompts">{t!(i18n, nav.prompts)}</A>
                <A href="/runs" attr:class="nav-link" attr:data-testid="nav-runs">{t!(i18n, nav.runs)}</A>
            </div>
            <nav class="header-tools">
                <LocaleSwitch/>
                <ThemeToggle/>
                <details class="user-menu">
                    <summary aria-label=move || t_string!(i18n, nav.user_menu) data-testid="user-menu">
                        <span class="avatar" aria-hidden="true">{initial(&me.user.name)}</span>
                        <span class="user-name">{me.user.name.clone()}</span>
                    </summary>
                    <div class="menu">
                        <p class="muted">{t!(i18n, nav.signed_in_as)} " " <strong>{me.user.email.clone()}</strong></p>
                        <ActionForm action=sign_out>
                            <button type="submit" class="button secondary" data-testid="logout">
                                {t!(i18n, auth.logout)}
                            </button>
                        </ActionForm>
                    </div>
                </details>
            </nav>
        </header>
    }
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}
