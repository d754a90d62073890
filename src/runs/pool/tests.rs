//! Unit tests of the pool.

use super::*;

mod plans;

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

/// A run handed to a worker, or a worker that ends, sends the dispatcher to the queue only
/// when runs may wait there. Runs that went straight to a worker leave the queue empty, and on SQLite each look (a
/// claim) is a write that takes the lock the run path's own writes need. A run that a
/// start leaves queued for want of room is still claimed when a worker ends, with no
/// poll to find it (the poll is an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_workers_read_the_queue_only_when_runs_wait_there() {
    use crate::runs::{service, RunStatus, StartRun};
    let dir = crate::test_support::TempDir::new("queue");
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", dir.sqlite_url("q.db")),
        ("RUN_CONCURRENCY", "1".into()),
        ("RUN_CACHE_TTL_SECS", "0".into()),
        ("RUN_QUEUE_POLL_MS", "3600000".into()),
        // 60 words at 400 a second: a run streams for about 150 ms.
        ("MOCK_TOKENS_PER_SECOND", "400".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let engine = Engine::start(crate::config::Config::from_vars(&vars).unwrap())
        .await
        .unwrap();
    let workers = Workers::start(engine.clone());
    let signed = engine
        .register(crate::accounts::RegisterRequest {
            email: "queue@example.com".into(),
            name: "Queue".into(),
            password: "correct-horse-battery".into(),
        })
        .await
        .unwrap();
    let who = engine.authenticate(&signed.token).await.unwrap();
    let content = serde_json::from_value(serde_json::json!({
        "messages": [{ "role": "user", "content": "Say {{ n }}." }]
    }))
    .unwrap();
    let prompt = crate::prompts::service::create(
        engine.db(),
        &who,
        crate::prompts::NewPrompt {
            project_id: None,
            name: "queued".into(),
            description: String::new(),
            tags: vec![],
            content: Some(content),
            note: String::new(),
        },
    )
    .await
    .unwrap();
    // Distinct variables: an identical start would answer with the run in flight.
    let mut n = 0;
    let mut start = || {
        n += 1;
        service::start(
            &engine,
            &who,
            StartRun {
                prompt_id: prompt.id,
                version: None,
                variables: [("n".to_owned(), serde_json::Value::from(n))]
                    .into_iter()
                    .collect(),
                provider: None,
                model: None,
                params: Default::default(),
                bypass_cache: true,
            },
            None,
        )
    };
    let finished = |id: Uuid| {
        let (engine, who) = (engine.clone(), who.clone());
        async move {
            for _ in 0..2000 {
                let run = service::get(&engine, &who, id).await.unwrap();
                if run.summary.status.is_terminal() {
                    return run.summary.status;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("run {id} did not finish");
        }
    };
    let claims = || engine.runtime().claims.load(Ordering::SeqCst);
    // The first round looks (runs may be left from before a restart).
    for _ in 0..2000 {
        if claims() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        claims() > 0,
        "the dispatcher looked at the queue at start-up"
    );
    let before = claims();

    for _ in 0..4 {
        let started = start().await.unwrap();
        assert_eq!(started.run.summary.status, RunStatus::Running);
        assert_eq!(finished(started.run.summary.id).await, RunStatus::Succeeded);
    }
    assert_eq!(
        claims(),
        before,
        "runs that went straight to a worker sent the dispatcher to the queue"
    );

    let first = start().await.unwrap().run.summary;
    let second = start().await.unwrap().run.summary;
    assert_eq!(first.status, RunStatus::Running);
    assert_eq!(second.status, RunStatus::Queued, "no room for a second run");
    assert_eq!(finished(first.id).await, RunStatus::Succeeded);
    assert_eq!(finished(second.id).await, RunStatus::Succeeded);
    assert!(claims() > before, "the queued run was claimed");

    workers.shutdown().await;
    engine.close().await;
}
