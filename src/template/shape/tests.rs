//! What a template's source shows before it is parsed: which templates are plain, and the
//! limits on a tag's tokens and a template's `elif`s, on a thread with a tokio worker's
//! stack.

use super::*;
use crate::template::{detect_variables, render_messages};
use crate::versions::{Message, MessageRole};
use serde_json::{json, Map, Value};

fn msg(content: &str) -> Vec<Message> {
    vec![Message {
        role: MessageRole::User,
        content: content.into(),
    }]
}

#[cfg(feature = "ssr")]
fn vals(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Plain templates render in the server's process (`sandbox`): only text and variable
/// paths are; anything that could build a value or loop is not.
#[test]
fn plain_templates_print_only_text_and_variables() {
    for plain in [
        "",
        "Just text, with } and { and }} alone.",
        "Write about {{ topic }}.",
        "{{topic}}{{ a.b.c }}{{ items[0] }}{{ a[12].b_2 }}",
        "{{- topic -}} and {{-topic}}",
        "{ {not a tag} }",
    ] {
        assert!(is_plain(plain), "{plain}");
    }
    for not_plain in [
        "{% if x %}{{ x }}{% endif %}",
        "{# a comment #}",
        "{{ a ~ a }}",
        "{{ a * 3 }}",
        "{{ a | upper }}",
        "{{ range(10) }}",
        "{{ a['key'] }}",
        "{{ a[i] }}",
        "{{ a[] }}",
        "{{ 'text' }}",
        "{{ 1 }}",
        "{{ a. }}",
        "{{ a .b }}",
        "{{ }}",
        "{{ a",
        "{{ -a }}",
        "{{ a }}{{ b(c) }}",
    ] {
        assert!(!is_plain(not_plain), "{not_plain}");
    }
}

/// A chain within one tag becomes a tree as deep as it is long, which minijinja walks by
/// recursion: tens of thousands of links overflowed the stack and aborted the process.
/// Counted before parsing, such a tag is an error naming its place, on a thread with a
/// tokio worker's 2 MiB stack.
#[cfg(feature = "ssr")]
#[test]
fn a_tag_too_long_to_parse_is_refused_before_parsing() {
    let cases: Vec<String> = vec![
        format!("{{{{ a{} }}}}", ".b".repeat(50_000)),
        format!("{{{{ a{} }}}}", " ~ a".repeat(50_000)),
        format!("{{{{ a{} }}}}", " | upper".repeat(50_000)),
        format!("{{{{ a{} }}}}", "[0]".repeat(50_000)),
        format!("{{{{{} a }}}}", " not".repeat(50_000)),
        format!("{{{{{} a }}}}", " -".repeat(50_000)),
        format!(
            "line one\n{{% if a{} %}}x{{% endif %}}",
            " ~ a".repeat(50_000)
        ),
        // A string or a dict holding `}}` does not end the tag early.
        format!("{{{{ '}}}}' {} }}}}", "~ a ".repeat(50_000)),
        format!("{{{{ {{'k': {{'j': 1}}}} {} }}}}", "~ a ".repeat(50_000)),
        // A lexing error after the chain: the parser would build the chain first.
        format!("{{{{ a{} ` }}}}", ".b".repeat(50_000)),
    ];
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for (i, source) in cases.iter().enumerate() {
                let err = detect_variables(&msg(source)).unwrap_err();
                assert_eq!(err.kind, "tag_too_long", "case {i}: {}", err.message);
                let err = render_messages(&msg(source), &[], &vals(json!({"a": "x"}))).unwrap_err();
                assert_eq!(err.reason(), Some("template_tag_too_long"), "case {i}");
            }
            assert_eq!(detect_variables(&msg(&cases[6])).unwrap_err().line, Some(2));
        })
        .unwrap()
        .join()
        .unwrap();
    // The limit itself: MAX_TAG_TOKENS tokens in a tag parse, one more does not; tags are
    // counted one by one.
    let at = |n: usize| format!("{{{{ a{} }}}}", ".b".repeat((n - 1) / 2));
    assert!(detect_variables(&msg(&at(MAX_TAG_TOKENS - 1))).is_ok());
    assert_eq!(
        detect_variables(&msg(&format!(
            "{{{{ a{} }}}}",
            ".b".repeat(MAX_TAG_TOKENS / 2)
        )))
        .unwrap_err()
        .kind,
        "tag_too_long"
    );
    assert!(detect_variables(&msg(&at(MAX_TAG_TOKENS - 1).repeat(20))).is_ok());
}

/// Each `{% elif %}` nests the rest of its `if` one level deeper, outside minijinja's
/// guard on nesting: a thousand overflowed the stack. At most MAX_ELIFS per template,
/// wherever they are, with or without whitespace control.
#[cfg(feature = "ssr")]
#[test]
fn too_many_elif_branches_are_refused_before_parsing() {
    let chain = |n: usize, elif: &str| format!("{{% if a %}}{}{{% endif %}}", elif.repeat(n));
    let cases = [
        chain(5_000, "{% elif a %}"),
        chain(5_000, "{%- elif a -%}"),
        // Spread over nested ifs, ten to each.
        format!(
            "{}{}",
            format!("{{% if a %}}{}", "{% elif a %}".repeat(10)).repeat(140),
            "{% endif %}".repeat(140)
        ),
    ];
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for (i, source) in cases.iter().enumerate() {
                let err = detect_variables(&msg(source)).unwrap_err();
                assert_eq!(err.kind, "too_many_branches", "case {i}: {}", err.message);
            }
            // The limit, at the deepest nesting the parser allows, beside the longest tag.
            let deepest = format!(
                "{}{{% if a %}}{}{{{{ a{} }}}}{{% endif %}}{}",
                "{% if a %}".repeat(140),
                "{% elif a %}".repeat(MAX_ELIFS),
                ".b".repeat((MAX_TAG_TOKENS - 1) / 2),
                "{% endif %}".repeat(140)
            );
            assert!(detect_variables(&msg(&deepest)).is_ok());
            assert!(render_messages(&msg(&deepest), &[], &vals(json!({"a": false}))).is_ok());
            // Chains of one level per token, as deep as a tag may be.
            for link in ["not ", "- "] {
                let deepest = format!(
                    "{}{{% if a %}}{}{{{{ {}a }}}}{{% endif %}}{}",
                    "{% if a %}".repeat(140),
                    "{% elif a %}".repeat(MAX_ELIFS),
                    link.repeat(MAX_TAG_TOKENS - 1),
                    "{% endif %}".repeat(140)
                );
                assert!(detect_variables(&msg(&deepest)).is_ok(), "{link}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
    // A word `elif` elsewhere is not a branch.
    let words = format!("{{{{ elif }}}}{}", "elif ".repeat(500));
    assert!(detect_variables(&msg(&words)).is_ok());
}
