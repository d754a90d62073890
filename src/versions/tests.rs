//! Versions: hashing, the checks on content and notes, and reading versions and saves
//! back from JSON (unknown fields refused at every level).

use super::*;

fn content(text: &str) -> VersionContent {
    VersionContent {
        messages: vec![Message {
            role: MessageRole::User,
            content: text.into(),
        }],
        params: ModelParams::default(),
        variables: vec![],
    }
}

#[test]
fn hash_is_stable_and_content_sensitive() {
    let a = content("Hello {{ name }}");
    assert_eq!(a.content_hash(), content("Hello {{ name }}").content_hash());
    assert_ne!(
        a.content_hash(),
        content("Hello {{ name }}!").content_hash()
    );
    assert_eq!(a.content_hash().len(), 64);
    let mut b = a.clone();
    b.params.temperature = Some(0.2);
    assert_ne!(a.content_hash(), b.content_hash());
}

#[test]
fn variable_order_does_not_change_the_hash() {
    let spec = |n: &str| VariableSpec {
        name: n.into(),
        kind: VariableKind::String,
        required: true,
        default: None,
    };
    let mut a = content("{{ a }}{{ b }}");
    a.variables = vec![spec("b"), spec("a")];
    let mut b = content("{{ a }}{{ b }}");
    b.variables = vec![spec("a"), spec("b")];
    assert_eq!(
        a.validate().unwrap().content_hash(),
        b.validate().unwrap().content_hash()
    );
}

#[test]
fn validation() {
    assert!(content("fine").validate().is_ok());
    let mut empty = content("x");
    empty.messages.clear();
    assert_eq!(empty.validate().unwrap_err().field(), Some("messages"));
    let mut hot = content("x");
    hot.params.temperature = Some(3.0);
    assert_eq!(
        hot.validate().unwrap_err().field(),
        Some("params.temperature")
    );
    let mut neg = content("x");
    neg.params.top_p = Some(-0.1);
    assert!(neg.validate().is_err());
    let mut zero = content("x");
    zero.params.max_tokens = Some(0);
    assert!(zero.validate().is_err());
    assert!(content("{% if %}").validate().is_err(), "template syntax");
    let mut bad_default = content("{{ n }}");
    bad_default.variables = vec![VariableSpec {
        name: "n".into(),
        kind: VariableKind::Number,
        required: false,
        default: Some(serde_json::json!("ten")),
    }];
    assert!(bad_default.validate().is_err());
    let spec = |i: usize, default: Option<serde_json::Value>| VariableSpec {
        name: format!("v{i}"),
        kind: VariableKind::Json,
        required: false,
        default,
    };
    let mut many = content("x");
    many.variables = (0..=crate::runs::MAX_VARIABLES)
        .map(|i| spec(i, None))
        .collect();
    assert_eq!(
        many.validate().unwrap_err().details["reason"],
        "variables_count"
    );
    let mut heavy = content("x");
    heavy.variables = (0..3)
        .map(|i| spec(i, Some(serde_json::json!("d".repeat(100_000)))))
        .collect();
    assert_eq!(
        heavy.clone().validate().unwrap_err().details["reason"],
        "variables_too_large"
    );
    heavy.variables.pop();
    assert!(heavy.validate().is_ok());
    assert!(parse_note(&"x".repeat(501)).is_err());
    assert_eq!(parse_note("  first  ").unwrap(), "first");
}

#[test]
fn versions_read_back_as_written() {
    let mut c = content("Hello {{ name }}");
    c.params.stop = vec!["END".into()];
    c.variables = vec![VariableSpec {
        name: "name".into(),
        kind: VariableKind::String,
        required: false,
        default: Some(serde_json::json!("you")),
    }];
    let v = Version {
        prompt_id: Uuid::nil(),
        number: 3,
        content_hash: c.content_hash(),
        content: c.clone(),
        note: "n".into(),
        author: Author {
            id: Uuid::nil(),
            name: "A".into(),
        },
        created_at: Utc::now(),
        labels: vec!["production".into()],
    };
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["messages"][0]["content"], "Hello {{ name }}");
    assert_eq!(serde_json::from_value::<Version>(json).unwrap(), v);
    let save = SaveVersion {
        base_version: 3,
        content: c,
        note: "again".into(),
    };
    let back: SaveVersion = serde_json::from_value(serde_json::to_value(&save).unwrap()).unwrap();
    assert_eq!(
        (back.base_version, back.content, back.note),
        (3, save.content, save.note)
    );
}

#[test]
fn unknown_fields_in_content_are_refused_at_every_level() {
    let ok = serde_json::json!({
        "base_version": 0,
        "messages": [{"role": "user", "content": "Hi {{ x }}"}],
        "params": {"provider": "mock", "model": "m", "temperature": 0.5},
        "variables": [{"name": "x", "kind": "number", "required": false, "default": 1}],
        "note": "first",
    });
    let save: SaveVersion = serde_json::from_value(ok.clone()).unwrap();
    assert_eq!(save.content.params.temperature, Some(0.5));
    for (pointer, key) in [
        ("", "junk"),
        ("/messages/0", "name"),
        ("/params", "temprature"),
        ("/variables/0", "requird"),
    ] {
        let mut bad = ok.clone();
        bad.pointer_mut(pointer)
            .and_then(|v| v.as_object_mut())
            .unwrap()
            .insert(key.into(), serde_json::json!(1));
        let e = serde_json::from_value::<SaveVersion>(bad.clone()).unwrap_err();
        assert!(
            e.to_string().contains(&format!("unknown field `{key}`")),
            "{e}"
        );
        // The same content as a prompt's first version.
        let mut content = bad.as_object().unwrap().clone();
        content.remove("base_version");
        content.remove("note");
        assert!(serde_json::from_value::<VersionContent>(content.into()).is_err());
    }
}

#[test]
fn a_schema_covers_exactly_the_variables_used() {
    let declared = vec![
        VariableSpec {
            name: "old".into(),
            kind: VariableKind::Json,
            required: false,
            default: None,
        },
        VariableSpec {
            name: "topic".into(),
            kind: VariableKind::Number,
            required: false,
            default: Some(serde_json::json!(3)),
        },
    ];
    let used = vec!["audience".to_owned(), "topic".to_owned()];
    let schema = schema_for(&used, &declared);
    assert_eq!(
        schema,
        vec![
            VariableSpec {
                name: "audience".into(),
                kind: VariableKind::String,
                required: true,
                default: None,
            },
            declared[1].clone(),
        ]
    );
    assert!(schema_for(&[], &declared).is_empty());
}
