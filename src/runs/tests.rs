//! Unit tests of the run types: run key, overrides, request parsing, events.

use super::*;
use serde_json::json;

fn start(body: Value) -> std::result::Result<StartRun, serde_json::Error> {
    serde_json::from_value(body)
}

#[test]
fn run_key_ignores_key_order_and_sees_every_input() {
    let p = RunParams {
        temperature: Some(0.2),
        ..Default::default()
    };
    let a: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":{"y":2,"x":3}}"#).unwrap();
    let b: Map<String, Value> = serde_json::from_str(r#"{"b":{"x":3,"y":2},"a":1}"#).unwrap();
    let k = run_key("h", "mock", "mock-1", &p, &a);
    assert_eq!(k, run_key("h", "mock", "mock-1", &p, &b));
    assert_eq!(k.len(), 64);
    assert_ne!(k, run_key("h2", "mock", "mock-1", &p, &a));
    assert_ne!(k, run_key("h", "openai", "mock-1", &p, &a));
    assert_ne!(k, run_key("h", "mock", "mock-2", &p, &a));
    assert_ne!(k, run_key("h", "mock", "mock-1", &RunParams::default(), &a));
    assert_ne!(k, run_key("h", "mock", "mock-1", &p, &Map::new()));
}

#[test]
fn overrides_merge_and_validate() {
    let req = start(json!({
        "prompt_id": Uuid::nil(),
        "params": { "temperature": 0.1, "stop": ["END"] },
        "model": "other"
    }))
    .unwrap();
    let r = req.resolve(&ModelParams::default()).unwrap();
    assert_eq!(r.provider, "mock");
    assert_eq!(r.model, "other");
    assert_eq!(r.params.temperature, Some(0.1));
    assert_eq!(r.params.max_tokens, Some(1024));
    assert_eq!(r.params.stop, vec!["END"]);

    let hot = start(json!({ "prompt_id": Uuid::nil(), "params": { "temperature": 9 } })).unwrap();
    assert_eq!(
        hot.resolve(&ModelParams::default()).unwrap_err().field(),
        Some("params.temperature")
    );
    let bad_var =
        start(json!({ "prompt_id": Uuid::nil(), "variables": { "not a name": 1 } })).unwrap();
    assert!(bad_var.resolve(&ModelParams::default()).is_err());
    let big = start(
        json!({ "prompt_id": Uuid::nil(), "variables": { "x": "y".repeat(MAX_VARIABLES_BYTES) } }),
    )
    .unwrap();
    assert_eq!(
        big.resolve(&ModelParams::default()).unwrap_err().reason(),
        Some("variables_too_large")
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_refused() {
    assert!(start(json!({ "prompt_id": Uuid::nil(), "extra": 1 })).is_err());
    assert!(start(json!({ "prompt_id": Uuid::nil(), "params": { "temp": 1 } })).is_err());
    assert!(start(json!({ "prompt_id": "nope" })).is_err());
    assert!(start(json!({ "prompt_id": Uuid::nil(), "params": { "max_tokens": -1 } })).is_err());
    assert!(start(json!({ "prompt_id": Uuid::nil(), "variables": [] })).is_err());
}

#[test]
fn idempotency_keys() {
    assert_eq!(parse_idempotency_key(" abc-1 ").unwrap(), "abc-1");
    assert!(parse_idempotency_key("").is_err());
    assert!(parse_idempotency_key("has space").is_err());
    assert!(parse_idempotency_key(&"k".repeat(201)).is_err());
}

#[test]
fn events_serialise_with_their_type_and_apply_in_order() {
    let ev = RunEvent {
        seq: 3,
        run_id: Uuid::nil(),
        kind: EventKind::Delta { text: "hi".into() },
    };
    let v = serde_json::to_value(&ev).unwrap();
    assert_eq!(v["type"], "delta");
    assert_eq!(v["seq"], 3);
    let back: RunEvent = serde_json::from_value(v).unwrap();
    assert_eq!(back, ev);

    let mut status = RunStatus::Queued;
    let mut out = String::new();
    for k in [
        EventKind::Started { attempt: 1 },
        EventKind::Delta { text: "a".into() },
        EventKind::Started { attempt: 2 },
        EventKind::Delta { text: "b".into() },
        EventKind::Delta { text: "c".into() },
    ] {
        apply(&k, &mut status, &mut out);
    }
    assert_eq!((status, out.as_str()), (RunStatus::Running, "bc"));
}

#[test]
fn statuses_round_trip() {
    for s in RunStatus::ALL {
        assert_eq!(RunStatus::parse(s.as_str()), Some(s));
    }
    assert!(RunStatus::Canceled.is_terminal());
    assert!(!RunStatus::Running.is_terminal());
}
