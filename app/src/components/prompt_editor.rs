//! The prompt editor: messages (with highlighted variables), the variables panel derived
//! from the templates, model parameters, a live preview, and saving a new version (button
//! or Ctrl/Cmd+S).
//!
//! The server works out the variables and the preview (`prompts/preview`): templates are
//! programs, and the browser runs none, so a collaborator's template cannot take down the
//! tab of whoever opens it, and the template engine is not in the wasm. The page comes with
//! the first preview when the template only prints its variables (else the editor asks for
//! it once hydrated); after that the editor asks again a moment after the last change, one
//! question at a time.

use super::error_notice::ErrorNotice;
use super::params_form::ParamsForm;
use super::run_panel::RunPanel;
use super::template_input::TemplateInput;
use super::variable_row::VariableRow;
use crate::functions::prompts::SavePromptVersion;
use crate::i18n::*;
use leptos::prelude::*;
use promptlab::template::Preview;
use promptlab::versions::{schema_for, Message, MessageRole, SaveVersion, VersionContent};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The starting content of a prompt with no versions.
pub fn blank_content() -> VersionContent {
    VersionContent {
        messages: vec![
            Message {
                role: MessageRole::System,
                content: String::new(),
            },
            Message {
                role: MessageRole::User,
                content: String::new(),
            },
        ],
        params: Default::default(),
        variables: Vec::new(),
    }
}

#[component]
pub fn PromptEditor(
    prompt_id: Uuid,
    initial: VersionContent,
    /// The server's preview of `initial` with no values.
    preview: Preview,
    base: i32,
    on_saved: Callback<i32>,
    /// Called when a run started here ends.
    on_ran: Callback<()>,
    /// Providers and models for the run panel.
    providers: Vec<promptlab::runs::ProviderInfo>,
) -> impl IntoView {
    let i18n = use_i18n();
    let content = RwSignal::new(initial);
    let base = RwSignal::new(base);
    let note = RwSignal::new(String::new());
    let values = RwSignal::new(Map::<String, Value>::new());
    let raw_values = RwSignal::new(std::collections::BTreeMap::<String, String>::new());

    let latest = RwSignal::new(preview);
    // Waiting for the answer to a change.
    let pending = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    ask_for_previews(content, values, latest, pending);
    let detected = Memo::new(move |_| latest.with(|p| p.variables.clone()));
    // The schema: one spec per variable used now (kept from the saved schema when known).
    let specs = Memo::new(move |_| {
        let used = detected.with(|d| d.clone().unwrap_or_default());
        content.with(|c| schema_for(&used, &c.variables))
    });

    let save = ServerAction::<SavePromptVersion>::new();
    let flash = RwSignal::new(None::<String>);
    let do_save = move || {
        let mut c = content.get_untracked();
        c.variables = specs.get_untracked();
        save.dispatch(SavePromptVersion {
            prompt_id,
            save: SaveVersion {
                base_version: base.get_untracked(),
                content: c,
                note: note.get_untracked(),
            },
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(outcome)) = save.value().get() {
            base.set(outcome.version.number);
            if outcome.created {
                note.set(String::new());
                flash.set(Some(format!(
                    "{} v{}",
                    t_string!(i18n, editor.saved),
                    outcome.version.number
                )));
                on_saved.run(outcome.version.number);
            } else {
                flash.set(Some(t_string!(i18n, editor.unchanged).to_owned()));
            }
        }
    });
    let save_error = Signal::derive(move || save.value().get().and_then(|r| r.err()));

    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("s") {
                ev.prevent_default();
                do_save();
            }
        });
        on_cleanup(move || handle.remove());
    }

    let set_message = move |i: usize, text: String| {
        content.update(|c| {
            if let Some(m) = c.messages.get_mut(i) {
                m.content = text
            }
        })
    };
    view! {
        <div class="editor" data-testid="editor">
            <section class="card">
                <h2>{t!(i18n, editor.messages)}</h2>
                <For each=move || 0..content.with(|c| c.messages.len()) key=|i| *i let:i>
                    <div class="message">
                        <div class="message-head">
                            <select
                                aria-label=move || t_string!(i18n, editor.role)
                                on:change=move |ev| {
                                    let role = match event_target_value(&ev).as_str() {
                                        "system" => MessageRole::System,
                                        "assistant" => MessageRole::Assistant,
                                        _ => MessageRole::User,
                                    };
                                    content.update(|c| if let Some(m) = c.messages.get_mut(i) { m.role = role });
                                }
                            >
                                {[(MessageRole::System, "system"), (MessageRole::User, "user"), (MessageRole::Assistant, "assistant")]
                                    .into_iter()
                                    .map(|(role, value)| view! {
                                        <option value=value selected=move || content.with(|c| c.messages.get(i).map(|m| m.role) == Some(role))>
                                            {move || super::role_label::role_label(i18n, role)}
                                        </option>
                                    })
                                    .collect_view()}
                            </select>
                            <button
                                type="button"
                                class="button small"
                                disabled=move || content.with(|c| c.messages.len() <= 1)
                                on:click=move |_| content.update(|c| { if c.messages.len() > 1 && i < c.messages.len() { c.messages.remove(i); } })
                            >
                                {t!(i18n, editor.remove_message)}
                            </button>
                        </div>
                        <TemplateInput
                            value=Signal::derive(move || content.with(|c| c.messages.get(i).map(|m| m.content.clone()).unwrap_or_default()))
                            on_input=Callback::new(move |text| set_message(i, text))
                            label=format!("{} {}", t_string!(i18n, editor.messages), i + 1)
                            testid=format!("message-{i}")
                        />
                    </div>
                </For>
                <button
                    type="button"
                    class="button small"
                    on:click=move |_| content.update(|c| c.messages.push(Message { role: MessageRole::User, content: String::new() }))
                >
                    {t!(i18n, editor.add_message)}
                </button>
                {move || detected.get().err().map(|e| {
                    view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }
                })}
            </section>

            <section class="card">
                <h2>{t!(i18n, editor.variables)}</h2>
                <Show when=move || !specs.with(Vec::is_empty) fallback=move || view! { <p class="muted">{t!(i18n, editor.no_variables)} " " <code>"{{ topic }}"</code></p> }>
                    <table class="variables" data-testid="variables">
                        <tbody>
                            <For each=move || specs.get() key=|s| (s.name.clone(), s.kind, s.required) let:spec>
                                <VariableRow spec content values raw_values/>
                            </For>
                        </tbody>
                    </table>
                </Show>
            </section>

            <ParamsForm content/>

            <section class="card">
                <h2>{t!(i18n, editor.preview)}</h2>
                <div class="preview" data-testid="preview" aria-busy=move || pending.get().to_string()>
                    {move || match latest.with(|p| p.rendered.clone()) {
                        None => view! { <p class="muted" data-testid="preview-pending">{t!(i18n, editor.preview_pending)}</p> }.into_any(),
                        Some(Ok(messages)) => messages
                            .into_iter()
                            .map(|m| view! {
                                <div class="preview-message">
                                    <span class="chip">{move || super::role_label::role_label(i18n, m.role)}</span>
                                    <pre>{m.content}</pre>
                                </div>
                            })
                            .collect_view()
                            .into_any(),
                        Some(Err(e)) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
                    }}
                </div>
            </section>

            <section class="card save-bar">
                <label>
                    <span>{t!(i18n, editor.note)}</span>
                    <input
                        type="text"
                        maxlength="500"
                        data-testid="note"
                        placeholder=move || t_string!(i18n, editor.note_placeholder)
                        prop:value=move || note.get()
                        on:input=move |ev| note.set(event_target_value(&ev))
                    />
                </label>
                <p class="muted">{t!(i18n, editor.base)} " v" {move || base.get()} " · " {t!(i18n, editor.shortcut)}</p>
                <ErrorNotice error=save_error/>
                {move || flash.get().map(|m| view! { <p class="notice notice-ok" role="status" data-testid="flash">{m}</p> })}
                <button type="button" class="button primary" data-testid="save" disabled=move || save.pending().get() on:click=move |_| do_save()>
                    {t!(i18n, editor.save)}
                </button>
            </section>

            <RunPanel prompt_id base content values on_finished=on_ran catalog=providers/>
        </div>
    }
}

/// How long the editor waits after a change before it asks for a preview: typing asks once.
#[cfg(feature = "hydrate")]
const PREVIEW_DELAY: std::time::Duration = std::time::Duration::from_millis(150);

/// How long the editor waits before it asks again after the call for a preview failed
/// `failed` times in a row with `e`; `None` when asking again would not help. An error
/// that may pass is the server being busy (`rate_limited`: every template worker taken)
/// or unreachable (`internal_error`, which is also how a lost connection arrives); the
/// waits double from half a second, and after six tries the error stays until the next
/// change. What the server refused (a template error, a limit) is not asked again.
#[cfg(any(feature = "hydrate", test))]
fn retry_after(e: &promptlab::error::Error, failed: u32) -> Option<std::time::Duration> {
    use promptlab::error::ErrorCode;
    const TRIES: u32 = 6;
    let passes = matches!(e.code, ErrorCode::RateLimited | ErrorCode::InternalError);
    (passes && failed < TRIES).then(|| std::time::Duration::from_millis(500 << failed))
}

/// Ask the server for the preview of what is being edited, [`PREVIEW_DELAY`] after the
/// last change to the messages, the declared variables or the preview's values. One
/// question is out at a time: changes made while it is asked are asked about together
/// once it is answered, so a template that takes the server long to render is not asked
/// about again after every pause in typing. An error of the call itself (the server
/// unreachable, every template worker busy) shows in the preview, and the variables stay
/// as last known; such an error may pass, so the editor asks again by itself
/// ([`retry_after`]) until an answer comes or the text changes. `pending` is true until the
/// answer is for the latest change.
#[cfg(feature = "hydrate")]
fn ask_for_previews(
    content: RwSignal<VersionContent>,
    values: RwSignal<Map<String, Value>>,
    latest: RwSignal<Preview>,
    pending: RwSignal<bool>,
) {
    use crate::functions::prompts::preview_prompt;
    let input = Memo::new(move |_| content.with(|c| (c.messages.clone(), c.variables.clone())));
    // Changes so far; a question carries the count it was asked at.
    let changes = StoredValue::new(0u64);
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // Bumped when a question is due.
    let due = RwSignal::new(0u64);
    let out = StoredValue::new(false);
    let again = StoredValue::new(false);
    // Questions in a row whose call failed with an error that may pass.
    let failed = StoredValue::new(0u32);
    on_cleanup(move || {
        if let Some(Some(t)) = timer.try_get_value() {
            t.clear();
        }
    });
    Effect::new(move |ran: Option<()>| {
        // Read, not only tracked: a memo computes (and follows its sources) when read.
        input.with(|_| ());
        values.track();
        if let Some(t) = timer.get_value() {
            t.clear();
        }
        // The page came with the preview of what hydration starts from, unless it left
        // the rendering to the browser's question.
        if ran.is_none() && latest.with_untracked(|p| p.rendered.is_some()) {
            return;
        }
        changes.update_value(|n| *n += 1);
        failed.set_value(0);
        pending.set(true);
        let handle = set_timeout_with_handle(move || due.update(|n| *n += 1), PREVIEW_DELAY);
        timer.set_value(handle.ok());
    });
    Effect::new(move |_| {
        if due.get() == 0 {
            return;
        }
        if out.get_value() {
            again.set_value(true);
            return;
        }
        out.set_value(true);
        let asked_at = changes.get_value();
        let (messages, schema) = input.get_untracked();
        let values = values.get_untracked();
        leptos::task::spawn_local(async move {
            let answer = preview_prompt(messages, schema, values).await;
            // The editor may be gone by now (its page left while the question was out):
            // its values are disposed, and reading one would panic.
            let (Some(again_now), Some(changed)) = (again.try_get_value(), changes.try_get_value())
            else {
                return;
            };
            out.set_value(false);
            let retry = match answer {
                Ok(preview) => {
                    latest.set(preview);
                    None
                }
                Err(e) => {
                    let wait = retry_after(&e, failed.get_value());
                    latest.update(|p| p.rendered = Some(Err(e)));
                    wait
                }
            };
            if again_now {
                again.set_value(false);
                due.update(|n| *n += 1);
            } else if changed == asked_at {
                match retry {
                    // Still pending: the same question goes out again after a pause.
                    Some(wait) => {
                        failed.update_value(|n| *n += 1);
                        let handle = set_timeout_with_handle(move || due.update(|n| *n += 1), wait);
                        timer.set_value(handle.ok());
                    }
                    None => {
                        failed.set_value(0);
                        pending.set(false);
                    }
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::retry_after;
    use promptlab::error::{Error, ErrorCode};
    use std::time::Duration;

    #[test]
    fn only_an_error_that_may_pass_is_asked_again_and_not_forever() {
        let busy = Error::new(ErrorCode::RateLimited, "every template worker is busy");
        let waits: Vec<_> = (0..8).map(|n| retry_after(&busy, n)).collect();
        assert_eq!(waits[0], Some(Duration::from_millis(500)));
        assert_eq!(waits[1], Some(Duration::from_secs(1)));
        assert_eq!(waits[5], Some(Duration::from_secs(16)));
        assert_eq!(waits[6], None);
        assert_eq!(waits[7], None);
        let lost = Error::new(ErrorCode::InternalError, "network error: failed to fetch");
        assert_eq!(retry_after(&lost, 0), Some(Duration::from_millis(500)));
        let refused = Error::invalid_field("messages", "template_syntax", "unexpected end");
        assert_eq!(retry_after(&refused, 0), None);
        let gone = Error::new(ErrorCode::NotFound, "no such prompt");
        assert_eq!(retry_after(&gone, 0), None);
    }
}
