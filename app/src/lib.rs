//! PromptLab's Leptos UI, compiled twice: with `ssr` into the server (rendering pages and
//! running the server functions) and with `hydrate` into the browser's wasm.
//!
//! `routes/` holds one module per page, `components/` the pieces pages share, `functions/`
//! the server functions (thin: authenticate, call the engine, map the error), and the
//! generated `i18n` module every visible string goes through.
#![recursion_limit = "256"]

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

pub mod components;
pub mod functions;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod security;
pub mod theme;

use crate::i18n::I18nContextProvider;
use leptos::prelude::*;
use leptos_i18n::context::CookieOptions;
use leptos_meta::{provide_meta_context, Html, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// Name of the cookie holding the chosen locale (read by leptos_i18n and the no-JS switch).
pub const LOCALE_COOKIE: &str = "i18n_pref_locale";

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    security::set_page_csp(&options);
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: providers, document attributes and the route table.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let theme = theme::provide_theme();
    // Lets tests (and curious users) see that the wasm took over the page.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    let cookie_options = CookieOptions::default()
        .path("/")
        .max_age(365 * 24 * 3600 * 1000_i64);
    view! {
        <Stylesheet id="leptos" href="/pkg/promptlab.css"/>
        <Html {..} data-theme=move || theme.get().attribute()/>
        <Title formatter=|page: String| if page.is_empty() { "PromptLab".to_owned() } else { format!("{page} · PromptLab") }/>
        <I18nContextProvider cookie_name=LOCALE_COOKIE cookie_options=cookie_options>
            <Router>
                <Routes fallback=routes::not_found::NotFound>
                    <Route path=path!("/login") view=routes::login::Login ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=routes::register::Register ssr=SsrMode::Async/>
                    <ParentRoute path=path!("") view=components::app_layout::AppLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=routes::home::Home/>
                        <Route path=path!("/prompts") view=routes::prompts::PromptList/>
                        <Route path=path!("/prompts/:id") view=routes::prompt_page::PromptPage/>
                        <Route path=path!("/prompts/:id/versions/:n") view=routes::version_page::VersionPage/>
                        <Route path=path!("/prompts/:id/diff") view=routes::diff_page::DiffPage/>
                    </ParentRoute>
                </Routes>
            </Router>
        </I18nContextProvider>
    }
}
