//! REST accounts: register, login, me, logout, and every way to get them wrong.

use crate::on_both_backends;
use crate::support::{error_of, Backend, TestApp};
use reqwest::header::SET_COOKIE;
use serde_json::{json, Value};

async fn full_account_cycle(app: &TestApp) {
    let res = app
        .register("Ada@Example.com", "Ada Lovelace", "correct-horse-battery")
        .await;
    assert_eq!(res.status(), 201);
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .expect("session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("promptlab_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "development cookies are not Secure"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com", "email normalised");
    assert!(body.get("password_hash").is_none() && body["user"].get("password_hash").is_none());
    let token = body["token"].as_str().unwrap().to_owned();

    // Bearer token.
    let me: Value = app
        .client()
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["name"], "Ada Lovelace");
    let projects = me["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "a personal project at registration");
    assert_eq!(projects[0]["personal"], true);
    assert_eq!(projects[0]["role"], "owner");

    // The cookie works the same way.
    let session = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .client()
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Login opens a second, independent session.
    let res = app.login("ada@example.com", "correct-horse-battery").await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let second = second["token"].as_str().unwrap().to_owned();

    // Logout ends the first session at once; the second still works.
    let res = app
        .client()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = app
        .client()
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 401).await["code"], "unauthorized");
    let res = app
        .client()
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
on_both_backends!(account_cycle, full_account_cycle);

async fn failed_logins_reveal_nothing(app: &TestApp) {
    app.token_for("grace@example.com").await;
    let wrong = error_of(
        app.login("grace@example.com", "not-the-password").await,
        401,
    )
    .await;
    let unknown = error_of(
        app.login("nobody@example.com", "not-the-password").await,
        401,
    )
    .await;
    assert_eq!(wrong["code"], "unauthorized");
    assert_eq!(
        wrong, unknown,
        "same answer whether or not the email exists"
    );
    let garbage = error_of(app.login("not an email", "x").await, 401).await;
    assert_eq!(garbage, unknown);
}
on_both_backends!(failed_logins, failed_logins_reveal_nothing);

async fn duplicate_email_conflicts(app: &TestApp) {
    app.token_for("linus@example.com").await;
    let res = app
        .register("LINUS@example.com", "Another", "another-password")
        .await;
    let err = error_of(res, 409).await;
    assert_eq!(err["code"], "conflict");
    assert_eq!(err["details"]["field"], "email");
    // The first account is untouched.
    assert_eq!(
        app.login("linus@example.com", "correct-horse-battery")
            .await
            .status(),
        200
    );
}
on_both_backends!(duplicate_email, duplicate_email_conflicts);

async fn invalid_registrations_are_validation_errors(app: &TestApp) {
    for (email, name, password, field) in [
        ("nope", "N", "long-enough", "email"),
        ("a@b.io", "  ", "long-enough", "name"),
        ("a@b.io", "N", "short", "password"),
    ] {
        let err = error_of(app.register(email, name, password).await, 400).await;
        assert_eq!(err["code"], "validation_error");
        assert_eq!(err["details"]["field"], field);
    }
    // Nothing was created by the rejected requests.
    let res = app.login("a@b.io", "long-enough").await;
    assert_eq!(res.status(), 401);
}
on_both_backends!(
    invalid_registrations,
    invalid_registrations_are_validation_errors
);

async fn malformed_bodies(app: &TestApp) {
    let c = app.client();
    let res = c
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 400).await["code"], "validation_error");
    let res = c
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 400).await["code"], "validation_error");
    let res = c
        .post(app.url("/api/v1/auth/login"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(res, 400).await["code"],
        "validation_error",
        "missing JSON content type"
    );
    let res = c
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": 5, "name": [], "password": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 400).await["code"], "validation_error");
    // A field the API does not know is refused, and no account is made.
    let res = c
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"email": "extra@b.io", "name": "E", "password": "long-enough", "admin": true}),
        )
        .send()
        .await
        .unwrap();
    let err = error_of(res, 400).await;
    assert!(
        err["message"].as_str().unwrap().contains("`admin`"),
        "{err}"
    );
    assert_eq!(app.login("extra@b.io", "long-enough").await.status(), 401);
    let res = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "extra@b.io", "password": "long-enough", "remember": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 400).await["code"], "validation_error");
}
on_both_backends!(malformed_json, malformed_bodies);

async fn oversized_bodies_are_413(app: &TestApp) {
    // The test server accepts 64 KiB.
    let huge = json!({ "email": "a@b.io", "name": "x".repeat(100_000), "password": "long-enough" });
    let res = app
        .client()
        .post(app.url("/api/v1/auth/register"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 413).await["code"], "payload_too_large");
    // Chunked, without a declared length: cut off while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b' '; 4096])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let sent = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(res) => assert_eq!(error_of(res, 413).await["code"], "payload_too_large"),
        // The server answered 413 and closed while the client was still writing: it
        // stopped reading at the limit, which is the point.
        Err(e) => assert!(
            e.is_request() && format!("{e:?}").contains("BodyWrite"),
            "{e:?}"
        ),
    }
}
on_both_backends!(oversized_body, oversized_bodies_are_413);

#[tokio::test]
async fn repeated_logins_are_throttled() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("AUTH_RATE_BURST", "3"), ("AUTH_RATE_PERIOD_MS", "60000")],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login("x@example.com", "wrong-password").await.status(),
            401
        );
    }
    let res = app.login("x@example.com", "wrong-password").await;
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert_eq!(error_of(res, 429).await["code"], "rate_limited");
    // Other routes are not throttled.
    assert_eq!(
        app.client()
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}
