//! Templates that do more than print their variables render in a worker process with a
//! memory ceiling and a time limit (`promptlab::template::sandbox`): one that builds
//! gigabytes or grinds for minutes is refused with a reason, at a render and a run start
//! alike, and the server, its other users and the next rendering carry on.

use super::Api;
use crate::support::{error_of, Backend, TestApp};
use reqwest::Method as M;
use serde_json::{json, Value};

/// A version of one user message, `text`, declaring `topic`.
fn version(text: &str) -> Value {
    json!({
        "messages": [{ "role": "user", "content": text }],
        "params": { "provider": "mock", "model": "mock-1" },
        "variables": [{ "name": "topic", "kind": "string" }]
    })
}

async fn refused_at_render_and_run(api: &Api<'_>, id: &str, topic: &str, reason: &str) {
    let res = api
        .send(
            M::POST,
            &format!("/api/v1/prompts/{id}/render"),
            Some(json!({ "variables": { "topic": topic } })),
        )
        .await;
    let err = error_of(res, 400).await;
    assert_eq!(err["details"]["reason"], reason, "render: {err}");
    let res = api
        .send(
            M::POST,
            "/api/v1/runs",
            Some(json!({ "prompt_id": id, "variables": { "topic": topic } })),
        )
        .await;
    let err = error_of(res, 400).await;
    assert_eq!(err["details"]["reason"], reason, "run: {err}");
}

async fn create(api: &Api<'_>, name: &str, text: &str) -> String {
    let made = api
        .json(
            M::POST,
            "/api/v1/prompts",
            Some(json!({ "name": name, "content": version(text) })),
            201,
        )
        .await;
    made["id"].as_str().unwrap().to_owned()
}

async fn memory_and_time_are_bounded(app: &TestApp) {
    let api = Api::new(app, "sandbox@example.com").await;
    // A megabyte, doubled twelve times: 4 GB, in a dozen steps of the step budget.
    let doubling = format!(
        "{{% set a = topic * 1000000 %}}{}{{{{ a | length }}}}",
        "{% set a = a ~ a %}".repeat(12)
    );
    let bomb = create(&api, "bomb", &doubling).await;
    refused_at_render_and_run(&api, &bomb, "x", "template_too_much_memory").await;

    // A quarter of a megabyte rewritten on every turn of a long loop: minutes of work in
    // few steps.
    let grind = create(
        &api,
        "grind",
        "{% for i in range(400) %}{% for j in range(400) %}{% set b = topic | replace('x', 'yy') %}{% endfor %}{% endfor %}done",
    )
    .await;
    refused_at_render_and_run(&api, &grind, &"x".repeat(250_000), "template_too_slow").await;
    assert_eq!(
        api.json(M::GET, "/api/v1/runs", None, 200).await["total"],
        0,
        "no run was started"
    );

    // The server carries on: a template with a statement renders in a new worker, a plain
    // one in the server, and a run of either starts.
    let fine = create(
        &api,
        "fine",
        "{% if topic %}About {{ topic | upper }}{% endif %}",
    )
    .await;
    let plain = create(&api, "plain", "About {{ topic }}").await;
    for (id, expected) in [(&fine, "About SAILS"), (&plain, "About sails")] {
        let out = api
            .json(
                M::POST,
                &format!("/api/v1/prompts/{id}/render"),
                Some(json!({ "variables": { "topic": "sails" } })),
                200,
            )
            .await;
        assert_eq!(out["messages"][0]["content"], expected, "{out}");
        api.json(
            M::POST,
            "/api/v1/runs",
            Some(json!({ "prompt_id": id, "variables": { "topic": "sails" } })),
            201,
        )
        .await;
    }
    // Errors that are the template's own still name their message and place.
    let broken = create(
        &api,
        "broken",
        "{% for x in topic %}{{ x.y.z }}{% endfor %}",
    )
    .await;
    let res = api
        .send(
            M::POST,
            &format!("/api/v1/prompts/{broken}/render"),
            Some(json!({ "variables": { "topic": "ab" } })),
        )
        .await;
    let err = error_of(res, 400).await;
    assert_eq!(err["details"]["reason"], "template_render", "{err}");
    assert_eq!(err["details"]["message_index"], 0, "{err}");

    // The prompt's page, rendered on the server with the editor's first preview, is
    // served for the bomb too (its preview is `preview.rs`'s).
    for id in [&bomb, &plain] {
        let res = api.send(M::GET, &format!("/prompts/{id}"), None).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("data-testid=\"preview\""),
            "the editor is on the page"
        );
    }

    // A tag too long to parse safely (its tree would be 40,000 deep) is refused at save,
    // and the server is still there to answer.
    let deep = format!("{{{{ topic{} }}}}", ".b".repeat(40_000));
    let res = api
        .send(
            M::POST,
            "/api/v1/prompts/plain/versions",
            Some({
                let mut v = version(&deep);
                v["base_version"] = json!(1);
                v
            }),
        )
        .await;
    let err = error_of(res, 400).await;
    assert_eq!(err["details"]["reason"], "template_tag_too_long", "{err}");
    api.json(M::GET, "/api/v1/prompts/plain", None, 200).await;
}

// Past the tests' 64 kB body cap, for the quarter-megabyte variable.
const BODY: [(&str, &str); 1] = [("MAX_BODY_BYTES", "2097152")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_sqlite() {
    let app = TestApp::spawn_with(Backend::Sqlite, &BODY).await;
    memory_and_time_are_bounded(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_postgres() {
    let app = TestApp::spawn_with(Backend::Postgres, &BODY).await;
    memory_and_time_are_bounded(&app).await;
    app.stop().await;
}
