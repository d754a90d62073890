//! A short list of runs (a prompt's recent ones, or a page of history): status, version,
//! model, tokens, cost, latency, when, and the start of the output.

use super::run_view::{cost_text, ms_text, ModelLabel, StatusChip};
use super::version_history::when;
use crate::functions::runs::recent_runs;
use crate::i18n::*;
use leptos::prelude::*;
use promptlab::runs::RunSummary;
use uuid::Uuid;

/// One row per run, newest first.
#[component]
pub fn RunRows(runs: Vec<RunSummary>, #[prop(optional)] show_prompt: bool) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <table class="runs" data-testid="runs-table">
            <thead>
                <tr>
                    <th>{t!(i18n, runs.status)}</th>
                    {show_prompt.then(|| view! { <th>{t!(i18n, runs.prompt)}</th> })}
                    <th>{t!(i18n, runs.version)}</th>
                    <th>{t!(i18n, runs.model)}</th>
                    <th>{t!(i18n, runs.output_tokens)}</th>
                    <th>{t!(i18n, runs.cost)}</th>
                    <th>{t!(i18n, runs.latency)}</th>
                    <th>{t!(i18n, runs.started)}</th>
                    <th>{t!(i18n, runs.output)}</th>
                </tr>
            </thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let status = r.status;
                    let id = r.id;
                    let (prompt_id, prompt_name) = (r.prompt_id, r.prompt_name.clone());
                    view! {
                        <tr data-testid="run-row" data-run-id=id.to_string()>
                            <td><a href=format!("/runs/{id}")><StatusChip status=Signal::stored(status)/></a></td>
                            {show_prompt.then(|| view! { <td><a href=format!("/prompts/{prompt_id}")>{prompt_name}</a></td> })}
                            <td>{format!("v{}", r.version_number)}</td>
                            <td><ModelLabel summary=r.clone()/></td>
                            <td>{r.output_tokens.map(|t| t.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td data-testid="row-cost">{cost_text(r.cost_usd).unwrap_or_else(|| "—".into())}</td>
                            <td>{ms_text(r.latency_ms).unwrap_or_else(|| "—".into())}</td>
                            <td class="small">{when(&r.queued_at)}</td>
                            <td class="preview-cell"><a href=format!("/runs/{id}")>{r.preview.clone()}</a></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The latest runs of one prompt: `initial` (loaded with the page), reloaded when `tick`
/// changes ([`crate::reload::reload_on`]).
#[component]
pub fn RecentRuns(prompt_id: Uuid, initial: Vec<RunSummary>, tick: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let runs = RwSignal::new(initial);
    crate::reload::reload_on(tick, runs, move || recent_runs(prompt_id));
    view! {
        <section class="card recent-runs" data-testid="recent-runs">
            <h2>{t!(i18n, runs.recent)}</h2>
            {move || runs.with(|list| if list.is_empty() {
                view! { <p class="muted">{t!(i18n, runs.none)}</p> }.into_any()
            } else {
                view! { <div class="table-scroll"><RunRows runs=list.clone()/></div> }.into_any()
            })}
            <a href=format!("/runs?prompt_id={prompt_id}") class="small">{t!(i18n, runs.all_runs)}</a>
        </section>
    }
}
