//! Every fault the fake provider can script, through the real HTTP clients: each run ends
//! in the right status, after the right number of attempts, with the right error code.

use super::{app, Runs};
use crate::support::{Backend, TestApp};
use serde_json::{json, Value};

struct Case {
    provider: &'static str,
    model: &'static str,
    status: &'static str,
    attempts: i64,
    code: Option<&'static str>,
    usage: bool,
}

const fn case(
    provider: &'static str,
    model: &'static str,
    status: &'static str,
    attempts: i64,
    code: Option<&'static str>,
    usage: bool,
) -> Case {
    Case {
        provider,
        model,
        status,
        attempts,
        code,
        usage,
    }
}

const C: &str = "openai_compat";
const A: &str = "anthropic";

const CASES: &[Case] = &[
    case(C, "ok:tokens=3", "succeeded", 1, None, true),
    case(C, "429:times=1,retry_after=0", "succeeded", 2, None, true),
    case(
        C,
        "429:retry_after=0",
        "failed",
        3,
        Some("rate_limited"),
        false,
    ),
    case(C, "500", "failed", 3, Some("provider_unavailable"), false),
    case(C, "529:times=2", "succeeded", 3, None, true),
    case(C, "400", "failed", 1, Some("provider_rejected"), false),
    case(C, "401", "failed", 1, Some("provider_auth"), false),
    case(C, "403", "failed", 1, Some("provider_auth"), false),
    case(C, "404", "failed", 1, Some("provider_rejected"), false),
    case(C, "hang", "failed", 3, Some("timeout"), false),
    case(C, "hang:times=1", "succeeded", 2, None, true),
    case(C, "reset", "failed", 3, Some("connection_error"), false),
    case(C, "reset:times=1", "succeeded", 2, None, true),
    case(
        C,
        "malformed",
        "failed",
        1,
        Some("provider_protocol"),
        false,
    ),
    case(C, "nousage", "succeeded", 1, None, false),
    case(C, "unknown", "succeeded", 1, None, true),
    case(C, "strict", "succeeded", 1, None, false),
    case(A, "ok", "succeeded", 1, None, true),
    case(A, "529", "failed", 3, Some("provider_unavailable"), false),
    case(A, "unknown", "succeeded", 1, None, true),
    case(A, "nousage", "succeeded", 1, None, false),
    case(A, "reset:times=1", "succeeded", 2, None, true),
    case(A, "401", "failed", 1, Some("provider_auth"), false),
    case(A, "hang", "failed", 3, Some("timeout"), false),
];

async fn every_fault_ends_right(app: &TestApp) {
    let r = Runs::new(app, "faults@example.com").await;
    let pid = r.prompt("faulty", "mock", "mock-1").await;
    // All cases at once: they run concurrently, as they would for real.
    let mut started = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let (status, run) = r
            .start(json!({
                "prompt_id": pid,
                "variables": { "topic": format!("case {i}") },
                "provider": c.provider,
                "model": c.model,
            }))
            .await;
        assert_eq!(status, 201);
        started.push(run["id"].as_str().unwrap().to_owned());
    }
    for (c, id) in CASES.iter().zip(&started) {
        let run: Value = r.wait(id).await;
        let label = format!("{}/{}: {run}", c.provider, c.model);
        assert_eq!(run["status"], c.status, "{label}");
        assert_eq!(run["attempts"], c.attempts, "{label}");
        assert_eq!(run["error"]["code"].as_str(), c.code, "{label}");
        if c.status == "succeeded" {
            assert!(!run["output"].as_str().unwrap().is_empty(), "{label}");
            assert!(run["error"].is_null(), "{label}");
            assert!(
                run["provider_model"]
                    .as_str()
                    .unwrap()
                    .starts_with(if c.provider == A {
                        "claude-fake"
                    } else {
                        "fake-model"
                    }),
                "{label}"
            );
            assert!(run["ttft_ms"].is_u64(), "{label}");
        } else {
            assert!(
                !run["error"]["message"].as_str().unwrap().is_empty(),
                "{label}"
            );
        }
        assert_eq!(run["output_tokens"].is_u64(), c.usage, "{label}");
    }
    // Anthropic "ok" is priced by PRICES_JSON below: $1 per input token, $2 per output.
    let ok = r.wait(&started[17]).await;
    let cost = ok["cost_usd"].as_f64().unwrap();
    let expect = ok["input_tokens"].as_f64().unwrap() + 2.0 * ok["output_tokens"].as_f64().unwrap();
    assert!((cost - expect).abs() < 1e-6, "{cost} vs {expect}");
    // Unknown prices stay unknown rather than zero.
    assert!(r.wait(&started[0]).await["cost_usd"].is_null());
}

const PRICES: &str =
    r#"{"anthropic": {"ok": {"input_per_mtok": 1000000, "output_per_mtok": 2000000}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sqlite() {
    let app = app(Backend::Sqlite, &[("PRICES_JSON", PRICES)]).await;
    every_fault_ends_right(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_postgres() {
    let app = app(Backend::Postgres, &[("PRICES_JSON", PRICES)]).await;
    every_fault_ends_right(&app).await;
    app.stop().await;
}

/// A provider's text is untrusted: a NUL character in it (which PostgreSQL cannot store in
/// a text column) arrives as U+FFFD, in the stream and in the stored run alike, and the
/// run ends as it would have without it.
async fn nul_characters_from_a_provider(app: &TestApp) {
    let r = Runs::new(app, "nul@example.com").await;
    let pid = r.prompt("nul", "mock", "mock-1").await;
    let cases = [
        (C, "nul:tokens=3", "succeeded"),
        (A, "nul", "succeeded"),
        (C, "400:nul=1", "failed"),
    ];
    for (provider, model, status) in cases {
        let label = format!("{provider}/{model}");
        let (_, run) = r
            .start(json!({
                "prompt_id": pid,
                "variables": { "topic": "zero bytes" },
                "provider": provider,
                "model": model,
            }))
            .await;
        let id = run["id"].as_str().unwrap().to_owned();
        let events = super::until_final(r.events(&id, Some(0)).await).await;
        let run = r.wait(&id).await;
        assert_eq!(run["status"], status, "{label}: {run}");
        let stored = run.to_string();
        assert!(
            !stored.contains("\\u0000"),
            "{label}: a NUL was kept: {stored}"
        );
        if status == "succeeded" {
            let output = run["output"].as_str().unwrap();
            assert!(
                output.starts_with("alpha\u{FFFD} beta\u{FFFD}"),
                "{label}: {output:?}"
            );
            assert_eq!(
                super::output_of(&events),
                output,
                "{label}: streamed = stored"
            );
            assert!(
                run["provider_model"]
                    .as_str()
                    .unwrap()
                    .ends_with('\u{FFFD}'),
                "{label}: {run}"
            );
        } else {
            assert_eq!(run["error"]["code"], "provider_rejected", "{label}");
            let message = run["error"]["message"].as_str().unwrap();
            assert!(
                message.ends_with("scripted 400\u{FFFD}"),
                "{label}: {message:?}"
            );
        }
    }
}

with_fake_provider!(nul_from_the_provider, nul_characters_from_a_provider);

/// `Retry-After` is honoured: the retry waits what the provider asked, not the backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let app = app(Backend::Sqlite, &[]).await;
    let r = Runs::new(&app, "patient@example.com").await;
    let pid = r
        .prompt("patient", "openai_compat", "429:times=1,retry_after=1")
        .await;
    let id = r.run(&pid, "wait").await;
    // From the first event (id 0), so the early retry is replayed, not summarised.
    let events = super::until_final(r.events(&id, Some(0)).await).await;
    let retry = events
        .iter()
        .find(|e| e.1 == "retrying")
        .expect("a retrying event");
    assert_eq!(retry.2["delay_ms"], 1000);
    assert_eq!(retry.2["attempt"], 2);
    assert_eq!(retry.2["code"], "rate_limited");
    let done = r.wait(&id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"], 2);
    app.stop().await;
}
