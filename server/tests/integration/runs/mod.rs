//! Runs over REST and SSE on both databases, against the built-in mock and a fake provider
//! on loopback that speaks the OpenAI and Anthropic wire formats (faults included).

/// Define `$name::sqlite` and `$name::postgres` running `$body` against [`app`].
macro_rules! with_fake_provider {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::runs::app($crate::support::Backend::Sqlite, &[]).await;
                $body(&app).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::runs::app($crate::support::Backend::Postgres, &[]).await;
                $body(&app).await;
                app.stop().await;
            }
        }
    };
}

mod bad_input;
mod faults;
mod history;
mod lifecycle;
mod recovery;
mod starts;

use crate::prompts::Api;
use crate::support::{Backend, TestApp};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

/// Scripts the Anthropic allowlist accepts in these tests.
const ANTHROPIC_SCRIPTS: &str = "ok,529,unknown,nousage,reset:times=1,401,hang,nul";

/// A server whose providers include the fake (as `openai_compat` and `anthropic`), with
/// short backoffs and time limits so fault cases finish quickly.
pub(crate) async fn app(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let fake = promptlab_fake_provider::spawn().await;
    let compat = format!("{fake}/v1");
    let mut vars: Vec<(&str, &str)> = vec![
        ("OPENAI_COMPAT_BASE_URL", &compat),
        ("ANTHROPIC_API_KEY", "test-anthropic-key"),
        ("ANTHROPIC_BASE_URL", &fake),
        ("ANTHROPIC_MODELS", ANTHROPIC_SCRIPTS),
        ("RUN_BACKOFF_MS", "20,40"),
        ("RUN_FIRST_BYTE_TIMEOUT_MS", "400"),
        ("RUN_TOTAL_TIMEOUT_MS", "10000"),
        ("RUN_FLUSH_MS", "100"),
        ("RUN_LEASE_MS", "1500"),
        ("MOCK_TOKENS_PER_SECOND", "0"),
    ];
    vars.extend_from_slice(extra);
    let idle = extra.iter().any(|(k, _)| *k == "TEST_IDLE");
    if idle {
        TestApp::spawn_idle(backend, &vars).await
    } else {
        TestApp::spawn_with(backend, &vars).await
    }
}

pub(crate) struct Runs<'a> {
    pub(crate) api: Api<'a>,
    pub(crate) app: &'a TestApp,
}

impl<'a> Runs<'a> {
    pub(crate) async fn new(app: &'a TestApp, email: &str) -> Runs<'a> {
        Runs {
            api: Api::new(app, email).await,
            app,
        }
    }

    /// A prompt whose v1 runs on `provider`/`model`; returns its id.
    pub(crate) async fn prompt(&self, name: &str, provider: &str, model: &str) -> String {
        let body = json!({
            "name": name,
            "content": {
                "messages": [
                    { "role": "system", "content": "Be brief." },
                    { "role": "user", "content": "Tell me about {{ topic }}." }
                ],
                "params": { "provider": provider, "model": model, "max_tokens": 50 },
                "variables": [ { "name": "topic", "kind": "string", "required": true } ]
            }
        });
        let p = self
            .api
            .json(reqwest::Method::POST, "/api/v1/prompts", Some(body), 201)
            .await;
        p["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn start_raw(&self, body: Value, key: Option<&str>) -> reqwest::Response {
        let mut req = self
            .app
            .client()
            .post(self.app.url("/api/v1/runs"))
            .bearer_auth(&self.api.token)
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// Start a run; returns (HTTP status, run).
    pub(crate) async fn start(&self, body: Value) -> (u16, Value) {
        let res = self.start_raw(body, None).await;
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap();
        assert!(status == 200 || status == 201, "start: {status} {v}");
        (status, v["run"].clone())
    }

    /// Start a run of `prompt` with `topic` for its one variable; returns the run's id.
    pub(crate) async fn run(&self, prompt: &str, topic: &str) -> String {
        let (_, run) = self
            .start(json!({ "prompt_id": prompt, "variables": { "topic": topic } }))
            .await;
        run["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn get(&self, id: &str) -> Value {
        self.api
            .json(
                reqwest::Method::GET,
                &format!("/api/v1/runs/{id}"),
                None,
                200,
            )
            .await
    }

    /// Poll until the run is final (succeeded, failed or canceled).
    pub(crate) async fn wait(&self, id: &str) -> Value {
        for _ in 0..400 {
            let run = self.get(id).await;
            if matches!(
                run["status"].as_str(),
                Some("succeeded" | "failed" | "canceled")
            ) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not finish: {}", self.get(id).await);
    }

    /// Open the run's event stream (optionally resuming after `last`).
    pub(crate) async fn events(
        &self,
        id: &str,
        last: Option<u64>,
    ) -> impl futures_util::Stream<Item = (u64, String, Value)> + Unpin {
        self.sse(&format!("/api/v1/runs/{id}/events"), last).await
    }

    /// Open the caller's stream of run summaries (`GET /api/v1/runs/events`).
    pub(crate) async fn user_events(
        &self,
    ) -> impl futures_util::Stream<Item = (u64, String, Value)> + Unpin {
        self.sse("/api/v1/runs/events", None).await
    }

    /// An event stream of the API: (id, event, data) of each event whose data is JSON.
    async fn sse(
        &self,
        path: &str,
        last: Option<u64>,
    ) -> impl futures_util::Stream<Item = (u64, String, Value)> + Unpin {
        let mut req = self
            .app
            .client()
            .get(self.app.url(path))
            .bearer_auth(&self.api.token);
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Box::pin(res.bytes_stream().eventsource().filter_map(|e| async move {
            let e = e.ok()?;
            let data: Value = serde_json::from_str(&e.data).ok()?;
            Some((e.id.parse().unwrap_or(0), e.event, data))
        }))
    }
}

/// Collect events until a final one (or the timeout).
pub(crate) async fn until_final(
    mut stream: impl futures_util::Stream<Item = (u64, String, Value)> + Unpin,
) -> Vec<(u64, String, Value)> {
    let mut out = Vec::new();
    let collect = async {
        while let Some(ev) = stream.next().await {
            let end = matches!(ev.1.as_str(), "succeeded" | "failed" | "canceled");
            out.push(ev);
            if end {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), collect).await;
    out
}

/// The output the events describe, applied in order (snapshot replaces, started resets).
pub(crate) fn output_of(events: &[(u64, String, Value)]) -> String {
    let mut out = String::new();
    for (_, name, data) in events {
        match name.as_str() {
            "snapshot" => out = data["output"].as_str().unwrap_or("").to_owned(),
            "started" => out.clear(),
            "delta" => out.push_str(data["text"].as_str().unwrap_or("")),
            _ => {}
        }
    }
    out
}
