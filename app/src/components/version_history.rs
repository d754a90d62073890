//! The version history of a prompt (number, note, author, time, labels) and where each
//! label has been.

use crate::functions::prompts::Workspace;
use crate::i18n::*;
use leptos::prelude::*;

/// `2026-11-22 14:05 UTC`: the same text on the server and in the browser.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
pub fn VersionHistory(workspace: Workspace) -> impl IntoView {
    let i18n = use_i18n();
    let id = workspace.prompt.id;
    let versions = workspace.versions.clone();
    let history = workspace.history.clone();
    view! {
        <section class="card history" data-testid="history">
            <h2>{t!(i18n, history.title)}</h2>
            {versions.is_empty().then(|| view! { <p class="muted">{t!(i18n, history.none)}</p> })}
            <ol class="versions">
                {versions.into_iter().map(|v| {
                    let n = v.number;
                    view! {
                        <li data-version=n>
                            <a href=format!("/prompts/{id}/versions/{n}") class="version-link">{format!("v{n}")}</a>
                            {v.labels.iter().map(|l| view! { <span class="chip label">{l.clone()}</span> }).collect_view()}
                            <span class="note">{v.note.clone()}</span>
                            <span class="muted small">{v.author.name.clone()} " · " {when(&v.created_at)}</span>
                            {(n > 1).then(|| view! {
                                <a href=format!("/prompts/{id}/diff?from={}&to={n}", n - 1) class="small">{t!(i18n, history.diff_prev)}</a>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            {(!history.is_empty()).then(|| view! {
                <h3>{t!(i18n, history.label_history)}</h3>
                <ul class="label-history">
                    {history.into_iter().map(|e| view! {
                        <li>
                            <span class="chip label">{e.name.clone()}</span>
                            {e.from_version.map(|f| format!(" v{f} →")).unwrap_or_default()} {format!(" v{}", e.to_version)}
                            <span class="muted small">" " {t!(i18n, history.by)} " " {e.by.name.clone()} " · " {when(&e.at)}</span>
                        </li>
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}
