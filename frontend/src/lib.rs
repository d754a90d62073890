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
    // A panic aborts the whole module and the page stops responding: log it as usual, and
    // reveal the app's notice that says so and offers a reload.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        if let Some(notice) = document().get_element_by_id(promptlab_app::STOPPED_NOTICE_ID) {
            let _ = notice.remove_attribute("hidden");
        }
    }));
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
