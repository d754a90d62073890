//! Server-rendered pages, driven like a browser without JavaScript: plain GETs and form
//! posts, following nothing automatically.

use crate::on_both_backends;
use crate::support::TestApp;
use reqwest::header::{
    ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, COOKIE, LOCATION, REFERER, SET_COOKIE,
};

pub(crate) const HTML: &str = "text/html,application/xhtml+xml";

pub(crate) fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("promptlab_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

async fn form_post(
    app: &TestApp,
    path: &str,
    from: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    app.client()
        .post(app.url(path))
        .header(ACCEPT, HTML)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(REFERER, app.url(from))
        .header("origin", &app.base)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn signed_out_visitors_go_to_login(app: &TestApp) {
    let res = app
        .client()
        .get(app.url("/"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()[LOCATION], "/login");

    let res = app
        .client()
        .get(app.url("/login"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("'nonce-")
            && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("action=\"/api/auth/login\""),
        "a plain form post target"
    );
    assert!(html.contains("name=\"email\"") && html.contains("name=\"password\""));
    assert!(html.contains("lang=\"en\""));
}
on_both_backends!(signed_out_redirect, signed_out_visitors_go_to_login);

async fn register_and_login_without_javascript(app: &TestApp) {
    let fields = [
        ("name", "Ada Lovelace"),
        ("email", "ada@example.com"),
        ("password", "correct-horse-battery"),
    ];
    let res = form_post(app, "/api/auth/register", "/register", &fields).await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()[LOCATION], "/");
    let cookie = session_cookie(&res).expect("session cookie set by the form post");

    let res = app
        .client()
        .get(app.url("/"))
        .header(ACCEPT, HTML)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Ada Lovelace"),
        "the signed-in shell shows the user"
    );

    // A wrong password goes back to the form with the error, which the page renders.
    let res = form_post(
        app,
        "/api/auth/login",
        "/login",
        &[("email", "ada@example.com"), ("password", "wrong-password")],
    )
    .await;
    assert_eq!(res.status(), 302);
    let back = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.contains("/login") && back.contains("__err="), "{back}");
    assert!(session_cookie(&res).is_none());
    let path = back.trim_start_matches(&app.base).to_owned();
    let html = app
        .client()
        .get(app.url(&path))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Invalid email or password."),
        "error shown without JavaScript"
    );

    // The right one signs in.
    let res = form_post(
        app,
        "/api/auth/login",
        "/login",
        &[
            ("email", "ada@example.com"),
            ("password", "correct-horse-battery"),
        ],
    )
    .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()[LOCATION], "/");
    let cookie = session_cookie(&res).expect("cookie");

    // Signed in, /login sends you home; logout clears the cookie and sends you to /login.
    let res = app
        .client()
        .get(app.url("/login"))
        .header(ACCEPT, HTML)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let res = app
        .client()
        .post(app.url("/api/auth/logout"))
        .header(ACCEPT, HTML)
        .header(COOKIE, &cookie)
        .header(REFERER, app.url("/"))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()[LOCATION], "/login");
    let res = app
        .client()
        .get(app.url("/"))
        .header(ACCEPT, HTML)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "the old cookie no longer works");
}
on_both_backends!(no_js_forms, register_and_login_without_javascript);

async fn language_follows_cookie_then_accept_language(app: &TestApp) {
    let c = app.client();
    let html = c
        .get(app.url("/login"))
        .header(ACCEPT_LANGUAGE, "pt-BR,pt;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("lang=\"pt-BR\"") && html.contains("Entrar"),
        "Accept-Language"
    );

    let res = c
        .get(app.url("/prefs/locale/pt-BR?next=/register"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/register");
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(cookie, "i18n_pref_locale=pt-BR");
    let html = c
        .get(app.url("/register"))
        .header(COOKIE, &cookie)
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Crie sua conta"),
        "the cookie wins over Accept-Language"
    );

    let res = c
        .get(app.url("/prefs/locale/xx?next=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Browsers drop a tab or line break inside a URL, so each of these would be
    // `//evil.example`; a line break or non-ASCII text cannot even be a header (it was a
    // 500). All go home, on both preferences.
    for next in [
        "//evil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0A/evil.example",
        "/%20/evil.example",
        "/caf%C3%A9",
    ] {
        for pref in ["locale/en", "theme/dark"] {
            let res = c
                .get(app.url(&format!("/prefs/{pref}?next={next}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 303, "{pref} {next}");
            assert_eq!(
                res.headers()[LOCATION],
                "/",
                "no open redirect: {pref} {next}"
            );
        }
    }
}
on_both_backends!(language, language_follows_cookie_then_accept_language);

#[tokio::test]
async fn theme_choice_is_rendered_on_the_server() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let c = app.client();
    let html = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("data-theme="),
        "follows the system until chosen"
    );
    let res = c
        .get(app.url("/prefs/theme/dark?next=/login"))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = c
        .get(app.url("/login"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-theme=\"dark\""));
    assert_eq!(
        c.get(app.url("/prefs/theme/purple"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // A query or a path that does not parse is the same JSON error, not axum's text.
    for bad in ["/prefs/theme/dark?next=/a&next=/b", "/prefs/theme/%FF"] {
        let res = c.get(app.url(bad)).send().await.unwrap();
        assert_eq!(
            crate::support::error_of(res, 400).await["code"],
            "validation_error",
            "{bad}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let res = app
        .client()
        .get(app.url("/no/such/page"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = app
        .client()
        .get(app.url("/api/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::support::error_of(res, 404).await["code"],
        "not_found"
    );
    app.stop().await;
}
