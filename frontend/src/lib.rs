//! The wasm entry point: start the islands of the server-rendered page. Nothing else
//! lives here.
// Deeply nested Leptos view types need more than the default.
#![recursion_limit = "512"]

use leptos::prelude::document;

/// Starts the browser side. Leptos's island script calls this once the module is loaded,
/// then hydrates each island on the page (`promptlab_app` runs in islands mode); a lazy
/// island fetches its wasm chunks first. The last island marks `<body data-hydrated>`.
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
    leptos::mount::hydrate_islands();
}

/// Room for the wasm splitter. `cargo leptos build --split` (wasm_split_cli_support 0.2.3)
/// lays each output module's static data out again inside the read-only data segment the
/// linker wrote. Grouping by module adds alignment padding, and when the result comes out
/// longer than that segment, the splitter gives up on data and leaves all of it, every lazy
/// island's too, in the main module: about 75 kB raw, 35 kB gzip more on a first visit. At
/// `516b524` the release build fitted with 53 bytes to spare; the preview retries of
/// `0b9f731` needed 291 more. This block is kept by the linker (`#[used]`) but read by no
/// code, so the splitter drops it from every output module and its size is the room.
/// `promptlab-bench wasm-data` (run by `scripts/test.sh` and `bench/run.sh`) checks that
/// the data was split.
#[used]
static SPLIT_DATA_SLACK: [u8; 4096] = [0x5a; 4096];
