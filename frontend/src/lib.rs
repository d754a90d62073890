//! The wasm entry point: hydrate the server-rendered page. Nothing else lives here.
// Deeply nested Leptos view types need more than the default.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(promptlab_app::App);
}
