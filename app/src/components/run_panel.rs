//! The editor's run panel: pick a provider and model, run the saved version with the
//! variable values from the editor (Ctrl/Cmd+Enter), and watch the output stream in.

use super::error_notice::ErrorNotice;
use super::run_view::RunView;
use crate::functions::runs::BeginRun;
use crate::i18n::*;
use leptos::prelude::*;
use promptlab::runs::{ParamOverrides, ProviderInfo, Run, StartRun};
use promptlab::versions::VersionContent;
use serde_json::{Map, Value};
use uuid::Uuid;

#[component]
pub fn RunPanel(
    prompt_id: Uuid,
    /// The saved version the editor is on (0: none yet).
    base: RwSignal<i32>,
    content: RwSignal<VersionContent>,
    values: RwSignal<Map<String, Value>>,
    /// Called when a run ends (to refresh lists).
    on_finished: Callback<()>,
    /// What the server can run (loaded with the page, so nothing waits on it).
    catalog: Vec<ProviderInfo>,
) -> impl IntoView {
    let i18n = use_i18n();
    let catalog = StoredValue::new(catalog);
    // Start from the version's provider and model when this server has them, else the mock.
    let (p0, m0) = content.with_untracked(|c| (c.params.provider.clone(), c.params.model.clone()));
    let (p0, m0) = match catalog.with_value(|list| list.iter().find(|i| i.name == p0).cloned()) {
        Some(info) if info.models.is_empty() || info.models.contains(&m0) => (p0, m0),
        Some(info) => (p0, info.models.first().cloned().unwrap_or_default()),
        None => catalog
            .with_value(|list| list.iter().find(|i| i.mock).or(list.first()).cloned())
            .map(|i| (i.name, i.models.first().cloned().unwrap_or_default()))
            .unwrap_or((p0, m0)),
    };
    let provider = RwSignal::new(p0);
    let model = RwSignal::new(m0);
    let bypass = RwSignal::new(false);
    // Overrides for this run only; empty keeps the version's value.
    let temperature = RwSignal::new(String::new());
    let max_tokens = RwSignal::new(String::new());
    let start = ServerAction::<BeginRun>::new();
    let current = RwSignal::new(None::<Run>);
    let providers = move || catalog.get_value();
    let models = move || {
        let p = provider.get();
        providers()
            .into_iter()
            .find(|i| i.name == p)
            .map(|i| i.models)
            .unwrap_or_default()
    };
    let is_mock = move || {
        providers()
            .iter()
            .any(|i| i.mock && i.name == provider.get())
    };

    let run = move |rerun: bool| {
        if base.get_untracked() == 0 || start.pending().get_untracked() {
            return;
        }
        start.dispatch(BeginRun {
            req: StartRun {
                prompt_id,
                version: Some(base.get_untracked()),
                variables: values.get_untracked(),
                provider: Some(provider.get_untracked()),
                model: Some(model.get_untracked()),
                params: ParamOverrides {
                    temperature: temperature.get_untracked().trim().parse().ok(),
                    max_tokens: max_tokens.get_untracked().trim().parse().ok(),
                    ..ParamOverrides::default()
                },
                bypass_cache: rerun || bypass.get_untracked(),
            },
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(started)) = start.value().get() {
            if started.run.summary.status.is_terminal() {
                // A cache hit is over before it starts.
                on_finished.run(());
            }
            current.set(Some(started.run));
        }
    });
    let error = Signal::derive(move || start.value().get().and_then(|r| r.err()));

    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter" {
                ev.prevent_default();
                run(false);
            }
        });
        on_cleanup(move || handle.remove());
    }

    view! {
        <section class="card run-panel" data-testid="run-panel">
            <h2>{t!(i18n, runs.panel)}</h2>
            <div class="grid">
                <label>
                    <span>{t!(i18n, runs.provider)}</span>
                    <select data-testid="run-provider" on:change=move |ev| {
                        let p = event_target_value(&ev);
                        let first = providers().into_iter().find(|i| i.name == p).and_then(|i| i.models.first().cloned());
                        provider.set(p);
                        if let Some(m) = first { model.set(m) }
                    }>
                        {move || providers().into_iter().map(|p| {
                            let name = p.name.clone();
                            view! { <option value=name.clone() selected=move || provider.get() == name>{p.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    <span>{t!(i18n, runs.model)}</span>
                    {move || {
                        let list = models();
                        if list.is_empty() {
                            view! { <input type="text" data-testid="run-model" prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev))/> }.into_any()
                        } else {
                            view! {
                                <select data-testid="run-model" on:change=move |ev| model.set(event_target_value(&ev))>
                                    {list.into_iter().map(|m| {
                                        let v = m.clone();
                                        view! { <option value=v.clone() selected=move || model.get() == v>{m}</option> }
                                    }).collect_view()}
                                </select>
                            }.into_any()
                        }
                    }}
                </label>
            </div>
            <div class="grid">
                <label>
                    <span>{t!(i18n, editor.temperature)}</span>
                    <input type="number" min="0" max="2" step="0.1" data-testid="run-temperature"
                        placeholder=move || content.with(|c| c.params.temperature.map(|t| t.to_string()).unwrap_or_default())
                        prop:value=move || temperature.get() on:input=move |ev| temperature.set(event_target_value(&ev))/>
                </label>
                <label>
                    <span>{t!(i18n, editor.max_tokens)}</span>
                    <input type="number" min="1" step="1" data-testid="run-max-tokens"
                        placeholder=move || content.with(|c| c.params.max_tokens.map(|t| t.to_string()).unwrap_or_default())
                        prop:value=move || max_tokens.get() on:input=move |ev| max_tokens.set(event_target_value(&ev))/>
                </label>
            </div>
            <Show when=is_mock>
                <p class="notice mock-notice" data-testid="mock-notice">{t!(i18n, runs.mock_label)}</p>
            </Show>
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || bypass.get() on:change=move |ev| bypass.set(event_target_checked(&ev))/>
                <span>{t!(i18n, runs.bypass_cache)}</span>
            </label>
            <p class="muted small">
                {move || if base.get() == 0 {
                    t_string!(i18n, runs.no_version).to_string()
                } else {
                    format!("{} v{} · {}", t_string!(i18n, runs.runs_version), base.get(), t_string!(i18n, runs.shortcut))
                }}
            </p>
            <ErrorNotice error/>
            <div class="actions">
                <button type="button" class="button primary" data-testid="run" disabled=move || base.get() == 0 || start.pending().get() on:click=move |_| run(false)>
                    {t!(i18n, runs.run)}
                </button>
                <Show when=move || current.with(Option::is_some)>
                    <button type="button" class="button" data-testid="rerun" disabled=move || start.pending().get() on:click=move |_| run(true)>
                        {t!(i18n, runs.rerun)}
                    </button>
                    <a class="small" href=move || current.with(|r| r.as_ref().map(|r| format!("/runs/{}", r.summary.id)).unwrap_or_default()) data-testid="run-link">
                        {t!(i18n, runs.open)}
                    </a>
                </Show>
            </div>
            {move || current.get().map(|r| view! { <RunView run=r on_final=Callback::new(move |_| on_finished.run(()))/> })}
        </section>
    }
}
