//! Signed-in pages with islands (the parts that run in the browser), as the server renders
//! them: each finishes, every time, and carries its islands' markers and props.

use crate::on_both_backends;
use crate::pages::{session_cookie, HTML};
use crate::support::TestApp;
use reqwest::header::{ACCEPT, COOKIE};

/// Every signed-in page finishes rendering, every time, with its islands: the parts that
/// run in the browser, whose props the page carries. With Leptos's shared context left as
/// `<HydrationScripts islands=true>` sets it, about a third of these loads never finished
/// (the server's timeout answered them; `KeepServerDataOn` in app/src/lib.rs).
async fn signed_in_pages_always_finish_with_their_islands(app: &TestApp) {
    let res = app
        .register(
            "islands@example.com",
            "Ivy Islands",
            "correct-horse-battery",
        )
        .await;
    assert_eq!(res.status(), 201);
    let cookie = session_cookie(&res).expect("session cookie set by the sign-up");
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = app.client();
    let created = c
        .post(app.url("/api/v1/prompts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "islands",
            "content": { "messages": [{ "role": "user", "content": "Hello {{ name }}." }] },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let prompt = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = c
        .post(app.url("/api/v1/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "prompt_id": prompt, "variables": { "name": "Ivy" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let run = started.json::<serde_json::Value>().await.unwrap()["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Each page, and the lazy island it carries (besides the theme switch and the
    // hydration mark every page has).
    let pages = [
        ("/".to_owned(), None),
        ("/prompts".to_owned(), None),
        (format!("/prompts/{prompt}"), Some("PromptWorkspace_")),
        (format!("/prompts/{prompt}/versions/1"), None),
        (format!("/prompts/{prompt}/diff?from=1&to=1"), None),
        ("/runs".to_owned(), Some("RunResults_")),
        (format!("/runs/{run}"), Some("LiveRun_")),
    ];
    for round in 0..12 {
        for (path, island) in &pages {
            let load = c
                .get(app.url(path))
                .header(ACCEPT, HTML)
                .header(COOKIE, &cookie)
                .send();
            let res = tokio::time::timeout(std::time::Duration::from_secs(10), load)
                .await
                .unwrap_or_else(|_| panic!("{path} (round {round}) did not finish"))
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let html = res.text().await.unwrap();
            for name in ["ThemeSwitch_", "Hydrated_"].iter().chain(island) {
                assert!(
                    html.contains(&format!("data-component=\"{name}")),
                    "{path} carries the island {name}"
                );
            }
        }
    }
}
on_both_backends!(
    pages_finish,
    signed_in_pages_always_finish_with_their_islands
);
