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

/// `/prompts`.
pub struct PromptListRoute;

#[lazy_route]
impl LazyRoute for PromptListRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        prompts::PromptList().into_any()
    }
}

/// `/prompts/{id}`: the editor, with the template engine.
pub struct PromptRoute;

#[lazy_route]
impl LazyRoute for PromptRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        prompt_page::PromptPage().into_any()
    }
}

/// `/prompts/{id}/versions/{n}`.
pub struct VersionRoute;

#[lazy_route]
impl LazyRoute for VersionRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        version_page::VersionPage().into_any()
    }
}

/// `/prompts/{id}/diff`.
pub struct DiffRoute;

#[lazy_route]
impl LazyRoute for DiffRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        diff_page::DiffPage().into_any()
    }
}

/// `/runs`.
pub struct RunListRoute;

#[lazy_route]
impl LazyRoute for RunListRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        runs::RunList().into_any()
    }
}

/// `/runs/{id}`.
pub struct RunRoute;

#[lazy_route]
impl LazyRoute for RunRoute {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        run_page::RunPage().into_any()
    }
}
