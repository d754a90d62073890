//! `/runs`: run history with filters (prompt, version, status, provider, model, date range),
//! search in output and pages. The filters are a GET form, so the page works without
//! JavaScript; in the browser, the list reloads as the user's runs change.

use crate::components::error_notice::ErrorNotice;
use crate::components::recent_runs::RunRows;
use crate::components::run_view::status_text;
use crate::functions::prompts::list_prompts;
use crate::functions::runs::list_runs;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use promptlab::prompts::Page;
use promptlab::runs::{RunQuery, RunStatus, RunSummary};
use promptlab::Error;

/// Read the filters from the address; `from`/`to` are dates (whole days, UTC). A value
/// that does not read (`status=bogus`, a date that is not one) is named in the error,
/// rather than dropped: dropping it would list every run under a filter the address
/// still shows.
fn query_of(m: &ParamsMap) -> Result<RunQuery, &'static str> {
    let text = |k: &str| {
        m.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    fn read<T>(
        value: Option<String>,
        key: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, &'static str> {
        value.map(|v| parse(&v).ok_or(key)).transpose()
    }
    let day = |k: &'static str, end: bool| {
        read(text(k), k, |d| {
            let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
            let t = if end {
                d.and_hms_opt(23, 59, 59)
            } else {
                d.and_hms_opt(0, 0, 0)
            };
            t.map(|t| t.and_utc())
        })
    };
    Ok(RunQuery {
        prompt_id: read(text("prompt_id"), "prompt_id", |v| {
            uuid::Uuid::parse_str(v).ok()
        })?,
        version: read(text("version"), "version", |v| {
            v.parse().ok().filter(|n| *n >= 1)
        })?,
        status: read(text("status"), "status", RunStatus::parse)?,
        provider: text("provider"),
        model: text("model"),
        from: day("from", false)?,
        to: day("to", true)?,
        q: text("q"),
        page: read(text("page"), "page", |v| {
            v.parse()
                .ok()
                .filter(|p| (1..=promptlab::runs::PAGE_MAX).contains(p))
        })?,
        per_page: Some(25),
    })
}

/// The error shown for a filter in the address that does not read.
fn unreadable(key: &'static str) -> Error {
    Error::invalid_field(
        key,
        "filter_unreadable",
        format!("the filter {key} in the address could not be read"),
    )
}

/// The address of the same filters, without the page: `page=N` is added at its end.
fn pager_base(m: &ParamsMap) -> String {
    let parts: Vec<String> = [
        "prompt_id",
        "version",
        "status",
        "provider",
        "model",
        "from",
        "to",
        "q",
    ]
    .iter()
    .filter_map(|k| {
        m.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}&", encode(&v)))
    })
    .collect();
    format!("/runs?{}", parts.concat())
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn RunList() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_query_map();
    let query = move || params.with(query_of);
    let runs = Resource::new_blocking(query, |q| async move {
        match q {
            Ok(q) => list_runs(q.clone()).await.map(|page| (q, page)),
            Err(key) => Err(unreadable(key)),
        }
    });
    let prompts = Resource::new(|| (), |_| list_prompts(None, None, None));
    let value = move |k: &'static str| move || params.with(|m| m.get(k).unwrap_or_default());
    view! {
        <Title text=t_string!(i18n, runs.title).to_string()/>
        <div class="page-head">
            <h1>{t!(i18n, runs.title)}</h1>
        </div>
        <Form method="GET" action="" attr:class="card run-filters" attr:data-testid="run-filters">
            <label>
                <span>{t!(i18n, runs.prompt)}</span>
                <select name="prompt_id">
                    <option value="">{t!(i18n, runs.any)}</option>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let selected = params.with(|m| m.get("prompt_id").unwrap_or_default());
                            prompts.await.map(|page| page.items.into_iter().map(|p| {
                                let id = p.id.to_string();
                                view! { <option value=id.clone() selected=selected == id>{p.name}</option> }
                            }).collect_view()).ok()
                        })}
                    </Suspense>
                </select>
            </label>
            <label>
                <span>{t!(i18n, runs.version)}</span>
                <input type="number" name="version" min="1" value=value("version")/>
            </label>
            <label>
                <span>{t!(i18n, runs.status)}</span>
                <select name="status" data-testid="filter-status">
                    <option value="">{t!(i18n, runs.any)}</option>
                    {RunStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || params.with(|m| m.get("status").as_deref() == Some(s.as_str()))>{move || status_text(i18n, s)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                <span>{t!(i18n, runs.provider)}</span>
                <input type="text" name="provider" value=value("provider")/>
            </label>
            <label>
                <span>{t!(i18n, runs.model)}</span>
                <input type="text" name="model" value=value("model")/>
            </label>
            <label>
                <span>{t!(i18n, runs.from)}</span>
                <input type="date" name="from" value=value("from")/>
            </label>
            <label>
                <span>{t!(i18n, runs.to)}</span>
                <input type="date" name="to" value=value("to")/>
            </label>
            <label class="grow">
                <span>{t!(i18n, runs.search)}</span>
                <input type="search" name="q" data-testid="filter-q" value=value("q")/>
            </label>
            <div class="actions">
                <button type="submit" class="button primary" data-testid="filter-apply">{t!(i18n, runs.filter)}</button>
                <A href="/runs" attr:class="button">{t!(i18n, runs.clear)}</A>
            </div>
        </Form>
        <Suspense fallback=move || view! { <p class="loading">{t!(i18n, errors.loading)}</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    Ok((query, page)) => {
                        let pager = params.with(pager_base);
                        view! { <RunResults query page pager/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// One page of runs under the filters, reloaded as the user's runs change (a lazy island:
/// its code arrives with the page that shows it). `pager` is the address of the same
/// filters, to which `page=N` is added.
#[island(lazy)]
fn RunResults(query: RunQuery, page: Page<RunSummary>, pager: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::announce_lazy_island("run_results_loader");
    crate::island_i18n();
    let i18n = use_i18n();
    let shown = RwSignal::new(page);
    let tick = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    crate::live::follow_my_runs(move |_| tick.update(|t| *t += 1));
    crate::reload::reload_on(tick, shown, move || list_runs(query.clone()));
    let pager = StoredValue::new(pager);
    let href = move |n: u32| format!("{}page={n}", pager.get_value());
    move || {
        let page = shown.get();
        if page.items.is_empty() {
            return view! { <p class="muted" data-testid="runs-empty">{t!(i18n, runs.none)}</p> }
                .into_any();
        }
        let pages = page.total.div_ceil(u64::from(page.per_page)).max(1) as u32;
        let current = page.page;
        view! {
            <p class="muted small" data-testid="runs-total">{page.total} " " {t!(i18n, runs.total)}</p>
            <div class="table-scroll"><RunRows runs=page.items show_prompt=true/></div>
            <nav class="pager">
                {(current > 1).then(|| view! { <a href=href(current - 1)>{t!(i18n, runs.prev)}</a> })}
                <span class="muted">{format!("{current} / {pages}")}</span>
                {(current < pages).then(|| view! { <a href=href(current + 1)>{t!(i18n, runs.next)}</a> })}
            </nav>
        }
        .into_any()
    }
}
