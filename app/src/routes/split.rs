//! The pages the browser loads on first use. Each type below is a lazy route: built with
//! `cargo leptos build --split`, its page's code (and everything only it needs, such as
//! the template engine behind the editor's live preview) goes into a wasm chunk of its
//! own, fetched when the page is first shown. The sign-in pages, the home page and the
//! layout around every page stay in the main bundle, so a first visit downloads only them.
//!
//! On the server nothing is lazy: the page renders as before. Its HTML does not announce
//! the page's chunks (Leptos 0.8 means to, but emits no such link here), so a direct load
//! of one of these pages fetches the main module, then the page's chunks.
//!
//! Each page keeps its own resources in its component; `data()` starts nothing. The
//! page's data therefore loads after its chunk on client-side navigation (a short
//! waterfall on loopback-sized chunks), and from the server-rendered HTML on a first load.

use super::{diff_page, prompt_page, prompts, run_page, runs, version_page};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// A lazy route for `$page`, a page component without props. `#[lazy_route]` names the
/// split-off function after the type, so each route gets its own chunk.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:path) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }
            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    };
}

lazy_page!(
    /// `/prompts`.
    PromptListRoute => prompts::PromptList
);
lazy_page!(
    /// `/prompts/{id}`: the editor, with the template engine.
    PromptRoute => prompt_page::PromptPage
);
lazy_page!(
    /// `/prompts/{id}/versions/{n}`.
    VersionRoute => version_page::VersionPage
);
lazy_page!(
    /// `/prompts/{id}/diff`.
    DiffRoute => diff_page::DiffPage
);
lazy_page!(
    /// `/runs`.
    RunListRoute => runs::RunList
);
lazy_page!(
    /// `/runs/{id}`.
    RunRoute => run_page::RunPage
);
