//! The editor's live preview comes from the server (`prompts/preview`, and the prompt
//! page's first render, for a plain template): the variables the templates use and the messages as a run
//! renders them, through the template sandbox. A template's own failure is the preview's
//! error, not the call's; input past a version's limits is a 400; the browser runs no
//! template. A save from the editor stores the schema of the variables its templates use,
//! however stale the editor's own list was.

use super::Api;
use crate::support::{Backend, TestApp};
use reqwest::Method as M;
use serde_json::{json, Value};

fn user(text: &str) -> Value {
    json!([{ "role": "user", "content": text }])
}

/// Ask for a preview; the answer and its status.
async fn preview(api: &Api<'_>, messages: Value, schema: Value, values: Value) -> (u16, Value) {
    let res = api
        .send(
            M::POST,
            "/api/prompts/preview",
            Some(json!({ "messages": messages, "schema": schema, "values": values })),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ok(api: &Api<'_>, messages: Value, schema: Value, values: Value) -> Value {
    let (status, body) = preview(api, messages, schema, values).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn previews_come_from_the_server(app: &TestApp) {
    let api = Api::new(app, "previewer@example.com").await;

    // A plain template renders in the server; the variables come in name order.
    let got = ok(
        &api,
        json!([
            { "role": "system", "content": "You write for {{ audience }}." },
            { "role": "user", "content": "Write about {{ topic }}." }
        ]),
        json!([]),
        json!({ "audience": "engineers", "topic": "tides" }),
    )
    .await;
    assert_eq!(
        got["variables"]["Ok"],
        json!(["audience", "topic"]),
        "{got}"
    );
    assert_eq!(
        got["rendered"]["Ok"][0]["content"],
        "You write for engineers."
    );
    assert_eq!(got["rendered"]["Ok"][1]["content"], "Write about tides.");

    // A template with statements renders in a worker, with the declared defaults; a loop
    // variable is not one of the template's variables.
    let got = ok(
        &api,
        user("{% for w in words %}{{ w | upper }} {% endfor %}{{ topic }}"),
        json!([
            { "name": "words", "kind": "json", "required": true, "default": ["a", "b"] },
            { "name": "unused", "kind": "string" }
        ]),
        json!({ "topic": "tides" }),
    )
    .await;
    assert_eq!(got["variables"]["Ok"], json!(["topic", "words"]), "{got}");
    assert_eq!(got["rendered"]["Ok"][0]["content"], "A B tides", "{got}");

    // A missing value is the preview's error, naming the variable; a value of the wrong
    // kind too.
    let got = ok(&api, user("About {{ topic }}"), json!([]), json!({})).await;
    assert_eq!(got["variables"]["Ok"], json!(["topic"]));
    assert_eq!(
        got["rendered"]["Err"]["details"]["reason"],
        "template_undefined_variable"
    );
    assert_eq!(got["rendered"]["Err"]["details"]["variable"], "topic");
    let got = ok(
        &api,
        user("{{ n }}"),
        json!([{ "name": "n", "kind": "number" }]),
        json!({ "n": "three" }),
    )
    .await;
    assert_eq!(
        got["rendered"]["Err"]["details"]["reason"], "variable_type",
        "{got}"
    );

    // A syntax error: no variables, and the same error for the preview, with its place.
    let got = ok(&api, json!([{ "role": "user", "content": "fine" }, { "role": "user", "content": "a\n{% if %}" }]), json!([]), json!({})).await;
    assert_eq!(
        got["variables"]["Err"]["details"]["reason"], "template_syntax",
        "{got}"
    );
    assert_eq!(got["variables"]["Err"]["details"]["message_index"], 1);
    assert_eq!(got["variables"]["Err"]["details"]["line"], 2);
    assert_eq!(got["rendered"], json!({ "Err": got["variables"]["Err"] }));

    // What would take down a tab, or the server, is refused by the server and nothing
    // else notices: a memory bomb, a chain too deep to parse, too many branches.
    let doubling = format!(
        "{{% set a = topic * 1000000 %}}{}{{{{ a | length }}}}",
        "{% set a = a ~ a %}".repeat(12)
    );
    let got = ok(&api, user(&doubling), json!([]), json!({ "topic": "x" })).await;
    assert_eq!(got["variables"]["Ok"], json!(["topic"]));
    assert_eq!(
        got["rendered"]["Err"]["details"]["reason"], "template_too_much_memory",
        "{got}"
    );
    let deep = format!("{{{{ topic{} }}}}", ".b".repeat(40_000));
    let got = ok(&api, user(&deep), json!([]), json!({})).await;
    assert_eq!(
        got["variables"]["Err"]["details"]["reason"], "template_tag_too_long",
        "{got}"
    );
    let branches = format!("{{% if a %}}{}{{% endif %}}", "{% elif a %}".repeat(1_000));
    let got = ok(&api, user(&branches), json!([]), json!({})).await;
    assert_eq!(
        got["variables"]["Err"]["details"]["reason"], "template_too_many_branches",
        "{got}"
    );
    let got = ok(
        &api,
        user("still {{ here }}"),
        json!([]),
        json!({ "here": "up" }),
    )
    .await;
    assert_eq!(got["rendered"]["Ok"][0]["content"], "still up");

    // Input past a version's limits is the call's error, with the field.
    let refused = |status: u16, body: &Value, field: &str, reason: &str| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "validation_error", "{body}");
        assert_eq!(body["details"]["field"], field, "{body}");
        assert_eq!(body["details"]["reason"], reason, "{body}");
    };
    let (status, body) = preview(&api, json!([]), json!([]), json!({})).await;
    refused(status, &body, "messages", "messages_count");
    let many: Vec<Value> = (0..51)
        .map(|_| json!({ "role": "user", "content": "x" }))
        .collect();
    let (status, body) = preview(&api, json!(many), json!([]), json!({})).await;
    refused(status, &body, "messages", "messages_count");
    let (status, body) = preview(&api, user(&"x".repeat(100_001)), json!([]), json!({})).await;
    refused(status, &body, "messages[0].content", "message_too_long");
    let schema: Vec<Value> = (0..101)
        .map(|i| json!({ "name": format!("v{i}") }))
        .collect();
    let (status, body) = preview(&api, user("x"), json!(schema), json!({})).await;
    refused(status, &body, "variables", "variables_count");
    let (status, body) = preview(&api, user("x"), json!([]), json!({ "not a name": 1 })).await;
    refused(status, &body, "variables.not a name", "variable_name");
    let (status, body) = preview(
        &api,
        user("x"),
        json!([]),
        json!({ "big": "y".repeat(300_000) }),
    )
    .await;
    refused(status, &body, "variables", "variables_too_large");
    // Unknown fields and wrong types, at any depth.
    for body in [
        json!({ "messages": user("x"), "schema": [], "values": {}, "junk": 1 }),
        json!({ "messages": [{ "role": "user", "content": "x", "name": "n" }], "schema": [], "values": {} }),
        json!({ "messages": user("x"), "schema": [{ "name": "a", "requird": true }], "values": {} }),
        json!({ "messages": "x", "schema": [], "values": {} }),
        json!({ "messages": user("x"), "schema": [], "values": [] }),
        json!({ "messages": [{ "role": "narrator", "content": "x" }], "schema": [], "values": {} }),
    ] {
        let res = api
            .send(M::POST, "/api/prompts/preview", Some(body.clone()))
            .await;
        assert_eq!(res.status(), 400, "{body}");
    }

    // Signed out: nothing.
    let stranger = Api::with_token(app, "not-a-session".into());
    let (status, _) = preview(&stranger, user("x"), json!([]), json!({})).await;
    assert_eq!(status, 401);
}

async fn the_page_comes_with_its_preview(app: &TestApp) {
    let api = Api::new(app, "page-previewer@example.com").await;
    let create = |name: &'static str, text: String, variables: Value| {
        let api = &api;
        async move {
            let made = api
                .json(
                    M::POST,
                    "/api/v1/prompts",
                    Some(json!({ "name": name, "content": {
                        "messages": user(&text),
                        "params": { "provider": "mock", "model": "mock-1" },
                        "variables": variables,
                    } })),
                    201,
                )
                .await;
            made["id"].as_str().unwrap().to_owned()
        }
    };
    let page = |id: String| {
        let api = &api;
        async move {
            let res = api.send(M::GET, &format!("/prompts/{id}"), None).await;
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    // A plain template is previewed on the page, with its default value.
    let id = create(
        "plain",
        "About {{ topic }}.".into(),
        json!([{ "name": "topic", "kind": "string", "default": "tides" }]),
    )
    .await;
    let html = page(id).await;
    assert!(
        html.contains(">About tides.<"),
        "the preview is on the page"
    );
    assert!(!html.contains("data-testid=\"preview-pending\""));
    // One with statements is not rendered for a page view (it would hold a worker for
    // each viewer): its variables are listed and the browser asks for the rendering.
    let id = create(
        "statements",
        "{% if topic %}About {{ topic | upper }}.{% endif %}".into(),
        json!([{ "name": "topic", "kind": "string", "default": "tides" }]),
    )
    .await;
    let html = page(id).await;
    assert!(
        html.contains("data-testid=\"preview-pending\""),
        "the page says it waits"
    );
    assert!(!html.contains("About TIDES."));
    assert!(
        html.contains("data-testid=\"value-topic\""),
        "its variable is listed"
    );
    // The model's text is escaped on the page.
    let id = create(
        "markup",
        "{{ topic }}".into(),
        json!([{ "name": "topic", "kind": "string", "default": "<b>bold</b>" }]),
    )
    .await;
    let html = page(id).await;
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains("<pre><b>"));
    // A memory bomb's page is served without running it.
    let doubling = format!(
        "{{% set a = topic * 1000000 %}}{}{{{{ a | length }}}}",
        "{% set a = a ~ a %}".repeat(12)
    );
    let id = create(
        "bomb",
        doubling,
        json!([{ "name": "topic", "kind": "string", "default": "x" }]),
    )
    .await;
    let html = page(id).await;
    assert!(html.contains("data-testid=\"preview-pending\""));
    api.json(M::GET, "/api/v1/prompts/bomb", None, 200).await;
}

async fn a_save_stores_the_schema_of_what_is_used(app: &TestApp) {
    let api = Api::new(app, "schema-saver@example.com").await;
    let prompt = api.create("schema").await;
    let id = prompt["id"].as_str().unwrap();
    // The editor's list is stale: it misses `audience`, still has `old`, and knows
    // `topic` as a number.
    let res = api
        .send(
            M::POST,
            "/api/prompts/save",
            Some(json!({ "prompt_id": id, "save": {
                "base_version": 1,
                "note": "",
                "messages": [{ "role": "user", "content": "{{ topic }} for {{ audience }}" }],
                "params": { "provider": "mock", "model": "mock-1" },
                "variables": [
                    { "name": "old", "kind": "string" },
                    { "name": "topic", "kind": "number", "required": false }
                ],
            } })),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v = api
        .json(M::GET, "/api/v1/prompts/schema/versions/2", None, 200)
        .await;
    assert_eq!(
        v["variables"],
        json!([
            { "name": "audience", "kind": "string", "required": true },
            { "name": "topic", "kind": "number", "required": false }
        ]),
        "{v}"
    );
}

// Past the tests' 64 kB body cap, for the long message and the large value.
const BODY: [(&str, &str); 1] = [("MAX_BODY_BYTES", "2097152")];

async fn all(app: &TestApp) {
    previews_come_from_the_server(app).await;
    the_page_comes_with_its_preview(app).await;
    a_save_stores_the_schema_of_what_is_used(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_sqlite() {
    let app = TestApp::spawn_with(Backend::Sqlite, &BODY).await;
    all(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_postgres() {
    let app = TestApp::spawn_with(Backend::Postgres, &BODY).await;
    all(&app).await;
    app.stop().await;
}
