//! Run history through the API: filters, search, and only the caller's own runs; the
//! per-user stream of run summaries that keeps run lists live.

use super::Runs;
use crate::support::{error_of, TestApp};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::time::Duration;

async fn history_filters_and_search(app: &TestApp) {
    let r = Runs::new(app, "history@example.com").await;
    let a = r.prompt("first", "mock", "mock-1").await;
    let b = r.prompt("second", "openai_compat", "ok:tokens=3").await;
    for (prompt, topic) in [(&a, "one"), (&a, "two"), (&b, "three")] {
        r.wait(&r.run(prompt, topic).await).await;
    }
    let api = &r.api;
    let list = |q: &str| {
        let path = format!("/api/v1/runs{q}");
        async move { api.json(reqwest::Method::GET, &path, None, 200).await }
    };
    assert_eq!(list("").await["total"], 3);
    assert_eq!(list(&format!("?prompt_id={a}")).await["total"], 2);
    assert_eq!(list("?provider=openai_compat").await["total"], 1);
    assert_eq!(list("?model=mock-1&status=succeeded").await["total"], 2);
    assert_eq!(list("?status=failed").await["total"], 0);
    assert_eq!(
        list("?version=1&per_page=1").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Search in output: the mock echoes the prompt.
    let found = list("?q=about%20two").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["prompt_name"], "first");
    assert_eq!(list("?q=100%25").await["total"], 0);
    assert_eq!(
        list("?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z").await["total"],
        0
    );
    let e = error_of(
        r.api
            .send(reqwest::Method::GET, "/api/v1/runs?status=bogus", None)
            .await,
        400,
    )
    .await;
    assert_eq!(e["code"], "validation_error");
    // The runs page says so too, rather than listing every run under a filter the address
    // still shows.
    let page = |q: &str| {
        let path = format!("/runs{q}");
        async move {
            let res = api.send(reqwest::Method::GET, &path, None).await;
            assert_eq!(res.status(), 200, "{path}");
            res.text().await.unwrap()
        }
    };
    const UNREADABLE: &str = "A filter in the address could not be read";
    let html = page("?status=succeeded&version=1").await;
    assert!(html.contains("data-testid=\"runs-total\"") && !html.contains(UNREADABLE));
    for (q, field) in [
        ("?status=bogus", "status"),
        ("?version=one", "version"),
        ("?version=0", "version"),
        ("?prompt_id=not-an-id", "prompt_id"),
        ("?from=2026-13-45", "from"),
        ("?to=yesterday", "to"),
        ("?page=0", "page"),
        ("?status=succeeded&page=100000000", "page"),
    ] {
        let html = page(q).await;
        assert!(
            html.contains(&format!("{UNREADABLE}, so no runs are listed. ({field})")),
            "{q}"
        );
        assert!(!html.contains("data-testid=\"runs-total\""), "{q}");
    }
    // Another user sees none of them.
    let other = Runs::new(app, "stranger@example.com").await;
    assert_eq!(
        other
            .api
            .json(reqwest::Method::GET, "/api/v1/runs", None, 200)
            .await["total"],
        0
    );
}
with_fake_provider!(history, history_filters_and_search);

/// Summaries from `stream` until the run `id` is reported succeeded (at most 20 s).
async fn until_succeeded(
    stream: &mut (impl Stream<Item = (u64, String, Value)> + Unpin),
    id: &str,
) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    let collect = async {
        while let Some((_, event, data)) = stream.next().await {
            let done = data["id"] == id && data["status"] == "succeeded";
            seen.push((event, data));
            if done {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("run {id} reported succeeded on its user's stream: {seen:?}"));
    seen
}

/// Each user's stream tells of that user's runs as they change, and of nobody else's.
async fn user_streams_carry_their_own_runs(app: &TestApp) {
    let ann = Runs::new(app, "ann-stream@example.com").await;
    let bob = Runs::new(app, "bob-stream@example.com").await;
    let mut ann_stream = ann.user_events().await;
    let mut bob_stream = bob.user_events().await;
    let mut ids = Vec::new();
    for (r, topic) in [(&ann, "otters"), (&bob, "herons")] {
        let prompt = r.prompt(topic, "openai_compat", "ok:tokens=3").await;
        ids.push(r.run(&prompt, topic).await);
    }
    let ann_seen = until_succeeded(&mut ann_stream, &ids[0]).await;
    let bob_seen = until_succeeded(&mut bob_stream, &ids[1]).await;
    for (seen, own, other) in [(&ann_seen, &ids[0], &ids[1]), (&bob_seen, &ids[1], &ids[0])] {
        assert!(seen.iter().all(|(event, _)| event == "run"), "{seen:?}");
        assert!(
            seen.iter().all(|(_, data)| data["id"] == own.as_str()),
            "only the user's own run, never {other}: {seen:?}"
        );
        let last = &seen.last().unwrap().1;
        assert!(
            last["output_tokens"].as_u64().is_some(),
            "the final summary: {last}"
        );
    }
}
with_fake_provider!(user_streams, user_streams_carry_their_own_runs);
