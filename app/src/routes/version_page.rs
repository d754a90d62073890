//! `/prompts/{id}/versions/{n}`: one saved version, read-only, with restore and labels.
//! Both forms are plain posts, so the page works fully without JavaScript.

use super::prompt_page::prompt_id_param;
use crate::components::error_notice::ErrorNotice;
use crate::components::role_label::role_label;
use crate::components::version_history::when;
use crate::functions::prompts::{get_version, RestoreVersion, SetLabel};
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use promptlab::Error;

#[component]
pub fn VersionPage() -> impl IntoView {
    let i18n = use_i18n();
    let id = prompt_id_param();
    let params = use_params_map();
    let number =
        Signal::derive(move || params.with(|p| p.get("n").and_then(|n| n.parse::<i32>().ok())));
    let restore = ServerAction::<RestoreVersion>::new();
    let label = ServerAction::<SetLabel>::new();
    // Reload after a label moves: the page stays at the same address.
    let version = Resource::new_blocking(
        move || (id.get(), number.get(), label.version().get()),
        |(id, n, _)| async move {
            get_version(id?, n.ok_or_else(|| Error::not_found("version not found"))?).await
        },
    );
    let error = Signal::derive(move || {
        restore
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| label.value().get().and_then(|r| r.err()))
    });
    view! {
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match version.await {
                    Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    Ok((prompt, v)) => {
                        let pid = prompt.id;
                        let n = v.number;
                        view! {
                            <Title text=format!("{} v{n}", prompt.name)/>
                            <div class="page-head">
                                <div>
                                    <A href=format!("/prompts/{pid}") attr:class="small">"← " {t!(i18n, version.open_editor)}</A>
                                    <h1 data-testid="version-title">{prompt.name.clone()} " · v" {n}</h1>
                                    <p class="muted">
                                        {v.note.clone()} " · " {t!(i18n, version.author)} ": " {v.author.name.clone()} " · " {when(&v.created_at)}
                                    </p>
                                    <p>{v.labels.iter().map(|l| view! { <span class="chip label" data-testid="version-label">{l.clone()}</span> }).collect_view()}</p>
                                </div>
                            </div>
                            <p class="muted">{t!(i18n, version.read_only)} " " <code class="small">{v.content_hash.clone()}</code></p>
                            <div class="two-col wide">
                                <section class="card">
                                    <h2>{t!(i18n, editor.messages)}</h2>
                                    {v.content.messages.iter().map(|m| {
                                        let role = m.role;
                                        view! {
                                        <div class="preview-message">
                                            <span class="chip">{move || role_label(i18n, role)}</span>
                                            <pre data-testid="version-message">{m.content.clone()}</pre>
                                        </div>
                                    }}).collect_view()}
                                    <h2>{t!(i18n, editor.params)}</h2>
                                    <pre class="params-json">{serde_json::to_string_pretty(&v.content.params).unwrap_or_default()}</pre>
                                    {(!v.content.variables.is_empty()).then(|| view! {
                                        <h2>{t!(i18n, editor.variables)}</h2>
                                        <pre class="params-json">{serde_json::to_string_pretty(&v.content.variables).unwrap_or_default()}</pre>
                                    })}
                                </section>
                                <aside class="card">
                                    <ErrorNotice error/>
                                    <ActionForm action=restore>
                                        <input type="hidden" name="prompt_id" value=pid.to_string()/>
                                        <input type="hidden" name="number" value=n/>
                                        <button type="submit" class="button" data-testid="restore">{t!(i18n, version.restore)}</button>
                                    </ActionForm>
                                    <ActionForm action=label>
                                        <input type="hidden" name="prompt_id" value=pid.to_string()/>
                                        <input type="hidden" name="number" value=n/>
                                        <label>
                                            <span>{t!(i18n, version.label)}</span>
                                            <input type="text" name="label" value="production" list="label-names" required maxlength="40" data-testid="label-name"/>
                                            <datalist id="label-names">
                                                <option value="production"></option>
                                                <option value="staging"></option>
                                            </datalist>
                                        </label>
                                        <button type="submit" class="button" data-testid="set-label">{t!(i18n, version.set_label)}</button>
                                    </ActionForm>
                                    {(n > 1).then(|| view! {
                                        <A href=format!("/prompts/{pid}/diff?from={}&to={n}", n - 1)>{t!(i18n, history.diff_prev)}</A>
                                    })}
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
