//! Prompt CRUD: create, search, tag filter, sort, pages, metadata, trash, visibility.

use super::Api;
use crate::on_both_backends;
use crate::support::{error_of, TestApp};
use reqwest::Method as M;
use serde_json::{json, Value};

async fn crud_search_and_trash(app: &TestApp) {
    let api = Api::new(app, "crud@example.com").await;
    api.create("code-reviewer").await;
    api.json(M::POST, "/api/v1/prompts", Some(json!({"name": "translator", "description": "Translates 100% of text", "tags": ["i18n"]})), 201).await;
    api.json(
        M::POST,
        "/api/v1/prompts",
        Some(json!({"name": "summarizer", "tags": ["writing", "short"]})),
        201,
    )
    .await;
    assert_eq!(
        error_of(
            api.send(
                M::POST,
                "/api/v1/prompts",
                Some(json!({"name": "translator"}))
            )
            .await,
            409
        )
        .await["code"],
        "conflict"
    );
    assert_eq!(
        error_of(
            api.send(
                M::POST,
                "/api/v1/prompts",
                Some(json!({"name": "Bad Name"}))
            )
            .await,
            400
        )
        .await["code"],
        "validation_error"
    );

    let names = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let all = api
        .json(M::GET, "/api/v1/prompts?sort=name", None, 200)
        .await;
    assert_eq!(
        names(&all),
        vec!["code-reviewer", "summarizer", "translator"]
    );
    assert_eq!(all["total"], 3);
    assert_eq!(
        names(
            &api.json(M::GET, "/api/v1/prompts?tag=writing&sort=name", None, 200)
                .await
        ),
        vec!["code-reviewer", "summarizer"]
    );
    assert_eq!(
        names(
            &api.json(M::GET, "/api/v1/prompts?q=TRANSLATES", None, 200)
                .await
        ),
        vec!["translator"]
    );
    assert_eq!(
        names(
            &api.json(M::GET, "/api/v1/prompts?q=100%25", None, 200)
                .await
        ),
        vec!["translator"],
        "% is literal"
    );
    assert_eq!(
        api.json(M::GET, "/api/v1/prompts?q=x_y", None, 200).await["total"],
        0,
        "_ is literal"
    );
    let page = api
        .json(
            M::GET,
            "/api/v1/prompts?sort=name&per_page=2&page=2",
            None,
            200,
        )
        .await;
    assert_eq!(names(&page), vec!["translator"]);
    assert_eq!(
        error_of(
            api.send(M::GET, "/api/v1/prompts?page=abc", None).await,
            400
        )
        .await["code"],
        "validation_error"
    );

    // Metadata changes; content cannot be changed this way.
    let p = api
        .json(
            M::PATCH,
            "/api/v1/prompts/translator",
            Some(json!({"description": "Now better", "tags": ["i18n", "lang"]})),
            200,
        )
        .await;
    assert_eq!(p["tags"], json!(["i18n", "lang"]));
    assert_eq!(
        error_of(
            api.send(
                M::PATCH,
                "/api/v1/prompts/translator",
                Some(json!({"messages": []}))
            )
            .await,
            400
        )
        .await["code"],
        "validation_error"
    );

    // Trash and back.
    let trashed = api
        .json(M::DELETE, "/api/v1/prompts/translator", None, 200)
        .await;
    let id = trashed["id"].as_str().unwrap().to_owned();
    assert!(trashed["deleted_at"].is_string());
    assert_eq!(
        names(
            &api.json(M::GET, "/api/v1/prompts?sort=name", None, 200)
                .await
        ),
        vec!["code-reviewer", "summarizer"]
    );
    assert_eq!(
        names(
            &api.json(M::GET, "/api/v1/prompts?deleted=true", None, 200)
                .await
        ),
        vec!["translator"]
    );
    assert_eq!(
        error_of(
            api.send(M::GET, "/api/v1/prompts/translator", None).await,
            404
        )
        .await["code"],
        "not_found"
    );
    // Trashing again changes nothing, not even the date it was trashed.
    let again = api
        .json(M::DELETE, &format!("/api/v1/prompts/{id}"), None, 200)
        .await;
    assert_eq!(again["deleted_at"], trashed["deleted_at"]);
    assert_eq!(again["updated_at"], trashed["updated_at"]);
    let by_name = api
        .json(M::DELETE, "/api/v1/prompts/translator", None, 200)
        .await;
    assert_eq!(by_name["deleted_at"], trashed["deleted_at"]);
    // Restored by the name it still has in the trash.
    let restored = api
        .json(M::POST, "/api/v1/prompts/translator/restore", None, 200)
        .await;
    assert_eq!(restored["id"], id.as_str());
    assert!(restored["deleted_at"].is_null());
    // Restoring a live prompt changes nothing either.
    for key in [id.as_str(), "translator"] {
        let live = api
            .json(
                M::POST,
                &format!("/api/v1/prompts/{key}/restore"),
                None,
                200,
            )
            .await;
        assert_eq!(live["updated_at"], restored["updated_at"], "{key}");
    }
    assert_eq!(
        error_of(
            api.send(M::POST, "/api/v1/prompts/no-such-prompt/restore", None)
                .await,
            404
        )
        .await["code"],
        "not_found"
    );
    assert_eq!(
        api.json(M::GET, "/api/v1/prompts", None, 200).await["total"],
        3
    );

    // Other users see none of it.
    let other = Api::new(app, "stranger@example.com").await;
    assert_eq!(
        other.json(M::GET, "/api/v1/prompts", None, 200).await["total"],
        0
    );
    assert_eq!(
        error_of(
            other
                .send(M::GET, &format!("/api/v1/prompts/{id}"), None)
                .await,
            404
        )
        .await["code"],
        "not_found"
    );
    assert_eq!(
        error_of(other.save(&id, 0, "mine now {{ topic }}").await, 404).await["code"],
        "not_found"
    );
}
on_both_backends!(crud_and_search, crud_search_and_trash);
