//! `/prompts`: search, filter by tag, the trash, and a form to create a prompt. The search
//! is a GET form and the create form a plain post, so all of it works without JavaScript.

use crate::components::error_notice::ErrorNotice;
use crate::functions::prompts::{list_prompts, CreatePrompt};
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

#[component]
pub fn PromptList() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let tag = move || query.with(|m| m.get("tag").filter(|t| !t.is_empty()));
    let trash = move || query.with(|m| m.get("deleted").as_deref() == Some("true"));
    let list = Resource::new_blocking(
        move || (q(), tag(), trash()),
        |(q, tag, deleted)| list_prompts(Some(q), tag, Some(deleted)),
    );
    view! {
        <Title text=t_string!(i18n, prompts.title).to_string()/>
        <div class="page-head">
            <h1>{t!(i18n, prompts.title)}</h1>
            <nav class="tabs">
                <A href="/prompts" attr:class="chip" attr:aria-current=move || (!trash()).then_some("true")>{t!(i18n, prompts.title)}</A>
                <A href="/prompts?deleted=true" attr:class="chip" attr:aria-current=move || trash().then_some("true")>{t!(i18n, prompts.trash)}</A>
            </nav>
        </div>
        <div class="two-col">
            <section>
                <Form method="GET" action="" attr:class="search">
                    <input type="search" name="q" maxlength="500" value=q placeholder=move || t_string!(i18n, prompts.search) aria-label=move || t_string!(i18n, prompts.search)/>
                    {move || trash().then(|| view! { <input type="hidden" name="deleted" value="true"/> })}
                    <button type="submit" class="button">{t!(i18n, prompts.search_button)}</button>
                </Form>
                {move || tag().map(|t| view! {
                    <p class="muted">"#" {t} " · " <A href="/prompts">{t!(i18n, prompts.all_tags)}</A></p>
                })}
                <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(page) if page.items.is_empty() => view! { <p class="muted">{t!(i18n, prompts.empty)}</p> }.into_any(),
                            Ok(page) => view! {
                                <ul class="prompt-list" data-testid="prompt-list">
                                    {page.items.into_iter().map(|p| view! {
                                        <li class="card prompt-row">
                                            <A href=format!("/prompts/{}", p.id) attr:class="prompt-name">{p.name.clone()}</A>
                                            <span class="muted">{p.description.clone()}</span>
                                            <span class="tags">
                                                {p.tags.iter().map(|t| view! {
                                                    <A href=format!("/prompts?tag={t}") attr:class="chip">{format!("#{t}")}</A>
                                                }).collect_view()}
                                            </span>
                                            <span class="chip">{format!("v{}", p.latest_version)}</span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <aside class="card">
                <h2>{t!(i18n, prompts.new)}</h2>
                <NewPromptForm/>
            </aside>
        </div>
    }
}

/// The form that creates a prompt: a plain post without JavaScript; in the browser an
/// island, so an error (a name taken, say) shows in place and what was typed stays. On
/// success the server sends the browser to the new prompt.
#[island(lazy)]
fn NewPromptForm() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::announce_lazy_island("new_prompt_form_loader");
    crate::island_i18n();
    let i18n = use_i18n();
    let create = ServerAction::<CreatePrompt>::new();
    let create_error = Signal::derive(move || create.value().get().and_then(|r| r.err()));
    view! {
            <ActionForm action=create>
                <label>
                    <span>{t!(i18n, prompts.name)}</span>
                    <input type="text" name="name" required maxlength="64" pattern="[a-z0-9][a-z0-9._\\-]*" data-testid="new-prompt-name"/>
                    <small class="muted">{t!(i18n, prompts.name_hint)}</small>
                </label>
                <label>
                    <span>{t!(i18n, prompts.description)}</span>
                    <input type="text" name="description" maxlength="2000"/>
                </label>
                <label>
                    <span>{t!(i18n, prompts.tags)}</span>
                    <input type="text" name="tags"/>
                    <small class="muted">{t!(i18n, prompts.tags_hint)}</small>
                </label>
                <ErrorNotice error=create_error/>
                <button type="submit" class="button primary" disabled=move || create.pending().get()>{t!(i18n, prompts.create)}</button>
            </ActionForm>
    }
}
