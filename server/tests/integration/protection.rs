//! Cross-site requests, security headers and health.

use crate::support::{error_of, Backend, TestApp};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

#[tokio::test]
async fn foreign_origins_cannot_change_state() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.token_for("csrf@example.com").await;
    let c = app.client();

    // A state change from another site: refused before it reaches the handler.
    let res = c
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 403).await["code"], "forbidden");
    let res = c
        .post(app.url("/api/auth/login"))
        .header("origin", "https://evil.example")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("email=csrf%40example.com&password=correct-horse-battery")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 403).await["code"], "forbidden");
    let res = c
        .post(app.url("/api/v1/auth/register"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 403).await["code"], "forbidden");

    // The session survived; same-origin and origin-less (API) requests pass.
    assert_eq!(
        c.get(app.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = c
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // Reading from another origin is not a state change.
    let res = c
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn security_headers_everywhere() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/health", "/api/v1/auth/me", "/login"] {
        let res = app.client().get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    app.stop().await;
}

/// `GET /health/ready`: its status and body.
async fn readiness(app: &TestApp) -> (u16, serde_json::Value) {
    let res = app
        .client()
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["database"], &body["writer"]),
        (&"ok".into(), &"ok".into())
    );
    // With the pool closed, the database is unreachable and readiness says so.
    app.engine.db().clone().close().await.unwrap();
    let (status, body) = readiness(&app).await;
    assert_eq!((status, &body["database"]), (503, &"unreachable".into()));
    let res = app.client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200, "alive even when not ready");
    app.stop().await;
}

/// The SQLite file moved away from under the running server: runs could not be written
/// where the next start would find them, so readiness says the writer is unavailable. The
/// pool's answer depends on which connection asks (the open ones still hold the old file,
/// new ones find none), so it is not checked; what is checked is that no connection makes
/// a new, empty database at the path, which the writer would then take for the real one.
/// With the file back, the server is ready again.
#[tokio::test]
async fn readiness_reports_a_database_file_that_moved_away() {
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = readiness(&app).await;
    assert_eq!((status, &body["writer"]), (200, &"ok".into()), "{body}");
    let url = &app.engine.config().database_url;
    let file = std::path::PathBuf::from(
        url.trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap(),
    );
    let away = file.with_extension("moved");
    std::fs::rename(&file, &away).unwrap();
    // Make the pool open new connections, as a busy server would.
    let held = futures::future::join_all((0..8).map(|_| app.engine.db().begin())).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(
        (status, &body["writer"]),
        (503, &"unavailable".into()),
        "{body}"
    );
    assert!(!file.exists(), "no new database file at the path");
    drop(held);
    std::fs::rename(&away, &file).unwrap();
    let (status, body) = readiness(&app).await;
    assert_eq!((status, &body["writer"]), (200, &"ok".into()), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client()
        .get(app.url("/login"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    app.stop().await;
}

#[tokio::test]
async fn provider_catalog_never_shows_keys() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("OPENAI_API_KEY", "fake-openai-key-must-not-leak"),
            ("ANTHROPIC_API_KEY", "sk-ant-also-secret"),
        ],
    )
    .await;
    let token = app.token_for("keys@example.com").await;
    let res = app
        .client()
        .get(app.url("/api/v1/providers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("must-not-leak") && !text.contains("also-secret"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["anthropic", "mock", "openai"]);
    assert_eq!(v["providers"][1]["mock"], true);
    assert_eq!(
        v["providers"][2]["prices"]["gpt-4o-mini"]["input_per_mtok"],
        0.15
    );
    // Pages do not carry them either.
    let html = app
        .client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("must-not-leak"));
    let res = app
        .client()
        .get(app.url("/api/v1/providers"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}
