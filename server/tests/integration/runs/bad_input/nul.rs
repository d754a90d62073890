//! NUL characters (U+0000), refused the same way on both databases.

use super::{answer, Body};
use crate::support::TestApp;
use serde_json::{json, Value};

/// A NUL character (U+0000) in any text is refused with the same code on both databases
/// (PostgreSQL cannot store one: it was a 500 there), in an address, a JSON body or a
/// form; the text `\u0000` itself, and an encoded percent sign, are not NULs.
async fn nul_characters_are_refused(app: &TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let r = crate::runs::Runs::new(app, "nul-input@example.com").await;
    let prompt = r.prompt("nul-input", "mock", "mock-1").await;
    let token = r.api.token.clone();
    let runs = || promptlab::store::runs::Entity::find().count(app.engine.db());
    let prompts = || promptlab::store::prompts::Entity::find().count(app.engine.db());
    let prompts_before = prompts().await.unwrap();
    let start = |f: &dyn Fn(&mut Value)| {
        let mut v = json!({ "prompt_id": prompt, "variables": { "topic": "x" } });
        f(&mut v);
        v
    };
    let json_body = |v: Value| Some(("application/json", serde_json::to_vec(&v).unwrap()));
    let form = |s: &str| Some(("application/x-www-form-urlencoded", s.as_bytes().to_vec()));
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let cases: Vec<(reqwest::Method, &str, Body, &str)> = vec![
        (
            post.clone(),
            "/api/v1/runs",
            json_body(start(&|v| {
                v["provider"] = json!("openai_compat");
                v["model"] = json!("a\u{0}b");
            })),
            "body",
        ),
        (
            post.clone(),
            "/api/v1/runs",
            json_body(start(&|v| v["variables"]["topic"] = json!("x\u{0}"))),
            "body",
        ),
        (get.clone(), "/api/v1/runs?q=%00", None, "address"),
        (get.clone(), "/api/v1/runs?provider=a%00", None, "address"),
        (get.clone(), "/api/v1/runs?model=%00x", None, "address"),
        (
            post.clone(),
            "/api/v1/prompts",
            json_body(json!({ "name": "n\u{0}", "content": {
                "messages": [{ "role": "user", "content": "hi" }],
                "params": { "provider": "mock", "model": "mock-1" }, "variables": [] } })),
            "body",
        ),
        (
            post.clone(),
            "/api/runs/start",
            json_body(json!({ "req": start(&|v| v["model"] = json!("\u{0}")) })),
            "body",
        ),
        (post.clone(), "/api/runs/cancel", form("id=%00"), "body"),
        (
            post.clone(),
            "/api/runs/list",
            json_body(json!({ "query": { "q": "\u{0}" } })),
            "body",
        ),
        (get.clone(), "/runs?q=%00", None, "address"),
        // A server function reads its body by its own encoding, whatever the request's
        // Content-Type says.
        (
            post.clone(),
            "/api/prompts/create",
            Some((
                "text/plain",
                b"name=nul-desc&description=a%00b&tags=".to_vec(),
            )),
            "body",
        ),
        (
            post.clone(),
            "/api/prompts/create",
            Some((
                "application/json",
                b"name=nul-desc&description=a%00b&tags=".to_vec(),
            )),
            "body",
        ),
        (
            post.clone(),
            "/api/runs/start",
            Some((
                "application/x-www-form-urlencoded",
                serde_json::to_vec(&json!({ "req": start(&|v| v["model"] = json!("\u{0}")) }))
                    .unwrap(),
            )),
            "body",
        ),
    ];
    for (method, path, body, place) in cases {
        let label = format!("{method} {path}");
        let (status, v) = answer(app, &token, method, path, body).await;
        assert_eq!(status, 400, "{label}: {v}");
        // REST and pages wrap the error; a server function's client reads it bare.
        let e = if v["error"].is_object() {
            &v["error"]
        } else {
            &v
        };
        assert_eq!(e["code"], "validation_error", "{label}: {v}");
        assert_eq!(e["details"]["reason"], "nul_character", "{label}: {v}");
        assert_eq!(e["details"]["field"], place, "{label}: {v}");
    }
    assert_eq!(runs().await.unwrap(), 0, "a refused request wrote a run");
    assert_eq!(prompts().await.unwrap(), prompts_before);

    // Not NULs: the six characters `\u0000` (an escaped backslash) and `%00` typed as text,
    // also through the server function.
    let literal = "\\u0000 and %00";
    let (status, v) = answer(
        app,
        &token,
        post.clone(),
        "/api/v1/runs",
        json_body(start(&|v| v["variables"]["topic"] = json!(literal))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let run = r.wait(v["run"]["id"].as_str().unwrap()).await;
    assert_eq!(run["variables"]["topic"], literal, "{run}");
    let (status, v) = answer(
        app,
        &token,
        post.clone(),
        "/api/runs/start",
        json_body(json!({ "req": start(&|v| v["variables"]["topic"] = json!(literal)) })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["run"]["variables"]["topic"], literal, "{v}");
    let (status, v) = answer(app, &token, get, "/api/v1/runs?q=%2500", None).await;
    assert_eq!(status, 200, "{v}");
    // The same start again: a copy of the succeeded run, from the cache.
    assert_eq!(runs().await.unwrap(), 2);
}

with_fake_provider!(nul_input, nul_characters_are_refused);
