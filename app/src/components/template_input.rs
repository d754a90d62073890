//! A textarea whose `{{ variables }}` are highlighted: the text is mirrored, escaped, into a
//! layer behind a transparent textarea, with the variable parts marked.

use leptos::prelude::*;

/// Split a template into plain and `{{ … }}` parts.
pub fn segments(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}").map(|e| e + 2) else {
            break;
        };
        if start > 0 {
            out.push((false, rest[..start].to_owned()));
        }
        out.push((true, rest[start..start + len].to_owned()));
        rest = &rest[start + len..];
    }
    if !rest.is_empty() {
        out.push((false, rest.to_owned()));
    }
    out
}

#[component]
pub fn TemplateInput(
    #[prop(into)] value: Signal<String>,
    on_input: Callback<String>,
    #[prop(into)] label: String,
    #[prop(optional, into)] testid: String,
) -> impl IntoView {
    view! {
        <div class="template-input">
            <pre class="template-mirror" aria-hidden="true">
                {move || {
                    segments(&value.get())
                        .into_iter()
                        .map(|(var, text)| if var { view! { <mark>{text}</mark> }.into_any() } else { text.into_any() })
                        .collect_view()
                }}
                // A trailing newline needs a character after it to take up space.
                " "
            </pre>
            <textarea
                aria-label=label
                data-testid=testid
                spellcheck="false"
                prop:value=move || value.get()
                on:input=move |ev| on_input.run(event_target_value(&ev))
            >
                {value.get_untracked()}
            </textarea>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn splits_variables() {
        assert_eq!(
            segments("Hi {{ name }}, {{x}}!"),
            vec![
                (false, "Hi ".into()),
                (true, "{{ name }}".into()),
                (false, ", ".into()),
                (true, "{{x}}".into()),
                (false, "!".into())
            ]
        );
        assert_eq!(
            segments("open {{ only"),
            vec![(false, "open {{ only".into())]
        );
        assert!(segments("").is_empty());
    }
}
