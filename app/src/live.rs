//! Live updates in the hydrated page: server-sent events from the run endpoints, through
//! the browser's `EventSource` (which reconnects by itself, sending `Last-Event-ID`).
//! Subscriptions close when the component that opened them goes away.

use promptlab::runs::{RunEvent, RunSummary};
use send_wrapper::SendWrapper;
use std::rc::Rc;
use uuid::Uuid;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Every event name a run stream sends.
const RUN_EVENTS: &[&str] = &[
    "snapshot",
    "queued",
    "started",
    "delta",
    "retrying",
    "usage",
    "succeeded",
    "failed",
    "canceled",
];

struct Subscription {
    source: web_sys::EventSource,
    _listeners: Vec<Closure<dyn FnMut(web_sys::MessageEvent)>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Listen to `names` on `url` until the current reactive owner is cleaned up.
/// `on` gets the event name and its data; returning false closes the stream.
fn subscribe(url: &str, names: &[&str], on: impl Fn(&str, String) -> bool + 'static) {
    let Ok(source) = web_sys::EventSource::new(url) else {
        return;
    };
    let on = Rc::new(on);
    let mut listeners = Vec::new();
    for name in names {
        let (on, n, src) = (on.clone(), (*name).to_owned(), source.clone());
        let cb =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(data) = ev.data().as_string() {
                    if !on(&n, data) {
                        src.close();
                    }
                }
            });
        if source
            .add_event_listener_with_callback(name, cb.as_ref().unchecked_ref())
            .is_err()
        {
            source.close();
            return;
        }
        listeners.push(cb);
    }
    let sub = SendWrapper::new(Subscription {
        source,
        _listeners: listeners,
    });
    leptos::prelude::on_cleanup(move || drop(sub));
}

/// Follow one run's events until its final one.
pub fn follow_run(id: Uuid, on: impl Fn(RunEvent) + 'static) {
    subscribe(
        &format!("/api/v1/runs/{id}/events"),
        RUN_EVENTS,
        move |_, data| match serde_json::from_str::<RunEvent>(&data) {
            Ok(ev) => {
                let last = ev.kind.is_terminal();
                on(ev);
                !last
            }
            Err(_) => true,
        },
    );
}

/// Follow the signed-in user's run updates (`None` means "reload everything").
pub fn follow_my_runs(on: impl Fn(Option<RunSummary>) + 'static) {
    subscribe(
        "/api/v1/runs/events",
        &["run", "resync"],
        move |name, data| {
            if name == "resync" {
                on(None);
            } else if let Ok(run) = serde_json::from_str::<RunSummary>(&data) {
                on(Some(run));
            }
            true
        },
    );
}
