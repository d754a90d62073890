//! `/prompts/{id}`: the editor on the left, history and labels on the right.

use crate::components::error_notice::ErrorNotice;
use crate::components::prompt_editor::{blank_content, PromptEditor};
use crate::components::recent_runs::RecentRuns;
use crate::components::version_history::VersionHistory;
use crate::functions::prompts::{prompt_workspace, TrashPrompt};
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use promptlab::template::Preview;
use promptlab::Error;
use uuid::Uuid;

/// The `{id}` path parameter as a prompt id.
pub fn prompt_id_param() -> Signal<Result<Uuid, Error>> {
    let params = use_params_map();
    Signal::derive(move || {
        params.with(|p| {
            p.get("id")
                .and_then(|s| Uuid::parse_str(&s).ok())
                .ok_or_else(|| Error::not_found("prompt not found"))
        })
    })
}

async fn load(
    id: Result<Uuid, Error>,
    preview: bool,
) -> Result<crate::functions::prompts::Workspace, Error> {
    prompt_workspace(id?, preview).await
}

#[component]
pub fn PromptPage() -> impl IntoView {
    let i18n = use_i18n();
    let id = prompt_id_param();
    // The editor is built once from the first load; the history reloads after each save.
    let initial = Resource::new_blocking(move || id.get(), |id| load(id, true));
    let tick = RwSignal::new(0u32);
    let side = Resource::new(move || (id.get(), tick.get()), |(id, _)| load(id, false));
    let trash = ServerAction::<TrashPrompt>::new();
    let runs_tick = RwSignal::new(0u32);
    view! {
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    Ok(ws) => {
                        let prompt = ws.prompt.clone();
                        let pid = prompt.id;
                        let content = ws.versions.first().map(|v| v.content.clone()).unwrap_or_else(blank_content);
                        let base = prompt.latest_version;
                        let first_side = ws.clone();
                        let recent = ws.recent_runs.clone();
                        let preview = ws.preview.clone().unwrap_or(Preview {
                            variables: Ok(Vec::new()),
                            rendered: None,
                        });
                        view! {
                            <Title text=prompt.name.clone()/>
                            <div class="page-head">
                                <div>
                                    <A href="/prompts" attr:class="small">"← " {t!(i18n, prompts.back_to_list)}</A>
                                    <h1 data-testid="prompt-title">{prompt.name.clone()}</h1>
                                    <p class="muted">{prompt.description.clone()}</p>
                                </div>
                                <ActionForm action=trash>
                                    <input type="hidden" name="prompt_id" value=pid.to_string()/>
                                    <input type="hidden" name="trash" value=if prompt.deleted_at.is_some() { "false" } else { "true" }/>
                                    <button type="submit" class="button small">
                                        {if prompt.deleted_at.is_some() { t!(i18n, prompts.restore_from_trash).into_any() } else { t!(i18n, prompts.move_to_trash).into_any() }}
                                    </button>
                                </ActionForm>
                            </div>
                            {prompt.deleted_at.is_some().then(|| view! { <p class="notice">{t!(i18n, prompts.in_trash)}</p> })}
                            {(base == 0).then(|| view! { <p class="muted">{t!(i18n, prompts.no_versions)}</p> })}
                            <div class="two-col wide">
                                <PromptEditor prompt_id=pid initial=content preview base on_saved=Callback::new(move |_| tick.update(|t| *t += 1)) on_ran=Callback::new(move |_| runs_tick.update(|t| *t += 1)) providers=ws.providers.clone()/>
                                <div class="side">
                                    <Transition fallback=move || view! { <VersionHistory workspace=first_side.clone()/> }>
                                        {move || Suspend::new(async move {
                                            side.await.ok().map(|ws| view! { <VersionHistory workspace=ws/> })
                                        })}
                                    </Transition>
                                    <RecentRuns prompt_id=pid initial=recent tick=runs_tick/>
                                </div>
                            </div>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
