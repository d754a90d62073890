//! One run as it happens: a status chip, the output streaming in (as escaped text: model
//! output is untrusted), and tokens, cost and latency when done. Hydrated, it follows the
//! run's event stream; without JavaScript it shows the state at render time. Also the
//! small pieces other run views share (status chip, cost and duration text).

use crate::functions::runs::CancelRun;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_i18n::I18nContext;
use promptlab::runs::{Run, RunStatus, RunSummary};

/// The translated name of a status.
pub fn status_text(i18n: I18nContext<Locale>, s: RunStatus) -> String {
    match s {
        RunStatus::Queued => t_string!(i18n, runs.status_queued),
        RunStatus::Running => t_string!(i18n, runs.status_running),
        RunStatus::Succeeded => t_string!(i18n, runs.status_succeeded),
        RunStatus::Failed => t_string!(i18n, runs.status_failed),
        RunStatus::Canceled => t_string!(i18n, runs.status_canceled),
    }
    .to_string()
}

/// `$0.000123` (six decimals below a cent, else two or four).
pub fn cost_text(cost: Option<f64>) -> Option<String> {
    cost.map(|c| {
        if c == 0.0 {
            "$0".to_owned()
        } else if c < 0.01 {
            format!("${c:.6}")
        } else {
            format!("${c:.4}")
        }
    })
}

/// `850 ms` or `2.4 s`.
pub fn ms_text(ms: Option<u64>) -> Option<String> {
    ms.map(|m| {
        if m < 1000 {
            format!("{m} ms")
        } else {
            format!("{:.1} s", m as f64 / 1000.0)
        }
    })
}

#[component]
pub fn StatusChip(#[prop(into)] status: Signal<RunStatus>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <span class=move || format!("chip status status-{}", status.get().as_str()) data-testid="run-status" data-status=move || status.get().as_str()>
            {move || status_text(i18n, status.get())}
        </span>
    }
}

/// Provider and model, with the mock labelled as such.
#[component]
pub fn ModelLabel(summary: RunSummary) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <span class="model-label">
            {format!("{} / {}", summary.provider, summary.model)}
            {summary.mock.then(|| view! { <span class="chip mock" title=move || t_string!(i18n, runs.mock_label) data-testid="mock-badge">{t!(i18n, runs.mock_badge)}</span> })}
            {summary.cached.then(|| view! { <span class="chip cached" data-testid="cached-badge">{t!(i18n, runs.cached_badge)}</span> })}
        </span>
    }
}

/// A run, live while it is not over.
#[component]
pub fn RunView(
    run: Run,
    #[prop(optional)] on_final: Option<Callback<RunSummary>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let summary = RwSignal::new(run.summary.clone());
    let output = RwSignal::new(run.output.clone());
    let retry = RwSignal::new(None::<(i32, u64)>);
    let status = Signal::derive(move || summary.with(|s| s.status));
    #[cfg(feature = "hydrate")]
    if !run.summary.status.is_terminal() {
        use promptlab::runs::{apply, EventKind};
        crate::live::follow_run(run.summary.id, move |ev| {
            let mut st = summary.with_untracked(|s| s.status);
            output.update(|o| apply(&ev.kind, &mut st, o));
            match ev.kind {
                EventKind::Retrying {
                    attempt, delay_ms, ..
                } => retry.set(Some((attempt, delay_ms))),
                EventKind::Started { attempt } => {
                    retry.set(None);
                    summary.update(|s| {
                        s.attempts = attempt;
                        s.status = st;
                    });
                }
                EventKind::Usage {
                    input_tokens,
                    output_tokens,
                } => summary.update(|s| {
                    s.input_tokens = Some(input_tokens);
                    s.output_tokens = Some(output_tokens);
                }),
                EventKind::Succeeded { run }
                | EventKind::Canceled { run }
                | EventKind::Failed { run, .. } => {
                    retry.set(None);
                    summary.set((*run).clone());
                    if let Some(cb) = on_final {
                        cb.run(*run);
                    }
                }
                _ => summary.update(|s| s.status = st),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = on_final;
    let cancel = ServerAction::<CancelRun>::new();
    let id = run.summary.id;
    let stat = move |label: String, value: Option<String>, testid: &'static str| {
        view! {
            <div class="stat">
                <dt>{label}</dt>
                <dd data-testid=testid>{value.unwrap_or_else(|| "—".to_owned())}</dd>
            </div>
        }
    };
    view! {
        <section class="card run-view" data-testid="run-view" data-run-id=id.to_string()>
            <div class="run-head">
                <StatusChip status/>
                {move || summary.with(|s| view! { <ModelLabel summary=s.clone()/> })}
                {move || retry.get().map(|(attempt, delay)| view! {
                    <span class="muted small" data-testid="run-retrying">{t!(i18n, runs.retrying)} " " {attempt} " " {t!(i18n, runs.retry_in)} " " {delay} " ms"</span>
                })}
                <Show when=move || !status.get().is_terminal()>
                    <ActionForm action=cancel attr:class="inline">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <button type="submit" class="button small" data-testid="run-cancel">{t!(i18n, runs.cancel)}</button>
                    </ActionForm>
                </Show>
            </div>
            <pre class="run-output" data-testid="run-output" aria-live="polite">{move || output.get()}</pre>
            {move || summary.with(|s| s.error.clone()).map(|e| view! {
                <p class="notice notice-error" role="alert" data-testid="run-error" data-code=e.code.clone()>{e.code.clone()} ": " {e.message.clone()}</p>
            })}
            <dl class="run-stats">
                {move || summary.with(|s| {
                    let tokens = |t: Option<u32>| t.map(|t| t.to_string());
                    view! {
                        {stat(t_string!(i18n, runs.input_tokens).to_string(), tokens(s.input_tokens), "run-input-tokens")}
                        {stat(t_string!(i18n, runs.output_tokens).to_string(), tokens(s.output_tokens), "run-output-tokens")}
                        {stat(t_string!(i18n, runs.cost).to_string(), cost_text(s.cost_usd), "run-cost")}
                        {stat(t_string!(i18n, runs.latency).to_string(), ms_text(s.latency_ms), "run-latency")}
                        {stat(t_string!(i18n, runs.ttft).to_string(), ms_text(s.ttft_ms), "run-ttft")}
                        {stat(t_string!(i18n, runs.attempts).to_string(), Some(s.attempts.to_string()), "run-attempts")}
                        {stat(t_string!(i18n, runs.served_by).to_string(), s.provider_model.clone(), "run-served-by")}
                    }
                })}
            </dl>
        </section>
    }
}
