//! `/prompts/{id}/diff?from=&to=`: two versions side by side, messages line by line and
//! parameters field by field. The version pickers are a GET form.

use super::prompt_page::prompt_id_param;
use crate::components::error_notice::ErrorNotice;
use crate::components::role_label::status_label;
use crate::functions::prompts::diff_versions;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use promptlab::versions::diff::{FieldChange, LineTag};
use promptlab::Error;

#[component]
pub fn DiffPage() -> impl IntoView {
    let i18n = use_i18n();
    let id = prompt_id_param();
    let query = use_query_map();
    let num = move |k: &str| query.with(|q| q.get(k).and_then(|v| v.parse::<i32>().ok()));
    let diff = Resource::new_blocking(
        move || (id.get(), num("from"), num("to")),
        |(id, from, to)| async move {
            let bad = || Error::invalid_field("from", "validation_error", "pick two versions");
            diff_versions(id?, from.ok_or_else(bad)?, to.ok_or_else(bad)?).await
        },
    );
    view! {
        <Title text=t_string!(i18n, diff.title).to_string()/>
        <div class="page-head">
            <div>
                {move || id.get().ok().map(|pid| view! { <A href=format!("/prompts/{pid}") attr:class="small">"← " {t!(i18n, version.open_editor)}</A> })}
                <h1>{t!(i18n, diff.title)}</h1>
            </div>
            <Form method="GET" action="" attr:class="inline-form">
                <label class="inline">{t!(i18n, diff.from)} <input type="number" name="from" min="1" value=move || num("from").map(|n| n.to_string()).unwrap_or_default()/></label>
                <label class="inline">{t!(i18n, diff.to)} <input type="number" name="to" min="1" value=move || num("to").map(|n| n.to_string()).unwrap_or_default()/></label>
                <button type="submit" class="button small">{t!(i18n, diff.show)}</button>
            </Form>
        </div>
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match diff.await {
                    Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    Ok(d) => view! {
                        <div class="diff" data-testid="diff">
                            <h2>{format!("v{} → v{}", d.from, d.to)}</h2>
                            {d.identical.then(|| view! { <p class="notice" data-testid="identical">{t!(i18n, diff.identical)}</p> })}
                            {d.messages.into_iter().map(|m| {
                                let status = m.status.clone();
                                view! {
                                <section class="card diff-message" data-status=m.status.clone()>
                                    <h3>{t!(i18n, diff.message)} {format!(" {}", m.index + 1)} <span class="chip">{move || status_label(i18n, &status)}</span></h3>
                                    <pre class="diff-lines">
                                        {m.lines.into_iter().map(|l| {
                                            let (class, sign) = match l.tag { LineTag::Equal => ("eq", "  "), LineTag::Insert => ("ins", "+ "), LineTag::Delete => ("del", "- ") };
                                            view! { <span class=class>{sign}{l.text}"\n"</span> }
                                        }).collect_view()}
                                    </pre>
                                </section>
                            }}).collect_view()}
                            <FieldTable title=t_string!(i18n, diff.params).to_owned() changes=d.params/>
                            <FieldTable title=t_string!(i18n, diff.variables).to_owned() changes=d.variables/>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FieldTable(title: String, changes: Vec<FieldChange>) -> impl IntoView {
    (!changes.is_empty()).then(|| {
        view! {
            <section class="card">
                <h3>{title}</h3>
                <table class="fields">
                    <tbody>
                        {changes.into_iter().map(|c| view! {
                            <tr>
                                <th scope="row"><code>{c.field}</code></th>
                                <td class="del">{c.from.to_string()}</td>
                                <td class="ins">{c.to.to_string()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
    })
}
