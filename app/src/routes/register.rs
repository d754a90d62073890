//! `/register`: create an account (and its personal project). Works without JavaScript.

use super::login::{AuthFrame, RedirectIfSignedIn};
use crate::components::error_notice::ErrorNotice;
use crate::functions::auth::SignUp;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn Register() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Title text=t_string!(i18n, auth.register_title).to_string()/>
        <RedirectIfSignedIn/>
        <AuthFrame>
            <h1>{t!(i18n, auth.register_title)}</h1>
            <SignUpForm/>
            <p class="muted">
                {t!(i18n, auth.have_account)} " " <A href="/login">{t!(i18n, auth.login_link)}</A>
            </p>
        </AuthFrame>
    }
}

/// The sign-up form: a plain post without JavaScript; in the browser an island, so an
/// error shows in place and what was typed stays.
#[island(lazy)]
fn SignUpForm() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::announce_lazy_island("sign_up_form_loader");
    crate::island_i18n();
    let i18n = use_i18n();
    let action = ServerAction::<SignUp>::new();
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
            <ActionForm action>
                <label>
                    <span>{t!(i18n, auth.name)}</span>
                    <input type="text" name="name" required autocomplete="name" maxlength="100"/>
                </label>
                <label>
                    <span>{t!(i18n, auth.email)}</span>
                    <input type="email" name="email" required autocomplete="email" maxlength="254"/>
                </label>
                <label>
                    <span>{t!(i18n, auth.password)}</span>
                    <input type="password" name="password" required minlength="8" autocomplete="new-password"/>
                    <small class="muted">{t!(i18n, auth.password_hint)}</small>
                </label>
                <ErrorNotice error/>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    {t!(i18n, auth.submit_register)}
                </button>
            </ActionForm>
    }
}
