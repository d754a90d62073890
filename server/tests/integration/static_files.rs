//! Static files from the site root: served as files, with nothing of any other request in
//! their response, revalidated on every use, and the app's 404 page for a file that is not
//! there.

use crate::support::TestApp;
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};

/// Static files carry no other request's headers. leptos_axum's file handler answered a
/// file from inside a fresh reactive owner that could find a concurrent page render's
/// `ResponseOptions`; with pt-BR pages rendering alongside, about a third of stylesheet
/// responses came back setting `i18n_pref_locale=pt-BR` for a visitor who never chose it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_never_carry_another_requests_cookie() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let site = std::env::temp_dir().join(format!("promptlab-site-{nanos}"));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/promptlab.css"), "body { margin: 0 }\n").unwrap();
    std::fs::write(
        site.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    let root = site.to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(
        crate::support::Backend::Sqlite,
        &[("LEPTOS_SITE_ROOT", root.as_str())],
    )
    .await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..600 {
        let (c, base) = (app.client(), app.base.clone());
        tasks.spawn(async move {
            if i % 2 == 0 {
                let res = c
                    .get(format!("{base}/login"))
                    .header(COOKIE, "i18n_pref_locale=pt-BR")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                let _ = res.text().await;
                None
            } else {
                let path = ["/pkg/promptlab.css", "/favicon.svg"][i % 4 / 2];
                let res = c.get(format!("{base}{path}")).send().await.unwrap();
                assert_eq!(res.status(), 200, "{path}");
                let cookies: Vec<String> = res
                    .headers()
                    .get_all(SET_COOKIE)
                    .iter()
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .collect();
                Some((path, cookies))
            }
        });
    }
    let mut files = 0;
    while let Some(done) = tasks.join_next().await {
        if let Some((path, cookies)) = done.unwrap() {
            files += 1;
            assert!(cookies.is_empty(), "{path} answered with {cookies:?}");
        }
    }
    assert_eq!(files, 300);

    // A file that is not there is the app's 404 page.
    let res = app
        .client()
        .get(app.url("/pkg/missing.js"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let css = app
        .client()
        .get(app.url("/pkg/promptlab.css"))
        .send()
        .await
        .unwrap();
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    // Revalidated on every use, and a revalidation of an unchanged file is a 304: chunks
    // of the split wasm are named by build order, so no stale one may be reused.
    assert_eq!(css.headers()["cache-control"], "no-cache");
    let modified = css.headers()["last-modified"].clone();
    assert_eq!(css.text().await.unwrap(), "body { margin: 0 }\n");
    let again = app
        .client()
        .get(app.url("/pkg/promptlab.css"))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.stop().await;
    let _ = std::fs::remove_dir_all(&site);
}
