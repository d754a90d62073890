//! The editor's model parameters: provider, model, temperature, top p, max tokens, stop.

use crate::i18n::*;
use leptos::prelude::*;
use promptlab::versions::VersionContent;

/// Provider, model and sampling parameters.
#[component]
pub fn ParamsForm(content: RwSignal<VersionContent>) -> impl IntoView {
    let i18n = use_i18n();
    let num = |raw: String| raw.trim().parse::<f64>().ok();
    view! {
        <section class="card params">
            <h2>{t!(i18n, editor.params)}</h2>
            <div class="grid">
                <label>
                    <span>{t!(i18n, editor.provider)}</span>
                    <input type="text" prop:value=move || content.with(|c| c.params.provider.clone())
                        on:input=move |ev| content.update(|c| c.params.provider = event_target_value(&ev))/>
                </label>
                <label>
                    <span>{t!(i18n, editor.model)}</span>
                    <input type="text" prop:value=move || content.with(|c| c.params.model.clone())
                        on:input=move |ev| content.update(|c| c.params.model = event_target_value(&ev))/>
                </label>
                <label>
                    <span>{t!(i18n, editor.temperature)}</span>
                    <input type="number" min="0" max="2" step="0.1" data-testid="temperature"
                        prop:value=move || content.with(|c| c.params.temperature.map(|t| t.to_string()).unwrap_or_default())
                        on:input=move |ev| content.update(|c| c.params.temperature = num(event_target_value(&ev)))/>
                </label>
                <label>
                    <span>{t!(i18n, editor.top_p)}</span>
                    <input type="number" min="0" max="1" step="0.05"
                        prop:value=move || content.with(|c| c.params.top_p.map(|t| t.to_string()).unwrap_or_default())
                        on:input=move |ev| content.update(|c| c.params.top_p = num(event_target_value(&ev)))/>
                </label>
                <label>
                    <span>{t!(i18n, editor.max_tokens)}</span>
                    <input type="number" min="1" step="1"
                        prop:value=move || content.with(|c| c.params.max_tokens.map(|t| t.to_string()).unwrap_or_default())
                        on:input=move |ev| content.update(|c| c.params.max_tokens = event_target_value(&ev).trim().parse().ok())/>
                </label>
                <label>
                    <span>{t!(i18n, editor.stop)}</span>
                    <textarea rows="2" prop:value=move || content.with(|c| c.params.stop.join("\n"))
                        on:input=move |ev| content.update(|c| c.params.stop = event_target_value(&ev).lines().map(str::to_owned).filter(|s| !s.is_empty()).collect())>
                    </textarea>
                </label>
            </div>
        </section>
    }
}
