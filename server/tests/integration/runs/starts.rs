//! How starts reach a worker: the streaming start (the answer is the run's events) and
//! the pool's limit, with runs claimed at start past which they queue.

use super::{app, output_of, until_final, Runs};
use crate::support::{error_of, Backend, TestApp};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};

/// `POST /api/v1/runs` with `Accept: text/event-stream`: the answer is the run's event
/// stream from its first event (one round trip), with the run's address in `Location`;
/// a cut stream resumes through the events endpoint, and a bad start is still JSON.
async fn streaming_start(app: &TestApp) {
    let r = Runs::new(app, "streaming@example.com").await;
    let pid = r
        .prompt("streamed", "openai_compat", "ok:tokens=20,delay=10")
        .await;
    let post = |topic: &'static str| {
        r.app
            .client()
            .post(r.app.url("/api/v1/runs"))
            .bearer_auth(&r.api.token)
            .header("Accept", "text/event-stream")
            .json(&json!({ "prompt_id": pid, "variables": { "topic": topic } }))
            .send()
    };
    let res = post("streams").await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/api/v1/runs/").unwrap().to_owned();
    let mut stream = Box::pin(res.bytes_stream().eventsource().filter_map(|e| async move {
        let e = e.ok()?;
        let data: Value = serde_json::from_str(&e.data).ok()?;
        Some((e.id.parse::<u64>().unwrap_or(0), e.event, data))
    }));
    // Read the start of the stream, then drop it and resume where it stopped.
    let mut seen = Vec::new();
    while let Some(ev) = stream.next().await {
        let deltas = seen
            .iter()
            .filter(|e: &&(u64, String, Value)| e.1 == "delta")
            .count();
        seen.push(ev);
        if deltas + 1 >= 3 && seen.last().unwrap().1 == "delta" {
            break;
        }
    }
    drop(stream);
    let names: Vec<&str> = seen.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        names[..2],
        ["queued", "started"],
        "from the first event: {names:?}"
    );
    assert_eq!(seen[0].0, 1, "numbered from 1: {seen:?}");
    let last = seen.last().unwrap().0;
    let rest = until_final(r.events(&id, Some(last)).await).await;
    assert_eq!(rest.first().unwrap().0, last + 1, "no gap: {rest:?}");
    assert_eq!(rest.last().unwrap().1, "succeeded");
    let mut all = seen.clone();
    all.extend(rest);
    let done = r.wait(&id).await;
    assert_eq!(output_of(&all), done["output"].as_str().unwrap());
    assert_eq!(done["attempts"], 1);

    // A refused start answers JSON with its code, not a stream.
    let res = r
        .app
        .client()
        .post(r.app.url("/api/v1/runs"))
        .bearer_auth(&r.api.token)
        .header("Accept", "text/event-stream")
        .json(&json!({ "prompt_id": pid, "variables": {} }))
        .send()
        .await
        .unwrap();
    let e = error_of(res, 400).await;
    assert_eq!(e["details"]["reason"], "template_undefined_variable", "{e}");
}
with_fake_provider!(streaming, streaming_start);

/// A start with room in the pool goes straight to a worker (answered `running`); past the
/// limit it waits in the queue (`queued`), and the limit holds while all of them finish.
async fn starts_respect_the_pool_limit(backend: Backend) {
    let app = app(backend, &[("RUN_CONCURRENCY", "2")]).await;
    let r = Runs::new(&app, "limit@example.com").await;
    let pid = r
        .prompt("limited", "openai_compat", "ok:tokens=5,delay=40")
        .await;
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    for n in 0..6 {
        let (_, run) = r
            .start(json!({ "prompt_id": pid, "variables": { "topic": format!("l{n}") } }))
            .await;
        statuses.push(run["status"].as_str().unwrap().to_owned());
        ids.push(run["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses[..2], ["running", "running"], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| s == "queued"), "{statuses:?}");
    let mut most = 0;
    for _ in 0..200 {
        let running = r
            .api
            .json(
                reqwest::Method::GET,
                "/api/v1/runs?status=running",
                None,
                200,
            )
            .await["total"]
            .as_u64()
            .unwrap();
        most = most.max(running);
        let done = r
            .api
            .json(
                reqwest::Method::GET,
                "/api/v1/runs?status=succeeded",
                None,
                200,
            )
            .await["total"]
            .as_u64()
            .unwrap();
        if done == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(most <= 2, "at most 2 at once, saw {most}");
    for id in &ids {
        assert_eq!(r.wait(id).await["status"], "succeeded");
    }
    drop(r);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_limit_sqlite() {
    starts_respect_the_pool_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_limit_postgres() {
    starts_respect_the_pool_limit(Backend::Postgres).await;
}

/// Starts read saved versions through a cache (versions never change): each number runs
/// its own text, and a version that did not exist at one start is found once saved.
async fn starts_run_the_version_asked_for(app: &TestApp) {
    let r = Runs::new(app, "versions@example.com").await;
    let pid = r.prompt("versioned", "mock", "mock-1").await;
    let start = |version: i64, topic: &'static str| {
        r.start_raw(
            json!({ "prompt_id": pid, "version": version, "variables": { "topic": topic } }),
            None,
        )
    };
    let e = error_of(start(2, "otters").await, 404).await;
    assert_eq!(e["code"], "not_found", "{e}");
    let saved = r.api.save(&pid, 1, "Explain {{ topic }} to a child.").await;
    assert_eq!(saved.status(), 201, "{}", saved.text().await.unwrap());
    for (version, text) in [
        (2, "Explain otters to a child."),
        (1, "Tell me about otters."),
        (2, "Explain otters to a child."),
    ] {
        let res = start(version, "otters").await;
        assert!(res.status().is_success(), "v{version}: {}", res.status());
        let run: Value = res.json().await.unwrap();
        assert_eq!(run["run"]["version_number"], version);
        assert_eq!(run["run"]["messages"][1]["content"], text, "v{version}");
    }
}
with_fake_provider!(version_cache, starts_run_the_version_asked_for);

/// A started run's provider request is sent while its row is written, and read by its
/// worker: exactly one request per run. An identical start while the first is in flight
/// (cache on or off) answers with the first run and sends the provider nothing.
async fn one_provider_request_per_run(backend: Backend) {
    let fake = promptlab_fake_provider::spawn().await;
    let compat = format!("{fake}/v1");
    let app = app(backend, &[("OPENAI_COMPAT_BASE_URL", &compat)]).await;
    let r = Runs::new(&app, "once@example.com").await;
    let pid = r
        .prompt("once", "openai_compat", "ok:tokens=10,delay=30")
        .await;
    let body = json!({ "prompt_id": pid, "variables": { "topic": "once" } });
    let (created, first) = r.start(body.clone()).await;
    assert_eq!(created, 201);
    assert_eq!(
        first["status"], "running",
        "room in the pool: straight to a worker"
    );
    let (again, same) = r.start(body.clone()).await;
    let mut bypass = body.clone();
    bypass["bypass_cache"] = json!(true);
    let (again_bypass, same_bypass) = r.start(bypass).await;
    assert_eq!((again, again_bypass), (200, 200));
    assert_eq!(same["id"], first["id"]);
    assert_eq!(same_bypass["id"], first["id"]);
    let done = r.wait(first["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        done["output"].as_str().unwrap().split_whitespace().count(),
        10
    );

    // Five more runs with different variables: one request each.
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(r.run(&pid, &format!("more {n}")).await);
    }
    for id in &ids {
        assert_eq!(r.wait(id).await["status"], "succeeded");
    }
    let counts: serde_json::Value = reqwest::get(format!("{fake}/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counts = counts.as_object().unwrap();
    assert_eq!(counts.len(), 6, "one key per distinct run: {counts:?}");
    assert!(
        counts.values().all(|n| n == 1),
        "one provider request per run: {counts:?}"
    );
    drop(r);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_run_sqlite() {
    one_provider_request_per_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_run_postgres() {
    one_provider_request_per_run(Backend::Postgres).await;
}
