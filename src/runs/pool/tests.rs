//! Unit tests of the pool.

use super::*;

/// Every run in flight holds its worker task, so the task stays small: the database
/// writes before and after the stream are boxed (their futures are several kB and
/// would otherwise be part of every task for its whole life). 10,000 streams in flight
/// are 10,000 of these.
#[tokio::test]
async fn a_worker_task_stays_small() {
    let vars: std::collections::HashMap<String, String> =
        [("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned())].into();
    let engine = Engine::start(crate::config::Config::from_vars(&vars).unwrap())
        .await
        .unwrap();
    let executing: Arc<Executing> = Arc::default();
    let now = chrono::Utc::now();
    let m = runs::Model {
        id: Uuid::new_v4(),
        project_id: Uuid::new_v4(),
        prompt_id: Uuid::new_v4(),
        version_number: 1,
        created_by: Uuid::new_v4(),
        status: "running".into(),
        provider: "mock".into(),
        model: "mock-1".into(),
        params: "{}".into(),
        variables: "{}".into(),
        messages: "[]".into(),
        run_key: "k".into(),
        cached: false,
        idempotency_key: None,
        output: String::new(),
        error_code: None,
        error_message: None,
        attempts: 1,
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        provider_model: None,
        latency_ms: None,
        ttft_ms: None,
        queued_at: now,
        started_at: Some(now),
        finished_at: None,
        lease_owner: None,
        lease_expires_at: None,
        cancel_requested: false,
    };
    let task = worker::execute(&engine, m, None, &executing);
    let size = std::mem::size_of_val(&task);
    // Measured 2,152 bytes (debug build, Rust 1.96); 4,736 with the writes inline.
    assert!(size < 3_000, "the worker future grew to {size} bytes");
}

/// A provider whose answer is one word after `wait`, and which tells when a request of
/// its is given up before it answered.
struct Slow {
    wait: Duration,
    given_up: Arc<tokio::sync::Notify>,
}

struct GivenUp(Option<Arc<tokio::sync::Notify>>);

impl Drop for GivenUp {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            n.notify_one();
        }
    }
}

impl crate::providers::Provider for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn stream(
        &self,
        _request: crate::providers::ChatRequest,
    ) -> futures::future::BoxFuture<
        '_,
        Result<crate::providers::DeltaStream, crate::providers::ProviderError>,
    > {
        let pending = GivenUp(Some(self.given_up.clone()));
        let wait = self.wait;
        Box::pin(async move {
            let mut pending = pending;
            tokio::time::sleep(wait).await;
            let _answered = pending.0.take();
            let word = Ok(crate::providers::Delta::Text("early".into()));
            Ok(futures::StreamExt::boxed(futures::stream::iter([word])))
        })
    }
}

fn request() -> crate::providers::ChatRequest {
    chat_request("m".into(), Vec::new(), crate::runs::RunParams::default())
}

/// An opening dropped unread (the run's insert failed) gives up its request at once; one
/// that is read hands over the provider's answer, timed from when it was sent.
#[tokio::test]
async fn an_early_request_is_read_once_or_given_up() {
    use futures::StreamExt as _;
    let given_up = Arc::new(tokio::sync::Notify::new());
    let hanging = Arc::new(Slow {
        wait: Duration::from_secs(3600),
        given_up: given_up.clone(),
    });
    let opening = Opening::begin(hanging, request());
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(opening);
    tokio::time::timeout(Duration::from_secs(5), given_up.notified())
        .await
        .expect("the request was given up when its opening was dropped");

    let quick = Arc::new(Slow {
        wait: Duration::from_millis(30),
        given_up: given_up.clone(),
    });
    let opening = Opening::begin(quick, request());
    let sent = opening.since();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(sent.elapsed() >= Duration::from_millis(60));
    let mut answer = opening.response().await.expect("the answer");
    match answer.next().await {
        Some(Ok(crate::providers::Delta::Text(t))) => assert_eq!(t, "early"),
        _ => panic!("the provider's word"),
    }
    assert!(answer.next().await.is_none());
}
