//! The prompt editor: messages (with highlighted variables), the variables panel derived
//! from the templates, model parameters, a live preview rendered in the browser by the
//! engine's template code, and saving a new version (button or Ctrl/Cmd+S).

use super::error_notice::ErrorNotice;
use super::template_input::TemplateInput;
use crate::functions::prompts::SavePromptVersion;
use crate::i18n::*;
use leptos::prelude::*;
use promptlab::template::{detect_variables, render_messages};
use promptlab::versions::{
    Message, MessageRole, SaveVersion, VariableKind, VariableSpec, VersionContent,
};
use promptlab::Error;
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

/// Turn the raw text of a preview input into a value of the variable's kind.
fn typed_value(kind: VariableKind, raw: &str) -> Option<Value> {
    match kind {
        VariableKind::String => Some(Value::String(raw.to_owned())),
        VariableKind::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
        VariableKind::Boolean => Some(Value::Bool(raw == "true")),
        VariableKind::Json => serde_json::from_str(raw).ok(),
    }
}

#[component]
pub fn PromptEditor(
    prompt_id: Uuid,
    initial: VersionContent,
    base: i32,
    on_saved: Callback<i32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let content = RwSignal::new(initial);
    let base = RwSignal::new(base);
    let note = RwSignal::new(String::new());
    let values = RwSignal::new(Map::<String, Value>::new());
    let raw_values = RwSignal::new(std::collections::BTreeMap::<String, String>::new());

    let detected = Memo::new(move |_| content.with(|c| detect_variables(&c.messages)));
    // The schema: one spec per variable used now (kept from the saved schema when known).
    let specs = Memo::new(move |_| {
        let used = detected.get().unwrap_or_default();
        content.with(|c| {
            used.iter()
                .map(|name| {
                    c.variables
                        .iter()
                        .find(|s| &s.name == name)
                        .cloned()
                        .unwrap_or(VariableSpec {
                            name: name.clone(),
                            kind: VariableKind::String,
                            required: true,
                            default: None,
                        })
                })
                .collect::<Vec<_>>()
        })
    });
    let preview = Memo::new(move |_| -> Result<Vec<Message>, Error> {
        detected.get().map_err(Error::from)?;
        content.with(|c| values.with(|v| render_messages(&c.messages, &specs.get(), v)))
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
                    let e = Error::from(e);
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
                <div class="preview" data-testid="preview">
                    {move || match preview.get() {
                        Ok(messages) => messages
                            .into_iter()
                            .map(|m| view! {
                                <div class="preview-message">
                                    <span class="chip">{move || super::role_label::role_label(i18n, m.role)}</span>
                                    <pre>{m.content}</pre>
                                </div>
                            })
                            .collect_view()
                            .into_any(),
                        Err(e) => view! { <ErrorNotice error=Signal::derive(move || Some(e.clone()))/> }.into_any(),
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
        </div>
    }
}

/// One variable: its type, whether it is required, and a value for the preview.
#[component]
fn VariableRow(
    spec: VariableSpec,
    content: RwSignal<VersionContent>,
    values: RwSignal<Map<String, Value>>,
    raw_values: RwSignal<std::collections::BTreeMap<String, String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = spec.name.clone();
    let kind = spec.kind;
    let update_spec = {
        let name = name.clone();
        move |f: &dyn Fn(&mut VariableSpec)| {
            content.update(|c| {
                if let Some(s) = c.variables.iter_mut().find(|s| s.name == name) {
                    f(s);
                } else {
                    let mut s = VariableSpec {
                        name: name.clone(),
                        kind: VariableKind::String,
                        required: true,
                        default: None,
                    };
                    f(&mut s);
                    c.variables.push(s);
                }
            })
        }
    };
    let set_raw = {
        let name = name.clone();
        move |raw: String| {
            raw_values.update(|m| {
                m.insert(name.clone(), raw.clone());
            });
            values.update(|v| match typed_value(kind, &raw) {
                Some(val) => {
                    v.insert(name.clone(), val);
                }
                None => {
                    v.remove(&name);
                }
            });
        }
    };
    // Re-type the current input when the kind changes.
    {
        let set_raw = set_raw.clone();
        let name = name.clone();
        if let Some(raw) = raw_values.with_untracked(|m| m.get(&name).cloned()) {
            set_raw(raw);
        }
    }
    let kinds = [
        (VariableKind::String, "string"),
        (VariableKind::Number, "number"),
        (VariableKind::Boolean, "boolean"),
        (VariableKind::Json, "json"),
    ];
    let update_kind = update_spec.clone();
    let raw_name = name.clone();
    view! {
        <tr data-variable=name.clone()>
            <th scope="row"><code>{name.clone()}</code></th>
            <td>
                <select
                    aria-label=move || t_string!(i18n, editor.kind)
                    on:change=move |ev| {
                        let k = match event_target_value(&ev).as_str() {
                            "number" => VariableKind::Number,
                            "boolean" => VariableKind::Boolean,
                            "json" => VariableKind::Json,
                            _ => VariableKind::String,
                        };
                        update_kind(&|s: &mut VariableSpec| { s.kind = k; s.default = None; });
                    }
                >
                    {kinds.into_iter().map(|(k, v)| view! {
                        <option value=v selected=k == kind>
                            {move || match k {
                                VariableKind::String => t_string!(i18n, editor.kind_string),
                                VariableKind::Number => t_string!(i18n, editor.kind_number),
                                VariableKind::Boolean => t_string!(i18n, editor.kind_boolean),
                                VariableKind::Json => t_string!(i18n, editor.kind_json),
                            }}
                        </option>
                    }).collect_view()}
                </select>
            </td>
            <td>
                <label class="inline">
                    <input
                        type="checkbox"
                        prop:checked=spec.required
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            update_spec(&|s: &mut VariableSpec| s.required = on);
                        }
                    />
                    {t!(i18n, editor.required)}
                </label>
            </td>
            <td>
                {match kind {
                    VariableKind::Boolean => view! {
                        <input
                            type="checkbox"
                            aria-label=move || t_string!(i18n, editor.value)
                            on:change=move |ev| set_raw(if event_target_checked(&ev) { "true".into() } else { "false".into() })
                        />
                    }.into_any(),
                    _ => view! {
                        <input
                            type=if kind == VariableKind::Number { "number" } else { "text" }
                            data-testid=format!("value-{name}")
                            aria-label=move || t_string!(i18n, editor.value)
                            prop:value=move || raw_values.with(|m| m.get(&raw_name).cloned().unwrap_or_default())
                            on:input=move |ev| set_raw(event_target_value(&ev))
                        />
                    }.into_any(),
                }}
            </td>
        </tr>
    }
}

/// Provider, model and sampling parameters.
#[component]
fn ParamsForm(content: RwSignal<VersionContent>) -> impl IntoView {
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
