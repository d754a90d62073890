//! `/login`: sign in. A plain HTML form that also works without JavaScript.

use crate::components::error_notice::ErrorNotice;
use crate::components::locale_switch::LocaleSwitch;
use crate::components::theme_toggle::ThemeToggle;
use crate::functions::auth::{current_user, SignIn};
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

#[component]
pub fn Login() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Title text=t_string!(i18n, auth.login_title).to_string()/>
        <RedirectIfSignedIn/>
        <AuthFrame>
            <h1>{t!(i18n, auth.login_title)}</h1>
            <SignInForm/>
            <p class="muted">
                {t!(i18n, auth.no_account)} " " <A href="/register">{t!(i18n, auth.register_link)}</A>
            </p>
        </AuthFrame>
    }
}

/// The sign-in form: a plain post without JavaScript (an error comes back with the page);
/// in the browser an island, so an error shows in place and the email stays typed.
#[island(lazy)]
fn SignInForm() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::announce_lazy_island("sign_in_form_loader");
    crate::island_i18n();
    let i18n = use_i18n();
    let action = ServerAction::<SignIn>::new();
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
            <ActionForm action>
                <label>
                    <span>{t!(i18n, auth.email)}</span>
                    <input type="email" name="email" required autocomplete="email" maxlength="254"/>
                </label>
                <label>
                    <span>{t!(i18n, auth.password)}</span>
                    <input type="password" name="password" required autocomplete="current-password"/>
                </label>
                <ErrorNotice error/>
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    {t!(i18n, auth.submit_login)}
                </button>
            </ActionForm>
    }
}

/// The centred card the sign-in and sign-up pages share, with the preferences on top.
#[component]
pub fn AuthFrame(children: Children) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="auth-page">
            <div class="auth-tools">
                <LocaleSwitch/>
                <ThemeToggle/>
            </div>
            <p class="brand">{t!(i18n, brand)}</p>
            <p class="muted tagline">{t!(i18n, tagline)}</p>
            <section class="card auth-card">{children()}</section>
        </div>
    }
}

/// Someone already signed in has nothing to do here.
#[component]
pub fn RedirectIfSignedIn() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| current_user());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                matches!(me.await, Ok(Some(_))).then(|| view! { <Redirect path="/"/> })
            })}
        </Suspense>
    }
}
