//! Bad input on every run endpoint and run server function, generated: wrong types, huge
//! strings, invalid UTF-8, unknown fields (in a body, and beside a JSON server function's
//! own argument), negative or absurd parameters, garbage ids and query strings; and NUL
//! characters, on both databases. Every request gets a 4xx with an error code (never a
//! 5xx), and nothing rejected changes the database.

use super::app;
use crate::support::{Backend, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

fn wrong_value() -> impl Strategy<Value = Value> {
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
fn bad_start(prompt: String) -> impl Strategy<Value = Vec<u8>> {
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
            let r = super::Runs::new(&app, "fuzz@example.com").await;
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

/// A request body with its content type.
type Body<'a> = Option<(&'a str, Vec<u8>)>;

/// (status, the whole answer) of a request with the caller's token.
async fn answer(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Body<'_>,
) -> (u16, Value) {
    let mut req = app
        .client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let v = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, v)
}

/// A NUL character (U+0000) in any text is refused with the same code on both databases
/// (PostgreSQL cannot store one: it was a 500 there), in an address, a JSON body or a
/// form; the text `\u0000` itself, and an encoded percent sign, are not NULs.
async fn nul_characters_are_refused(app: &TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let r = super::Runs::new(app, "nul-input@example.com").await;
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

/// The limits a body under the production size limit (1 MiB) can reach, which the tests'
/// 64 kB limit stops first; bad `Idempotency-Key`s; and cancels that must be refused while
/// a run is in flight. Each is refused with its own reason, and the run is not touched.
async fn limits_and_keys(app: &TestApp) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let r = super::Runs::new(app, "limits@example.com").await;
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
    let (_, run) = r
        .start(json!({ "prompt_id": slow, "variables": { "topic": "x" } }))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let other = super::Runs::new(app, "limits-other@example.com").await;
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

mod limits {
    use super::*;

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
}
