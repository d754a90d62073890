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

/// Room for the wasm splitter. `cargo leptos build --split` (wasm_split_cli_support 0.2.3)
/// lays each output module's static data out again inside the read-only data segment the
/// linker wrote. Grouping by module adds alignment padding, and when the result comes out
/// longer than that segment, the splitter gives up on data and leaves all of it, every lazy
/// page's too, in the main module: about 75 kB raw, 35 kB gzip more on a first visit. At
/// `516b524` the release build fitted with 53 bytes to spare; the preview retries of
/// `0b9f731` needed 291 more. This block is kept by the linker (`#[used]`) but read by no
/// code, so the splitter drops it from every output module and its size is the room.
/// `promptlab-bench wasm-data` (run by `scripts/test.sh` and `bench/run.sh`) checks that
/// the data was split.
#[used]
static SPLIT_DATA_SLACK: [u8; 4096] = [0x5a; 4096];
