//! Who may do what: tokens that must be refused (missing, forged, expired, of another
//! session, the wrong scheme) and the roles that decide what project members may do.

use crate::on_both_backends;
use crate::support::{error_of, TestApp, JWT_SECRET};
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};

async fn bad_tokens_are_401(app: &TestApp) {
    let c = app.client();
    let me = app.url("/api/v1/auth/me");
    let res = c.get(&me).send().await.unwrap();
    assert_eq!(error_of(res, 401).await["code"], "unauthorized", "missing");
    let res = c.get(&me).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(error_of(res, 401).await["code"], "unauthorized", "garbage");

    let token = app.token_for("tok@example.com").await;
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &{
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.set_audience(&["promptlab"]);
            v
        },
    )
    .unwrap()
    .claims;

    // Forged: same claims, another key.
    let forged = sign(&claims, b"some-other-secret-that-is-long-enough!");
    let res = c.get(&me).bearer_auth(forged).send().await.unwrap();
    assert_eq!(error_of(res, 401).await["code"], "unauthorized", "forged");

    // Expired: right key, exp in the past.
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let res = c
        .get(&me)
        .bearer_auth(sign(&expired, JWT_SECRET.as_bytes()))
        .send()
        .await
        .unwrap();
    let err = error_of(res, 401).await;
    assert_eq!(err["code"], "unauthorized");
    assert!(err["message"].as_str().unwrap().contains("expired"));

    // Wrong audience, right key.
    let mut foreign = claims.clone();
    foreign["aud"] = json!("another-app");
    let res = c
        .get(&me)
        .bearer_auth(sign(&foreign, JWT_SECRET.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res, 401).await["code"], "unauthorized", "audience");

    // The genuine token still works; a non-Bearer scheme does not count as one.
    assert_eq!(
        c.get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = c
        .get(&me)
        .header(AUTHORIZATION, format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
on_both_backends!(bad_tokens, bad_tokens_are_401);

fn sign(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn roles_decide_what_members_may_do(app: &TestApp) {
    use promptlab::projects::Action;
    use sea_orm::{ActiveModelTrait, Set};
    let owner_token = app.token_for("owner@example.com").await;
    let viewer_token = app.token_for("viewer@example.com").await;
    let owner = app.engine.authenticate(&owner_token).await.unwrap();
    let viewer = app.engine.authenticate(&viewer_token).await.unwrap();
    let project = app.engine.me(&owner).await.unwrap().projects[0].id;

    // Not a member: the project does not exist for them.
    let err = app
        .engine
        .authorize(&viewer, project, Action::Read)
        .await
        .unwrap_err();
    assert_eq!(err.code, promptlab::ErrorCode::NotFound);
    // The same rule where the role is read in one query with the prompt it guards.
    let prompt = promptlab::prompts::service::create(
        app.engine.db(),
        &owner,
        promptlab::prompts::NewPrompt {
            project_id: Some(project),
            name: "guarded".into(),
            description: String::new(),
            tags: vec![],
            content: None,
            note: String::new(),
        },
    )
    .await
    .unwrap();
    let load =
        |who, action| promptlab::prompts::service::load(app.engine.db(), who, prompt.id, action);
    assert_eq!(
        load(&viewer, Action::Read).await.unwrap_err().code,
        promptlab::ErrorCode::NotFound
    );
    assert_eq!(
        load(&owner, Action::Administer).await.unwrap().id,
        prompt.id
    );

    app.add_member(project, viewer.user.id, "viewer").await;
    assert!(app
        .engine
        .authorize(&viewer, project, Action::Read)
        .await
        .is_ok());
    let err = app
        .engine
        .authorize(&viewer, project, Action::Write)
        .await
        .unwrap_err();
    assert_eq!(err.code, promptlab::ErrorCode::Forbidden);
    assert_eq!(load(&viewer, Action::Read).await.unwrap().name, "guarded");
    assert_eq!(
        load(&viewer, Action::Write).await.unwrap_err().code,
        promptlab::ErrorCode::Forbidden
    );
    assert!(app
        .engine
        .authorize(&owner, project, Action::Administer)
        .await
        .is_ok());

    // The database refuses roles that do not exist.
    let bad = promptlab::store::memberships::ActiveModel {
        project_id: Set(app
            .engine
            .me(&viewer)
            .await
            .unwrap()
            .projects
            .iter()
            .find(|p| p.personal)
            .unwrap()
            .id),
        user_id: Set(owner.user.id),
        role: Set("admin".into()),
        created_at: Set(chrono::Utc::now()),
    };
    assert!(bad.insert(app.engine.db()).await.is_err());
}
on_both_backends!(authorization, roles_decide_what_members_may_do);
