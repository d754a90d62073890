//! Limits past the tests' body cap, bad `Idempotency-Key`s, refused cancels.

use super::answer;
use crate::runs::app;
use crate::support::{Backend, TestApp};
use serde_json::{json, Value};

/// The limits a body under the production size limit (1 MiB) can reach, which the tests'
/// 64 kB limit stops first; bad `Idempotency-Key`s; and cancels that must be refused while
/// a run is in flight. Each is refused with its own reason, and the run is not touched.
async fn limits_and_keys(app: &TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let r = crate::runs::Runs::new(app, "limits@example.com").await;
    let prompt = r.prompt("limits", "mock", "mock-1").await;
    let token = r.api.token.clone();
    let start = |f: &dyn Fn(&mut Value)| {
        let mut v = json!({ "prompt_id": prompt, "variables": { "topic": "x" } });
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("v{i}"), json!("x"))).collect();
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            start(&|v| v["variables"]["topic"] = json!("x".repeat(300 * 1024))),
            "variables",
            "variables_too_large",
        ),
        (
            start(&|v| v["variables"] = Value::Object(many.clone())),
            "variables",
            "variables_count",
        ),
        (
            start(&|v| {
                v["provider"] = json!("openai_compat");
                v["model"] = json!("m".repeat(129));
            }),
            "params.model",
            "param_invalid",
        ),
        (
            start(&|v| v["params"] = json!({ "stop": ["s".repeat(101)] })),
            "params.stop",
            "param_invalid",
        ),
    ];
    for (body, field, reason) in cases {
        let (status, v) = answer(
            app,
            &token,
            reqwest::Method::POST,
            "/api/v1/runs",
            Some(("application/json", body)),
        )
        .await;
        assert_eq!(status, 400, "{reason}: {v}");
        assert_eq!(v["error"]["code"], "validation_error", "{v}");
        assert_eq!(v["error"]["details"]["reason"], reason, "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    for key in ["", "   ", &"k".repeat(201), "has space", "tab\there"] {
        let res = r
            .start_raw(
                json!({ "prompt_id": prompt, "variables": { "topic": "x" } }),
                Some(key),
            )
            .await;
        assert_eq!(res.status(), 400, "key {key:?}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v["error"]["details"]["reason"], "idempotency_key_invalid",
            "{v}"
        );
    }
    // Not visible ASCII: the header's bytes are not text at all.
    let res = app
        .client()
        .post(app.url("/api/v1/runs"))
        .bearer_auth(&token)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(b"k\xe9y").unwrap(),
        )
        .json(&json!({ "prompt_id": prompt, "variables": { "topic": "x" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let runs = promptlab::store::runs::Entity::find().count(app.engine.db());
    assert_eq!(runs.await.unwrap(), 0, "a refused start wrote a run");

    // A run in flight, and cancels it must not take: another user's, and malformed ones.
    let slow = r
        .prompt("limits-slow", "openai_compat", "ok:tokens=20,delay=50")
        .await;
    let id = r.run(&slow, "x").await;
    let other = crate::runs::Runs::new(app, "limits-other@example.com").await;
    let form = "application/x-www-form-urlencoded";
    for (who, path, body) in [
        (&other.api.token, format!("/api/v1/runs/{id}/cancel"), None),
        (
            &other.api.token,
            "/api/runs/cancel".to_owned(),
            Some((form, format!("id={id}"))),
        ),
        (&token, format!("/api/v1/runs/{id}x/cancel"), None),
        (
            &token,
            "/api/runs/cancel".to_owned(),
            Some((form, format!("id={id}x"))),
        ),
        (
            &token,
            "/api/runs/cancel".to_owned(),
            Some((form, "run={id}".to_owned())),
        ),
    ] {
        let (status, v) = answer(
            app,
            who,
            reqwest::Method::POST,
            &path,
            body.map(|(ct, b)| (ct, b.into_bytes())),
        )
        .await;
        assert!((400..500).contains(&status), "{path}: {status} {v}");
    }
    let done = r.wait(&id).await;
    assert_eq!(done["status"], "succeeded", "a refused cancel took: {done}");
    assert_eq!(done["output_tokens"], 20, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let app = app(Backend::Sqlite, &[("MAX_BODY_BYTES", "2097152")]).await;
    limits_and_keys(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let app = app(Backend::Postgres, &[("MAX_BODY_BYTES", "2097152")]).await;
    limits_and_keys(&app).await;
    app.stop().await;
}
