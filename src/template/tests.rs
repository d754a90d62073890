//! Every construct and error of the template language, plus properties: rendering never
//! panics, and detected variables are exactly the ones used.

use super::*;
use crate::versions::MessageRole;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn msg(content: &str) -> Vec<Message> {
    vec![Message {
        role: MessageRole::User,
        content: content.into(),
    }]
}

fn vals(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn render_one(content: &str, v: Value) -> Result<String, Error> {
    render_messages(&msg(content), &[], &vals(v)).map(|m| m[0].content.clone())
}

#[test]
fn substitution_filters_conditions_loops() {
    assert_eq!(
        render_one("Hi {{ name }}!", json!({"name": "Ada"})).unwrap(),
        "Hi Ada!"
    );
    assert_eq!(
        render_one("{{ name | upper }}", json!({"name": "ada"})).unwrap(),
        "ADA"
    );
    assert_eq!(
        render_one("{{ items | join(', ') }}", json!({"items": ["a", "b"]})).unwrap(),
        "a, b"
    );
    assert_eq!(
        render_one(
            "{% if formal %}Dear{% else %}Hey{% endif %}",
            json!({"formal": true})
        )
        .unwrap(),
        "Dear"
    );
    assert_eq!(
        render_one(
            "{% for x in xs %}[{{ x }}]{% endfor %}",
            json!({"xs": [1, 2]})
        )
        .unwrap(),
        "[1][2]"
    );
    assert_eq!(
        render_one("{{ user.name }}", json!({"user": {"name": "Grace"}})).unwrap(),
        "Grace"
    );
    assert_eq!(render_one("{{ n + 1 }}", json!({"n": 41})).unwrap(), "42");
    assert_eq!(
        render_one("{{ s | default('none') }}", json!({"s": "x"})).unwrap(),
        "x"
    );
}

#[test]
fn output_is_not_html_escaped() {
    assert_eq!(
        render_one("{{ code }}", json!({"code": "<b>&</b>"})).unwrap(),
        "<b>&</b>"
    );
}

#[test]
fn variables_are_detected_without_loop_or_set_names() {
    let found = detect_variables(&msg(
        "{{ a }} {% for x in items %}{{ x }}{{ b }}{% endfor %}{% set c = 1 %}{{ c }}",
    ))
    .unwrap();
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec!["a", "b", "items"]
    );
    let two = vec![
        Message {
            role: MessageRole::System,
            content: "{{ tone }}".into(),
        },
        Message {
            role: MessageRole::User,
            content: "{{ topic }} {{ tone }}".into(),
        },
    ];
    assert_eq!(detect_variables(&two).unwrap().len(), 2);
}

#[test]
fn undefined_variables_are_named() {
    let err = render_one("Hello {{ who }}", json!({})).unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    assert_eq!(err.details["variable"], "who");
    assert_eq!(err.details["kind"], "undefined_variable");
    assert_eq!(err.reason(), Some("template_undefined_variable"));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let source = "line one\nline {{ two";
    let err = template_variables(source, 3).unwrap_err();
    assert_eq!(err.kind, "syntax");
    assert_eq!(err.message_index, 3);
    assert_eq!(err.line, Some(2));
    assert!(err.column.is_some());
    let err = template_variables("{% if x %}no end", 0).unwrap_err();
    assert_eq!(err.kind, "syntax");
    let err = template_variables("{% for %}", 0).unwrap_err();
    assert_eq!(err.line, Some(1));
}

#[test]
fn render_errors_are_located() {
    let err = render_one("a\n{{ user.missing }}", json!({"user": {"name": "x"}})).unwrap_err();
    assert_eq!(err.details["kind"], "render");
    assert_eq!(err.details["line"], 2);
}

#[test]
fn schema_defaults_types_and_optionals() {
    let schema = vec![
        VariableSpec {
            name: "n".into(),
            kind: VariableKind::Number,
            required: true,
            default: Some(json!(3)),
        },
        VariableSpec {
            name: "flag".into(),
            kind: VariableKind::Boolean,
            required: true,
            default: None,
        },
        VariableSpec {
            name: "extra".into(),
            kind: VariableKind::String,
            required: false,
            default: None,
        },
        VariableSpec {
            name: "data".into(),
            kind: VariableKind::Json,
            required: true,
            default: None,
        },
    ];
    let m = msg("{{ n }}-{{ flag }}-[{{ extra }}]-{{ data.k }}");
    let out = render_messages(
        &m,
        &schema,
        &vals(json!({"flag": true, "data": {"k": "v"}})),
    )
    .unwrap();
    assert_eq!(
        out[0].content, "3-True-[]-v",
        "booleans render the Jinja way"
    );
    let err = render_messages(&m, &schema, &vals(json!({"flag": "yes", "data": {}}))).unwrap_err();
    assert_eq!(err.reason(), Some("variable_type"));
    let err = render_messages(&m, &schema, &vals(json!({"data": {}}))).unwrap_err();
    assert_eq!(err.details["variable"], "flag");
}

#[test]
fn the_languages_own_functions_are_not_variables() {
    let used = template_variables(
        "{% for i in range(n) %}{{ i }}{% endfor %}{% set ns = namespace(k=1) %}{{ dict(a=x) }}",
        0,
    )
    .unwrap();
    assert_eq!(used, ["n", "x"].map(String::from).into());
    // Read, not called: a variable, as before.
    let used =
        template_variables("{% if debug %}{{ range }}{% endif %}{{ mydict(1) }}", 0).unwrap();
    assert_eq!(used, ["debug", "mydict", "range"].map(String::from).into());
    assert_eq!(
        render_one(
            "{% if debug %}on{% else %}off{% endif %}",
            json!({"debug": false})
        )
        .unwrap(),
        "off"
    );
    assert_eq!(
        render_one(
            "{% for i in range(n) %}{{ i }}{% endfor %}",
            json!({"n": 3})
        )
        .unwrap(),
        "012"
    );
}

#[test]
fn a_loop_of_loops_runs_out_of_budget_instead_of_holding_a_core() {
    let started = std::time::Instant::now();
    let err = render_one(
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Some("template_too_costly"), "{err:?}");
    assert_eq!(err.details["field"], "messages[0].content");
    // Not a timing assertion: a hint when reading the output.
    eprintln!("budget spent in {:?}", started.elapsed());
}

#[test]
fn the_budget_is_for_all_messages_together() {
    // Each message alone fits; ten of them together do not.
    let busy = "{% for i in range(30000) %}{{ i }}{% endfor %}";
    let one = render_messages(&msg(busy), &[], &Map::new()).unwrap();
    assert!(one[0].content.starts_with("0123"));
    let many: Vec<Message> = (0..10).flat_map(|_| msg(busy)).collect();
    let err = render_messages(&many, &[], &Map::new()).unwrap_err();
    assert_eq!(err.reason(), Some("template_too_costly"));
    let index = err.details["message_index"].as_u64().unwrap();
    assert!((1..10).contains(&index), "{index}");
}

#[test]
fn output_past_its_limit_is_refused_not_built() {
    let big = "y".repeat(200_000);
    // 200 kB a time, 100 times: 20 MB, past the 8 MiB limit, in few instructions.
    let err = render_one(
        "{% for i in range(100) %}{{ big }}{% endfor %}",
        json!({ "big": big }),
    )
    .unwrap_err();
    assert_eq!(err.reason(), Some("template_output_too_large"), "{err:?}");
    // One expression that makes a large value is stopped at the limit as it is printed.
    let err = render_one("{{ 'z' * 9000000 }}", json!({})).unwrap_err();
    assert_eq!(err.reason(), Some("template_output_too_large"), "{err:?}");
    // Up to the limit is fine.
    let fits = render_one(
        "{% for i in range(40) %}{{ big }}{% endfor %}",
        json!({ "big": big }),
    )
    .unwrap();
    assert_eq!(fits.len(), 8_000_000);
}

#[test]
fn identifiers() {
    assert!(is_identifier("topic_2"));
    assert!(is_identifier("_x"));
    assert!(!is_identifier("2x"));
    assert!(!is_identifier("a-b"));
    assert!(!is_identifier(""));
}

proptest! {
    #[test]
    fn rendering_never_panics(src in ".{0,200}", value in ".{0,20}") {
        let m = msg(&src);
        let _ = detect_variables(&m);
        let _ = render_messages(&m, &[], &vals(json!({"x": value, "name": value})));
    }

    #[test]
    fn rendering_never_panics_on_template_like_input(parts in prop::collection::vec(prop_oneof![
        Just("{{ ".to_owned()), Just(" }}".to_owned()), Just("{% if x %}".to_owned()), Just("{% endif %}".to_owned()),
        Just("{% for i in x %}".to_owned()), Just("{% endfor %}".to_owned()), Just("|".to_owned()), Just("x".to_owned()),
        Just("upper".to_owned()), Just("\n".to_owned()), "[a-z ]{0,5}",
    ], 0..20)) {
        let m = msg(&parts.concat());
        let _ = detect_variables(&m);
        let _ = render_messages(&m, &[], &vals(json!({"x": [1, 2]})));
    }

    #[test]
    fn detected_variables_are_exactly_the_used_ones(
        pieces in prop::collection::vec(("[a-zA-Z .,!?\n]{0,12}", prop::option::of("[a-z][a-z0-9_]{0,6}")), 0..12)
    ) {
        let mut source = String::new();
        let mut used = BTreeSet::new();
        for (text, var) in &pieces {
            source.push_str(text);
            if let Some(v) = var {
                // Skip Jinja keywords, which are not variable names.
                if ["true", "false", "none", "and", "or", "not", "in", "is", "if", "else", "loop"].contains(&v.as_str()) {
                    continue;
                }
                source.push_str(&format!("{{{{ {v} }}}}"));
                used.insert(v.clone());
            }
        }
        let found = detect_variables(&msg(&source)).unwrap();
        prop_assert_eq!(&found, &used);
        prop_assert!(is_plain(&source), "text and variables are plain: {}", source);
        let values: Map<String, Value> = used.iter().map(|v| (v.clone(), json!("v"))).collect();
        prop_assert!(render_messages(&msg(&source), &[], &values).is_ok());
    }
}
