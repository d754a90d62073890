//! The signed-in part of the app: checks the session before anything renders (on the
//! server this is a 302 to `/login`), then shows the header and the page.

use super::site_header::SiteHeader;
use crate::functions::auth::current_user;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect};
use promptlab::accounts::Me;
use promptlab::Error;

/// The current user, shared with the pages under the layout.
pub type MeResource = Resource<Result<Option<Me>, Error>>;

#[component]
pub fn AppLayout() -> impl IntoView {
    let i18n = use_i18n();
    let me: MeResource = Resource::new_blocking(|| (), |_| current_user());
    provide_context(me);
    view! {
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! {
                        <SiteHeader me/>
                        <main class="page">
                            <Outlet/>
                        </main>
                    }
                    .into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! {
                        <main class="page">
                            <super::error_notice::ErrorNotice error=Signal::derive(move || Some(e.clone()))/>
                        </main>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}
