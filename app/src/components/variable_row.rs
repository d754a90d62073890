//! One row of the editor's variables panel: the variable's type, whether it is required,
//! and a typed value for the live preview.

use crate::i18n::*;
use leptos::prelude::*;
use promptlab::versions::{VariableKind, VariableSpec, VersionContent};
use serde_json::{Map, Value};

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

/// One variable: its type, whether it is required, and a value for the preview.
#[component]
pub fn VariableRow(
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
