//! Shared state of the axum router.

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use promptlab::engine::Engine;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub engine: Engine,
    pub leptos_options: LeptosOptions,
}
