//! Generated bad input (`strategies`) sent to the run endpoints and server functions of one
//! SQLite server: each a 4xx whose code matches its status, and no run written.

use super::strategies::{bad_start, wrong_value};
use crate::runs::app;
use crate::support::{Backend, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

struct Probe {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    token: String,
    prompt: String,
}

impl Probe {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (app, token, prompt) = rt.block_on(async {
            let app = app(Backend::Sqlite, &[]).await;
            let r = crate::runs::Runs::new(&app, "fuzz@example.com").await;
            let prompt = r.prompt("fuzzed", "mock", "mock-1").await;
            let token = r.api.token.clone();
            drop(r);
            (app, token, prompt)
        });
        Self {
            rt,
            app,
            token,
            prompt,
        }
    }

    /// Send and return (status, error code).
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Option<String>) {
        self.rt.block_on(async {
            let res = self
                .app
                .client()
                .request(method, self.app.url(path))
                .timeout(std::time::Duration::from_secs(10))
                .bearer_auth(&self.token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let v: Value =
                serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
            let code = v["error"]["code"]
                .as_str()
                .or(v["code"].as_str())
                .map(str::to_owned);
            (status, code)
        })
    }

    fn runs_in_db(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        self.rt
            .block_on(promptlab::store::runs::Entity::find().count(self.app.engine.db()))
            .unwrap()
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A 4xx whose error code is one of the API's own and is the one for that status.
fn refused(status: u16, code: &Option<String>) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&status), "status {status}");
    let Some(code) = code else {
        return Err(TestCaseError::fail(format!("no error code with {status}")));
    };
    let known: promptlab::ErrorCode = serde_json::from_value(json!(code))
        .map_err(|_| TestCaseError::fail(format!("{code} is not an error code of the API")))?;
    prop_assert_eq!(
        known.http_status(),
        status,
        "{} answered with {}",
        code,
        status
    );
    Ok(())
}

#[test]
fn bad_run_requests_are_refused_and_change_nothing() {
    let p = Probe::new();
    let strategy = bad_start(p.prompt.clone());
    // REST: POST /api/v1/runs.
    runner(300)
        .run(&strategy, |body| {
            let (status, code) = p.send(
                reqwest::Method::POST,
                "/api/v1/runs",
                "application/json",
                body,
            );
            refused(status, &code)
        })
        .unwrap();
    // The same bodies through the server function the editor uses.
    runner(150)
        .run(&strategy, |body| {
            let mut wrapped = b"{\"req\":".to_vec();
            wrapped.extend_from_slice(&body);
            wrapped.push(b'}');
            let (status, code) = p.send(
                reqwest::Method::POST,
                "/api/runs/start",
                "application/json",
                wrapped,
            );
            refused(status, &code)
        })
        .unwrap();
    // A valid start with a field beside the server function's own argument: refused too.
    let beside = (
        "[a-z_]{1,12}".prop_filter("not the argument", |k| k != "req"),
        wrong_value(),
    );
    runner(40)
        .run(&beside, |(k, x)| {
            let body = json!({
                "req": { "prompt_id": p.prompt, "variables": { "topic": "x" } },
                k.clone(): x,
            });
            let (status, code) = p.send(
                reqwest::Method::POST,
                "/api/runs/start",
                "application/json",
                serde_json::to_vec(&body).unwrap(),
            );
            refused(status, &code)
        })
        .unwrap();
    // Too large for the body limit: the server function's client gets the error bare, as
    // it decodes every error of a server function; REST gets its own form.
    let huge = serde_json::to_vec(&json!({ "req": { "prompt_id": p.prompt,
        "variables": { "topic": "x".repeat(100_000) } } }))
    .unwrap();
    for (path, body) in [
        ("/api/runs/start", huge.clone()),
        ("/api/v1/runs", huge[7..huge.len() - 1].to_vec()),
    ] {
        let v: Value = p.rt.block_on(async {
            let res = p
                .app
                .client()
                .post(p.app.url(path))
                .bearer_auth(&p.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 413, "{path}");
            res.json().await.unwrap()
        });
        let code = if path.starts_with("/api/v1/") {
            &v["error"]["code"]
        } else {
            &v["code"]
        };
        assert_eq!(code, "payload_too_large", "{path}: {v}");
    }
    // A bad Idempotency-Key is refused before anything is written.
    let bad_key = p.rt.block_on(async {
        p.app
            .client()
            .post(p.app.url("/api/v1/runs"))
            .bearer_auth(&p.token)
            .header("Idempotency-Key", "has spaces")
            .json(&json!({ "prompt_id": p.prompt, "variables": { "topic": "x" } }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(bad_key, 400);
    assert_eq!(p.runs_in_db(), 0, "rejected requests wrote nothing");
    p.rt.block_on(p.app.stop());
}

#[test]
fn garbage_ids_queries_and_forms_are_client_errors() {
    let p = Probe::new();
    // Not "." or "..": the client would normalise those away into another route.
    let segment = "[a-zA-Z0-9%._~-]{1,60}"
        .prop_filter("not a dot segment", |s| !s.trim_matches('.').is_empty());
    runner(120)
        .run(&(segment, 0usize..3), |(id, which)| {
            let path = match which {
                0 => format!("/api/v1/runs/{id}"),
                1 => format!("/api/v1/runs/{id}/cancel"),
                _ => format!("/api/v1/runs/{id}/events"),
            };
            let method = if which == 1 {
                reqwest::Method::POST
            } else {
                reqwest::Method::GET
            };
            let (status, code) = p.send(method, &path, "application/json", Vec::new());
            refused(status, &code)
        })
        .unwrap();
    // Query strings: anything goes in, nothing breaks; bad values are 400.
    runner(200)
        .run(&"[ -~]{0,80}", |q| {
            // Reserved characters percent-encoded, so the URL itself stays valid.
            let q: String = q
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "=&_-.~:".contains(c) {
                        c.to_string()
                    } else {
                        format!("%{:02X}", c as u32)
                    }
                })
                .collect();
            let (status, _) = p.send(
                reqwest::Method::GET,
                &format!("/api/v1/runs?{q}"),
                "application/json",
                Vec::new(),
            );
            prop_assert!(
                status == 200 || (400..500).contains(&status),
                "status {status} for ?{q}"
            );
            Ok(())
        })
        .unwrap();
    for q in [
        "status=bogus",
        "version=x",
        "from=yesterday",
        "per_page=-1",
        "page=99999999999",
        "prompt_id=nope",
        "from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
        "page=0",
        "page=1000001",
        "per_page=0",
        "per_page=101",
        "per_page=4294967295",
        &format!("q={}", "x".repeat(501)),
        &format!("provider={}", "x".repeat(65)),
        &format!("model={}", "x".repeat(129)),
    ] {
        let (status, code) = p.send(
            reqwest::Method::GET,
            &format!("/api/v1/runs?{q}"),
            "application/json",
            Vec::new(),
        );
        assert!(
            (400..500).contains(&status) && code.is_some(),
            "{q}: {status}"
        );
    }
    // Server functions with form bodies (get, cancel, recent) and JSON (list).
    runner(150)
        .run(
            &(0usize..3, prop::collection::vec(any::<u8>(), 0..80)),
            |(which, body)| {
                let path = ["/api/runs/get", "/api/runs/cancel", "/api/runs/recent"][which];
                let (status, code) = p.send(
                    reqwest::Method::POST,
                    path,
                    "application/x-www-form-urlencoded",
                    body,
                );
                refused(status, &code)
            },
        )
        .unwrap();
    runner(100)
        .run(&wrong_value(), |v| {
            let body = serde_json::to_vec(&json!({ "query": v })).unwrap();
            let (status, code) = p.send(
                reqwest::Method::POST,
                "/api/runs/list",
                "application/json",
                body,
            );
            prop_assert!(
                status == 200 || ((400..500).contains(&status) && code.is_some()),
                "status {status}"
            );
            Ok(())
        })
        .unwrap();
    // Unknown fields in the list's JSON, beside its argument or in it.
    for body in [
        json!({ "query": {}, "junk": 1 }),
        json!({ "query": { "status": "succeeded", "colour": "red" } }),
    ] {
        let (status, code) = p.send(
            reqwest::Method::POST,
            "/api/runs/list",
            "application/json",
            serde_json::to_vec(&body).unwrap(),
        );
        assert!(
            status == 400 && code.as_deref() == Some("validation_error"),
            "{body}: {status} {code:?}"
        );
    }
    assert_eq!(p.runs_in_db(), 0);
    p.rt.block_on(p.app.stop());
}
