//! Immutable versions: append-only, one winner of concurrent saves, restore, diff,
//! labels and their history, ETags, render.

use super::{content, Api};
use crate::on_both_backends;
use crate::support::{error_of, TestApp};
use reqwest::Method as M;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

async fn versions_are_immutable_and_append_only(app: &TestApp) {
    let api = Api::new(app, "writer@example.com").await;
    let prompt = api.create("blog-writer").await;
    assert_eq!(prompt["latest_version"], 1);
    let id = prompt["id"].as_str().unwrap().to_owned();

    // v2 on base 1; a stale base is a conflict naming the latest.
    assert_eq!(
        api.save("blog-writer", 1, "Write a post about {{ topic }}.")
            .await
            .status(),
        201
    );
    let err = error_of(
        api.save("blog-writer", 1, "Something else about {{ topic }}")
            .await,
        409,
    )
    .await;
    assert_eq!(err["code"], "conflict");
    assert_eq!(err["details"]["latest_version"], 2);

    // Identical content creates nothing and says so.
    let same = api
        .save("blog-writer", 2, "Write a post about {{ topic }}.")
        .await;
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["created"], false);
    assert_eq!(same["version"]["number"], 2);

    // No API changes or deletes a version.
    for method in [M::PUT, M::PATCH, M::DELETE] {
        let res = api
            .send(
                method,
                &format!("/api/v1/prompts/{id}/versions/1"),
                Some(content("x")),
            )
            .await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    // Neither does SQL: the database itself refuses.
    let db = app.engine.db();
    let pid = if app.backend == crate::support::Backend::Postgres {
        format!("'{id}'")
    } else {
        format!("x'{}'", id.replace('-', ""))
    };
    let before = api
        .json(
            M::GET,
            &format!("/api/v1/prompts/{id}/versions/1"),
            None,
            200,
        )
        .await;
    for sql in [
        format!("UPDATE prompt_versions SET note = 'tampered' WHERE prompt_id = {pid}"),
        format!("DELETE FROM prompt_versions WHERE prompt_id = {pid}"),
        "UPDATE prompt_versions SET note = 'tampered'".to_owned(),
        "DELETE FROM prompt_versions".to_owned(),
    ] {
        assert!(
            db.execute_unprepared(&sql).await.is_err(),
            "the database allowed: {sql}"
        );
    }
    let after = api
        .json(
            M::GET,
            &format!("/api/v1/prompts/{id}/versions/1"),
            None,
            200,
        )
        .await;
    assert_eq!(before, after);
    let all = api
        .json(M::GET, &format!("/api/v1/prompts/{id}/versions"), None, 200)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}
on_both_backends!(immutability, versions_are_immutable_and_append_only);

async fn twenty_concurrent_saves_one_wins(app: &TestApp) {
    let api = Api::new(app, "racer@example.com").await;
    api.create("racer").await;
    let saves = (0..20).map(|i| {
        let api = &api;
        async move {
            api.save("racer", 1, &format!("Attempt {i} about {{{{ topic }}}}"))
                .await
        }
    });
    let results = futures_util::future::join_all(saves).await;
    let mut created = 0;
    let mut conflicts = 0;
    for res in results {
        match res.status().as_u16() {
            201 => created += 1,
            409 => {
                let err = error_of(res, 409).await;
                assert_eq!(err["details"]["latest_version"], 2);
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    let versions = api
        .json(M::GET, "/api/v1/prompts/racer/versions", None, 200)
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
}
on_both_backends!(concurrent_saves, twenty_concurrent_saves_one_wins);

async fn restore_diff_labels_and_etags(app: &TestApp) {
    let api = Api::new(app, "editor@example.com").await;
    api.create("summarizer").await;
    assert_eq!(
        api.save(
            "summarizer",
            1,
            "Summarize {{ topic }} briefly.\nUse bullets."
        )
        .await
        .status(),
        201
    );

    let d = api
        .json(
            M::GET,
            "/api/v1/prompts/summarizer/diff?from=1&to=2",
            None,
            200,
        )
        .await;
    assert_eq!(d["identical"], false);
    let lines = d["messages"][1]["lines"].as_array().unwrap();
    assert!(lines
        .iter()
        .any(|l| l["tag"] == "delete" && l["text"] == "Write about {{ topic }}."));
    assert!(lines
        .iter()
        .any(|l| l["tag"] == "insert" && l["text"] == "Use bullets."));
    assert_eq!(d["messages"][0]["status"], "unchanged");
    assert_eq!(
        error_of(
            api.send(M::GET, "/api/v1/prompts/summarizer/diff?from=1&to=9", None)
                .await,
            404
        )
        .await["code"],
        "not_found"
    );
    assert_eq!(
        error_of(
            api.send(M::GET, "/api/v1/prompts/summarizer/diff?from=x", None)
                .await,
            400
        )
        .await["code"],
        "validation_error"
    );

    // Restore v1 as v3.
    let r = api
        .json(
            M::POST,
            "/api/v1/prompts/summarizer/versions/1/restore",
            None,
            201,
        )
        .await;
    assert_eq!(r["version"]["number"], 3);
    assert_eq!(r["version"]["note"], "restored from v1");
    let v1 = api
        .json(M::GET, "/api/v1/prompts/summarizer/versions/1", None, 200)
        .await;
    assert_eq!(r["version"]["content_hash"], v1["content_hash"]);
    assert_eq!(
        api.json(
            M::GET,
            "/api/v1/prompts/summarizer/diff?from=1&to=3",
            None,
            200
        )
        .await["identical"],
        true
    );

    // Labels: production at v2, then rolled forward to v3; history records both moves.
    let l = api
        .json(
            M::PUT,
            "/api/v1/prompts/summarizer/labels/production",
            Some(json!({"version": 2})),
            200,
        )
        .await;
    assert_eq!(l["version"], 2);
    api.json(
        M::PUT,
        "/api/v1/prompts/summarizer/labels/production",
        Some(json!({"version": 3})),
        200,
    )
    .await;
    api.json(
        M::PUT,
        "/api/v1/prompts/summarizer/labels/staging",
        Some(json!({"version": 2})),
        200,
    )
    .await;
    assert_eq!(
        error_of(
            api.send(
                M::PUT,
                "/api/v1/prompts/summarizer/labels/production",
                Some(json!({"version": 7}))
            )
            .await,
            404
        )
        .await["code"],
        "not_found"
    );
    assert_eq!(
        error_of(
            api.send(
                M::PUT,
                "/api/v1/prompts/summarizer/labels/Bad%20Label",
                Some(json!({"version": 1}))
            )
            .await,
            400
        )
        .await["code"],
        "validation_error"
    );
    let history = api
        .json(
            M::GET,
            "/api/v1/prompts/summarizer/labels/history?label=production",
            None,
            200,
        )
        .await;
    let moves: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["from_version"].clone(), e["to_version"].clone()))
        .collect();
    assert_eq!(moves, vec![(json!(2), json!(3)), (Value::Null, json!(2))]);
    assert_eq!(history[0]["by"]["name"], "Test User");
    let labels = api
        .json(M::GET, "/api/v1/prompts/summarizer/labels", None, 200)
        .await;
    assert_eq!(labels.as_array().unwrap().len(), 2);

    // Deployed fetch by label, with ETag and 304.
    let res = api
        .send(M::GET, "/api/v1/prompts/summarizer?label=production", None)
        .await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"]["number"], 3);
    assert_eq!(
        etag,
        format!("\"{}\"", body["version"]["content_hash"].as_str().unwrap())
    );
    assert!(body["version"]["labels"]
        .as_array()
        .unwrap()
        .contains(&json!("production")));
    let res = app
        .client()
        .get(app.url("/api/v1/prompts/summarizer?label=production"))
        .bearer_auth(&api.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let res = app
        .client()
        .get(app.url("/api/v1/prompts/summarizer?version=2"))
        .bearer_auth(&api.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another version, another tag");
    assert_eq!(
        error_of(
            api.send(M::GET, "/api/v1/prompts/summarizer?label=canary", None)
                .await,
            404
        )
        .await["code"],
        "not_found"
    );

    // Render what is deployed.
    let out = api
        .json(
            M::POST,
            "/api/v1/prompts/summarizer/render",
            Some(json!({"label": "production", "variables": {"topic": "tides"}})),
            200,
        )
        .await;
    assert_eq!(out["messages"][1]["content"], "Write about tides.");
    let err = error_of(
        api.send(
            M::POST,
            "/api/v1/prompts/summarizer/render",
            Some(json!({"variables": {}})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(err["details"]["variable"], "topic");
}
on_both_backends!(restore_diff_labels, restore_diff_labels_and_etags);
