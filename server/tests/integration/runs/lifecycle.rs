//! A run's life through the API: streaming, what is recorded, cache, idempotency, cancel,
//! SSE resume and access.

use super::{app, output_of, until_final, Runs};
use crate::support::{error_of, Backend, TestApp};
use futures_util::StreamExt;
use serde_json::json;

async fn mock_run_streams_and_records(app: &TestApp) {
    let r = Runs::new(app, "runner@example.com").await;
    let pid = r.prompt("mocked", "mock", "mock-1").await;
    let (status, run) = r
        .start(json!({ "prompt_id": pid, "variables": { "topic": "otters" } }))
        .await;
    assert_eq!(status, 201);
    assert_eq!(run["mock"], true);
    assert_eq!(run["messages"][1]["content"], "Tell me about otters.");
    let id = run["id"].as_str().unwrap().to_owned();
    let events = until_final(r.events(&id, None).await).await;
    let names: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names.last(), Some(&"succeeded"), "{names:?}");
    let done = r.wait(&id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(output_of(&events), done["output"].as_str().unwrap());
    assert!(done["output"]
        .as_str()
        .unwrap()
        .starts_with("(mock) Tell me about otters."));
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["cached"], false);
    assert_eq!(done["cost_usd"], 0.0);
    assert_eq!(done["provider_model"], "mock-1");
    assert!(done["input_tokens"].as_u64().unwrap() > 0);
    assert!(done["output_tokens"].as_u64().unwrap() > 0);
    assert!(done["latency_ms"].is_u64() && done["ttft_ms"].is_u64());
    assert!(done["finished_at"].is_string() && done["started_at"].is_string());
    assert_eq!(done["run_key"].as_str().unwrap().len(), 64);
    // Events are numbered in order (a run already over is told from the store, id 0).
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
}
with_fake_provider!(mock_run, mock_run_streams_and_records);

async fn cache_hits_and_bypass(app: &TestApp) {
    let r = Runs::new(app, "cache@example.com").await;
    let pid = r.prompt("cached", "openai_compat", "ok:tokens=4").await;
    let body = json!({ "prompt_id": pid, "variables": { "topic": "cache" } });
    let (_, first) = r.start(body.clone()).await;
    let first = r.wait(first["id"].as_str().unwrap()).await;
    assert_eq!(first["status"], "succeeded");

    let (status, hit) = r.start(body.clone()).await;
    assert_eq!(status, 201);
    assert_eq!(
        hit["status"], "succeeded",
        "a cache hit is recorded at once"
    );
    assert_eq!(hit["cached"], true);
    assert_eq!(hit["cost_usd"], 0.0);
    assert_eq!(hit["output"], first["output"]);
    assert_eq!(hit["run_key"], first["run_key"]);
    assert_ne!(hit["id"], first["id"]);

    // Different variables: a different key, a real run.
    let (_, other) = r
        .start(json!({ "prompt_id": pid, "variables": { "topic": "other" } }))
        .await;
    assert_eq!(other["cached"], false);
    assert_ne!(other["run_key"], first["run_key"]);
    r.wait(other["id"].as_str().unwrap()).await;

    let mut bypass = body.clone();
    bypass["bypass_cache"] = json!(true);
    let (_, fresh) = r.start(bypass).await;
    assert_eq!(fresh["cached"], false);
    let fresh = r.wait(fresh["id"].as_str().unwrap()).await;
    assert_eq!(fresh["status"], "succeeded");
    assert_eq!(fresh["cached"], false);
}
with_fake_provider!(cache, cache_hits_and_bypass);

async fn idempotent_starts(app: &TestApp) {
    let r = Runs::new(app, "idem@example.com").await;
    // A slow stream keeps the first run in flight while the second start arrives.
    let pid = r
        .prompt("slow", "openai_compat", "ok:tokens=20,delay=50")
        .await;
    let body = json!({ "prompt_id": pid, "variables": { "topic": "twice" } });
    let (s1, a) = r.start(body.clone()).await;
    let (s2, b) = r.start(body.clone()).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(a["id"], b["id"], "same key in flight: the same run");

    // Idempotency-Key: the same key answers with the same run, even with the cache off.
    let keyed =
        json!({ "prompt_id": pid, "variables": { "topic": "keyed" }, "bypass_cache": true });
    let res = r.start_raw(keyed.clone(), Some("key-123")).await;
    assert_eq!(res.status(), 201);
    let first: serde_json::Value = res.json().await.unwrap();
    let id = first["run"]["id"].as_str().unwrap().to_owned();
    r.wait(&id).await;
    let res = r.start_raw(keyed.clone(), Some("key-123")).await;
    assert_eq!(res.status(), 200);
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(again["run"]["id"], id.as_str());
    assert_eq!(again["created"], false);
    // The same key with another request is a conflict.
    let other = json!({ "prompt_id": pid, "variables": { "topic": "different" } });
    let e = error_of(r.start_raw(other, Some("key-123")).await, 409).await;
    assert_eq!(e["details"]["reason"], "idempotency_key_reused");
    let e = error_of(r.start_raw(keyed, Some("bad key with spaces")).await, 400).await;
    assert_eq!(e["code"], "validation_error");
    r.wait(a["id"].as_str().unwrap()).await;
}
with_fake_provider!(idempotency, idempotent_starts);

async fn cancel_keeps_partial_output(app: &TestApp) {
    let r = Runs::new(app, "cancel@example.com").await;
    let pid = r
        .prompt("long", "openai_compat", "ok:tokens=200,delay=40")
        .await;
    let id = r.run(&pid, "x").await;
    let mut events = r.events(&id, None).await;
    // Wait for a few words.
    let mut deltas = 0;
    while let Some((_, name, _)) = events.next().await {
        if name == "delta" {
            deltas += 1;
            if deltas == 3 {
                break;
            }
        }
    }
    let canceled = r
        .api
        .json(
            reqwest::Method::POST,
            &format!("/api/v1/runs/{id}/cancel"),
            None,
            200,
        )
        .await;
    assert_eq!(canceled["status"], "canceled");
    let out = canceled["output"].as_str().unwrap();
    assert!(!out.is_empty(), "partial output kept");
    assert!(out.split(' ').count() < 200, "stopped early: {out}");
    // The stream ends with the canceled event.
    let rest = until_final(events).await;
    assert_eq!(rest.last().map(|e| e.1.as_str()), Some("canceled"));
    // Canceling again is a conflict.
    let e = error_of(
        r.api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/runs/{id}/cancel"),
                None,
            )
            .await,
        409,
    )
    .await;
    assert_eq!(e["details"]["reason"], "run_finished");
    // Nothing changes later.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(r.get(&id).await["output"], canceled["output"]);
}
with_fake_provider!(cancel_running, cancel_keeps_partial_output);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_queued_run_never_starts() {
    let mut app = app(Backend::Sqlite, &[("TEST_IDLE", "1")]).await;
    let r = Runs::new(&app, "queued@example.com").await;
    let pid = r.prompt("waiting", "mock", "mock-1").await;
    let (_, run) = r
        .start(json!({ "prompt_id": pid, "variables": { "topic": "q" } }))
        .await;
    assert_eq!(run["status"], "queued");
    let id = run["id"].as_str().unwrap().to_owned();
    let canceled = r
        .api
        .json(
            reqwest::Method::POST,
            &format!("/api/v1/runs/{id}/cancel"),
            None,
            200,
        )
        .await;
    assert_eq!(canceled["status"], "canceled");
    let token = r.api.token.clone();
    drop(r);
    app.start_workers();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let res = app
        .client()
        .get(app.url(&format!("/api/v1/runs/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let after: serde_json::Value = res.json().await.unwrap();
    assert_eq!(after["status"], "canceled");
    assert_eq!(after["attempts"], 0, "never started");
    assert!(after["started_at"].is_null());
    // Another user cannot see it.
    let r = Runs::new(&app, "other@example.com").await;
    let e = error_of(
        r.api
            .send(reqwest::Method::GET, &format!("/api/v1/runs/{id}"), None)
            .await,
        404,
    )
    .await;
    assert_eq!(e["code"], "not_found");
    // Nor follow its events, as for a run that does not exist.
    for watched in [id.clone(), uuid::Uuid::new_v4().to_string()] {
        let e = error_of(
            r.api
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v1/runs/{watched}/events"),
                    None,
                )
                .await,
            404,
        )
        .await;
        assert_eq!(e["code"], "not_found");
    }
    // A viewer of the run's project may follow it: the stored state, then the end.
    let viewer = app.engine.authenticate(&r.api.token).await.unwrap();
    let project = after["project_id"].as_str().unwrap().parse().unwrap();
    app.add_member(project, viewer.user.id, "viewer").await;
    let seen = until_final(r.events(&id, None).await).await;
    let names: Vec<&str> = seen.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names, ["snapshot", "canceled"]);
    drop(r);
    app.stop().await;
}

async fn resume_with_last_event_id(app: &TestApp) {
    let r = Runs::new(app, "resume@example.com").await;
    let pid = r
        .prompt("resumable", "openai_compat", "ok:tokens=30,delay=20")
        .await;
    let id = r.run(&pid, "r").await;
    let mut first = r.events(&id, None).await;
    let mut seen = Vec::new();
    while let Some(ev) = first.next().await {
        let is_delta = ev.1 == "delta";
        seen.push(ev);
        if is_delta && seen.iter().filter(|e| e.1 == "delta").count() == 5 {
            break;
        }
    }
    drop(first);
    let last = seen.last().unwrap().0;
    // Reconnect after a pause, as a browser would, with the last id seen.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let rest = until_final(r.events(&id, Some(last)).await).await;
    assert!(
        rest.iter().all(|e| e.1 != "snapshot"),
        "resume replays, no snapshot: {rest:?}"
    );
    assert!(
        rest.first().unwrap().0 == last + 1,
        "no gap after {last}: {:?}",
        rest.first()
    );
    let mut all = seen.clone();
    all.extend(rest);
    let done = r.wait(&id).await;
    assert_eq!(output_of(&all), done["output"].as_str().unwrap());

    // After the end, a watcher gets the stored state and the final event.
    let after = until_final(r.events(&id, None).await).await;
    assert_eq!(after.first().unwrap().1, "snapshot");
    assert_eq!(after.last().unwrap().1, "succeeded");
    assert_eq!(output_of(&after), done["output"].as_str().unwrap());
}
with_fake_provider!(resume, resume_with_last_event_id);

async fn bad_starts_are_refused(app: &TestApp) {
    let r = Runs::new(app, "refused@example.com").await;
    let pid = r.prompt("refusals", "mock", "mock-1").await;
    let cases = [
        (
            json!({ "prompt_id": pid, "variables": { "topic": "x" }, "provider": "openai" }),
            400,
            "provider_unavailable",
        ),
        (
            json!({ "prompt_id": pid, "variables": { "topic": "x" }, "provider": "anthropic", "model": "claude-9" }),
            400,
            "model_not_allowed",
        ),
        (
            json!({ "prompt_id": pid }),
            400,
            "template_undefined_variable",
        ),
        (
            json!({ "prompt_id": pid, "variables": { "topic": "x" }, "version": 9 }),
            404,
            "",
        ),
        (
            json!({ "prompt_id": uuid::Uuid::new_v4(), "variables": { "topic": "x" } }),
            404,
            "",
        ),
        (
            json!({ "prompt_id": pid, "variables": { "topic": "x" }, "params": { "temperature": -1 } }),
            400,
            "param_invalid",
        ),
    ];
    for (body, status, reason) in cases {
        let e = error_of(r.start_raw(body.clone(), None).await, status).await;
        if !reason.is_empty() {
            assert_eq!(e["details"]["reason"], reason, "{body}: {e}");
        }
    }
    let list = r
        .api
        .json(reqwest::Method::GET, "/api/v1/runs", None, 200)
        .await;
    assert_eq!(list["total"], 0, "nothing recorded for refused starts");
}
with_fake_provider!(refused, bad_starts_are_refused);
