//! Signed-in pages with islands (the parts that run in the browser), as the server renders
//! them: each finishes, every time, and carries its islands' markers and props.

use crate::on_both_backends;
use crate::pages::{session_cookie, HTML};
use crate::prompts::Api;
use crate::runs::Runs;
use crate::support::{Backend, TestApp};
use reqwest::header::{ACCEPT, COOKIE};

/// Sign up `email`: the session cookie and an API token.
async fn sign_up(app: &TestApp, email: &str) -> (String, String) {
    let res = app
        .register(email, "Ivy Islands", "correct-horse-battery")
        .await;
    assert_eq!(res.status(), 201);
    let cookie = session_cookie(&res).expect("session cookie set by the sign-up");
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (cookie, token)
}

/// A page as a signed-in browser loads it, within 10 s.
async fn load(app: &TestApp, cookie: &str, path: &str) -> String {
    let load = app
        .client()
        .get(app.url(path))
        .header(ACCEPT, HTML)
        .header(COOKIE, cookie)
        .send();
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), load)
        .await
        .unwrap_or_else(|_| panic!("{path} did not finish"))
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// Every signed-in page finishes rendering, every time, with its islands: the parts that
/// run in the browser, whose props the page carries. With Leptos's shared context left as
/// `<HydrationScripts islands=true>` sets it, about a third of these loads never finished
/// (the server's timeout answered them; `KeepServerDataOn` in app/src/lib.rs).
async fn signed_in_pages_always_finish_with_their_islands(app: &TestApp) {
    let (cookie, token) = sign_up(app, "islands@example.com").await;
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
    // Over by the time the pages load: its page is plain HTML (the live one has a test
    // of its own, below).
    Runs {
        api: Api::with_token(app, token.clone()),
        app,
    }
    .wait(&run)
    .await;

    // Each page, and the lazy island it carries (besides the theme switch and the
    // hydration mark every page has).
    let pages = [
        ("/".to_owned(), None),
        ("/prompts".to_owned(), None),
        (format!("/prompts/{prompt}"), Some("PromptWorkspace_")),
        (format!("/prompts/{prompt}/versions/1"), None),
        (format!("/prompts/{prompt}/diff?from=1&to=1"), None),
        ("/runs".to_owned(), Some("RunResults_")),
        (format!("/runs/{run}"), None),
    ];
    for _round in 0..12 {
        for (path, island) in &pages {
            let html = load(app, &cookie, path).await;
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

/// A run's page is live (a lazy island following the run's events) only while the run is
/// not over; a finished run's page is plain HTML, with no island, so a browser loads none
/// of the live run's code for it.
async fn a_run_page_is_live_only_while_the_run_is(app: &TestApp) {
    let (cookie, token) = sign_up(app, "live-run@example.com").await;
    let runs = Runs {
        api: Api::with_token(app, token),
        app,
    };
    // Eight words a second apart: in flight for the whole first load.
    let prompt = runs
        .prompt("slow", "openai_compat", "ok:tokens=8,delay=1000")
        .await;
    let id = runs.run(&prompt, "tides").await;
    let path = format!("/runs/{id}");

    let html = load(app, &cookie, &path).await;
    assert!(
        html.contains("data-component=\"LiveRun_"),
        "a run in flight is a live island"
    );
    assert!(
        html.contains("data-testid=\"run-cancel\""),
        "and can be canceled"
    );

    runs.api
        .json(
            reqwest::Method::POST,
            &format!("/api/v1/runs/{id}/cancel"),
            None,
            200,
        )
        .await;
    assert_eq!(runs.wait(&id).await["status"], "canceled");
    let html = load(app, &cookie, &path).await;
    assert!(
        !html.contains("LiveRun_"),
        "a finished run's page has no live island"
    );
    assert!(
        html.contains("data-testid=\"run-view\""),
        "it shows the run"
    );
    assert!(html.contains("data-status=\"canceled\""), "as it ended");
    assert!(
        !html.contains("data-testid=\"run-cancel\""),
        "with nothing left to cancel"
    );
    assert!(
        html.contains("data-component=\"Hydrated_"),
        "the page's other islands are there"
    );
}

mod run_page_live_only_while_running {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = crate::runs::app(Backend::Sqlite, &[]).await;
        a_run_page_is_live_only_while_the_run_is(&app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = crate::runs::app(Backend::Postgres, &[]).await;
        a_run_page_is_live_only_while_the_run_is(&app).await;
        app.stop().await;
    }
}
