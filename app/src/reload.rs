//! Reloading what an island shows when something it shows may have changed.

use leptos::prelude::*;
use std::future::Future;

/// Each time `tick` changes (not when this is called), ask `fetch` again and put its answer
/// into `shown`. Only the answer to the newest change is shown: one that comes back after
/// `tick` moved on, or after the island is gone, is dropped, and so is an error (what was
/// shown stays). A plain signal rather than a resource: the first value comes with the
/// page, so hydration has nothing to fetch.
pub fn reload_on<T, E, Fut>(
    tick: RwSignal<u32>,
    shown: RwSignal<T>,
    fetch: impl Fn() -> Fut + 'static,
) where
    T: Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
{
    Effect::watch(
        move || tick.get(),
        move |asked, _, _| {
            let (asked, answer) = (*asked, fetch());
            leptos::task::spawn_local(async move {
                if let Ok(value) = answer.await {
                    if tick.try_get_untracked() == Some(asked) {
                        shown.try_set(value);
                    }
                }
            });
        },
        false,
    );
}
