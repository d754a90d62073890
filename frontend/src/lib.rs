//! The wasm entry point: hydrate the server-rendered page. Nothing else lives here.
// Deeply nested Leptos view types need more than the default.
#![recursion_limit = "512"]

use leptos::prelude::document;

/// Hydrates the page. Pages behind lazy routes (`promptlab_app::routes::split`) fetch
/// their wasm chunk first, so hydration is asynchronous; once all of it is done, `<body>`
/// gets `data-hydrated="true"`, which lets tests (and curious users) see that the wasm has
/// taken over the whole page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // hydrate_from_async makes wasm-bindgen-futures the reactive system's executor.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = document().body() else {
            return;
        };
        let owner = leptos::mount::hydrate_from_async(body.clone(), promptlab_app::App).await;
        owner.forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
