//! `/runs/{id}`: one run in full: status and output (live while it runs, when hydrated),
//! tokens, cost and timings, the messages that were sent, variables and parameters.
//! Rendered on the server; a run not over yet is a lazy island that follows its events,
//! a finished one is plain HTML.

use crate::components::error_notice::ErrorNotice;
use crate::components::role_label::role_label;
use crate::components::run_view::RunView;
use crate::components::version_history::when;
use crate::functions::runs::get_run;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use promptlab::runs::Run;
use promptlab::Error;
use uuid::Uuid;

#[component]
pub fn RunPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|s| Uuid::parse_str(&s).ok())
                .ok_or_else(|| Error::not_found("run not found"))
        })
    };
    let run = Resource::new_blocking(id, |id| async move { get_run(id?).await });
    view! {
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match run.await {
                    Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    Ok(r) => {
                        let s = r.summary.clone();
                        let pid = s.prompt_id;
                        let n = s.version_number;
                        view! {
                            <Title text=format!("{} v{n} · {}", s.prompt_name, t_string!(i18n, runs.title))/>
                            <div class="page-head">
                                <div>
                                    <A href="/runs" attr:class="small">"← " {t!(i18n, runs.all_runs)}</A>
                                    <h1 data-testid="run-title">
                                        <A href=format!("/prompts/{pid}")>{s.prompt_name.clone()}</A>
                                        " · " <A href=format!("/prompts/{pid}/versions/{n}")>{format!("v{n}")}</A>
                                    </h1>
                                    <p class="muted small">{when(&s.queued_at)} " · " <code>{s.id.to_string()}</code></p>
                                </div>
                            </div>
                            <div class="two-col wide">
                                {
                                    let run = live_part(r.clone());
                                    if s.status.is_terminal() {
                                        // Over: nothing will change, so no island (and
                                        // none of its code) for it.
                                        view! { <RunView run/> }.into_any()
                                    } else {
                                        view! { <LiveRun run/> }.into_any()
                                    }
                                }
                                <aside class="card">
                                    <h2>{t!(i18n, runs.messages_sent)}</h2>
                                    {r.messages.iter().map(|m| {
                                        let role = m.role;
                                        view! {
                                            <div class="preview-message">
                                                <span class="chip">{move || role_label(i18n, role)}</span>
                                                <pre>{m.content.clone()}</pre>
                                            </div>
                                        }
                                    }).collect_view()}
                                    {(!r.variables.is_empty()).then(|| view! {
                                        <h2>{t!(i18n, runs.variables)}</h2>
                                        <pre class="params-json">{serde_json::to_string_pretty(&r.variables).unwrap_or_default()}</pre>
                                    })}
                                    <h2>{t!(i18n, runs.params)}</h2>
                                    <pre class="params-json">{serde_json::to_string_pretty(&r.params).unwrap_or_default()}</pre>
                                    <p class="muted small">"run key " <code>{s.run_key.clone()}</code></p>
                                </aside>
                            </div>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// What the run view shows of a run: its summary and output. The messages sent and the
/// variables are on the page already, beside it, and are not written into the island's
/// props again.
fn live_part(mut run: Run) -> Run {
    run.messages.clear();
    run.variables.clear();
    run
}

/// The run's status, output and figures, following the run's events while it is not over.
#[island(lazy)]
fn LiveRun(run: Run) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::announce_lazy_island("live_run_loader");
    crate::island_i18n();
    view! { <RunView run/> }
}
