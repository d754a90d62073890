//! Request bodies that must be refused, generated from a valid start.

use proptest::prelude::*;
use serde_json::{json, Value};

pub(super) fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        prop::collection::vec(any::<i32>(), 0..4).prop_map(|v| json!(v)),
        Just(json!({ "nested": { "deep": [1, 2, 3] } })),
    ]
}

/// A start request that must be refused, built from a valid one.
pub(super) fn bad_start(prompt: String) -> impl Strategy<Value = Vec<u8>> {
    let base = json!({ "prompt_id": prompt, "variables": { "topic": "x" } });
    let with = move |f: Box<dyn Fn(&mut Value)>| {
        let mut v = base.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap_or_default()
    };
    let w = with.clone();
    let bad_id = wrong_value().prop_map(move |x| w(Box::new(move |v| v["prompt_id"] = x.clone())));
    let w = with.clone();
    let unknown = ("[a-z_]{1,12}", wrong_value())
        .prop_filter("not a known field", |(k, _)| {
            ![
                "prompt_id",
                "version",
                "variables",
                "provider",
                "model",
                "params",
                "bypass_cache",
            ]
            .contains(&k.as_str())
        })
        .prop_map(move |(k, x)| w(Box::new(move |v| v[k.as_str()] = x.clone())));
    let w = with.clone();
    let hot = prop_oneof![2.0001f64..1e300, -1e300f64..-0.0001]
        .prop_map(move |t| w(Box::new(move |v| v["params"] = json!({ "temperature": t }))));
    let w = with.clone();
    let tokens = prop_oneof![-1_000_000_000_000i64..=0, 1_000_001i64..i64::MAX]
        .prop_map(move |t| w(Box::new(move |v| v["params"] = json!({ "max_tokens": t }))));
    let w = with.clone();
    let top_p = prop_oneof![1.0001f64..1e9, -1e9f64..-0.0001]
        .prop_map(move |t| w(Box::new(move |v| v["params"] = json!({ "top_p": t }))));
    let w = with.clone();
    let stops = prop::collection::vec("\\PC{0,3}", 5..9).prop_map(move |s| {
        w(Box::new(move |v| {
            v["params"] = json!({ "stop": s.clone() })
        }))
    });
    let w = with.clone();
    let vars_type = prop_oneof![
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        Just(json!([1, 2])),
        Just(Value::Bool(true))
    ]
    .prop_map(move |x| w(Box::new(move |v| v["variables"] = x.clone())));
    let w = with.clone();
    let var_name = "[0-9 \\-!][a-z ]{0,10}".prop_map(move |k| {
        w(Box::new(move |v| {
            v["variables"] = json!({ "topic": "x", k.clone(): 1 })
        }))
    });
    let w = with.clone();
    let version = (i32::MIN..=0).prop_map(move |n| w(Box::new(move |v| v["version"] = json!(n))));
    let w = with.clone();
    let provider = "[a-z]{1,20}"
        .prop_filter("not configured", |p| {
            !["mock", "anthropic"].contains(&p.as_str())
        })
        .prop_map(move |p| w(Box::new(move |v| v["provider"] = json!(p.clone()))));
    let w = with.clone();
    let huge = (70_000usize..200_000).prop_map(move |n| {
        w(Box::new(move |v| {
            v["variables"] = json!({ "topic": "x".repeat(n) })
        }))
    });
    // Each field with a value of a type it cannot take (strings only where the field is
    // not a string; `null` only where the field is required).
    let w = with.clone();
    let not_text = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(json!([1])),
        Just(json!({ "a": 1 })),
    ];
    let not_number = prop_oneof![
        "[a-z0-9]{0,8}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(json!([1])),
        Just(json!({ "a": 1 })),
    ];
    let not_list = prop_oneof![
        "[a-z]{0,8}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!({ "a": 1 })),
    ];
    let typed = prop_oneof![
        not_number.clone().prop_map(|x| ("/version", x)),
        (0.01f64..0.99).prop_map(|f| ("/version", json!(1.0 + f))),
        not_text.clone().prop_map(|x| ("/provider", x)),
        not_text.prop_map(|x| ("/model", x)),
        not_list.clone().prop_map(|x| ("/params", x)),
        not_number.clone().prop_map(|x| ("/params/max_tokens", x)),
        (0.01f64..0.99).prop_map(|f| ("/params/max_tokens", json!(10.0 + f))),
        not_number.prop_map(|x| ("/params/temperature", x)),
        not_list.prop_map(|x| ("/params/stop", x)),
        prop_oneof![
            "[a-z]{0,8}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            Just(json!([true])),
        ]
        .prop_map(|x| ("/bypass_cache", x)),
        Just(("/prompt_id", Value::Null)),
    ]
    .prop_map(move |(path, x)| {
        w(Box::new(move |v| {
            if path.starts_with("/params/") {
                v["params"] = json!({});
            }
            let (parent, key) = path.rsplit_once('/').unwrap();
            v.pointer_mut(if parent.is_empty() { "" } else { parent })
                .unwrap()[key] = x.clone();
        }))
    });
    let bytes = prop::collection::vec(any::<u8>(), 0..300);
    let invalid_utf8 = prop::collection::vec(any::<u8>(), 0..50).prop_map(|mut b| {
        b.splice(0..0, *b"{\"prompt_id\": \"\xff\xfe");
        b
    });
    let nested =
        (200usize..2000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes());
    prop_oneof![
        bad_id,
        typed,
        unknown,
        hot,
        tokens,
        top_p,
        stops,
        vars_type,
        var_name,
        version,
        provider,
        huge,
        bytes,
        invalid_utf8,
        nested
    ]
}
