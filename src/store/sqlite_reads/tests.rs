//! The inline reads against a real SQLite file, beside the sqlx pool that shares it.

use super::*;
use crate::accounts::service::{session_query, Identity, SessionAndUser};
use crate::accounts::LoginRequest;
use crate::engine::Engine;
use crate::projects::Action;
use crate::runs::StartRun;
use crate::store::runs;
use crate::versions::VariableKind;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

/// An engine on a new SQLite file with the demo data, and the demo user signed in.
async fn seeded() -> (Engine, Identity, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("promptlab-r-{}", uuid::Uuid::new_v4()));
    let mut vars = std::collections::HashMap::new();
    vars.insert(
        "DATABASE_URL".to_owned(),
        format!("sqlite://{}/r.db?mode=rwc", dir.display()),
    );
    let engine = Engine::start(crate::config::Config::from_vars(&vars).unwrap())
        .await
        .unwrap();
    crate::seed::seed(&engine).await.unwrap();
    let signed = engine
        .login(LoginRequest {
            email: crate::seed::DEMO_EMAIL.into(),
            password: crate::seed::DEMO_PASSWORD.into(),
        })
        .await
        .unwrap();
    let who = Identity {
        user: signed.user,
        session_id: signed.session_id,
    };
    (engine, who, signed.token, dir)
}

async fn finish(engine: Engine, dir: PathBuf) {
    engine.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn answered(reads: &Reads) -> usize {
    reads.inline_stats().expect("inline reads").0
}

#[tokio::test]
async fn inline_reads_answer_as_the_pool_does() {
    let (engine, who, _, dir) = seeded().await;
    let (db, reads, pool) = (engine.db(), engine.reads(), Reads::default());
    assert!(pool.inline_stats().is_none());

    // The session and its user (sea-orm's prefixed columns, a left join).
    let query = session_query(who.session_id);
    let inline: SessionAndUser = reads.one(db, &query).await.unwrap().unwrap();
    let pooled: SessionAndUser = pool.one(db, &query).await.unwrap().unwrap();
    assert_eq!(inline, pooled);
    assert_eq!(inline.1.as_ref().map(|u| u.id), Some(who.user.id));
    let missing: Option<SessionAndUser> = reads
        .one(db, &session_query(uuid::Uuid::new_v4()))
        .await
        .unwrap();
    assert!(missing.is_none());

    // Every prompt, with the caller's role.
    let page = crate::prompts::service::list(db, &who, Default::default())
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    for p in &page.items {
        let inline =
            crate::prompts::service::load_live_through(reads, db, &who, p.id, Action::Write)
                .await
                .unwrap();
        let pooled = crate::prompts::service::load_live(db, &who, p.id, Action::Write)
            .await
            .unwrap();
        assert_eq!(inline, pooled);
    }

    // A run's row, every column (UUIDs, timestamps, JSON, NULLs, a bool).
    let prompt = &page.items[0];
    let version = engine
        .runtime()
        .version(db, prompt.id, prompt.latest_version)
        .await
        .unwrap()
        .unwrap();
    let variables = version
        .content
        .variables
        .iter()
        .map(|v| {
            let value = match v.kind {
                VariableKind::String => serde_json::json!("some text"),
                VariableKind::Number => serde_json::json!(3),
                VariableKind::Boolean => serde_json::json!(true),
                VariableKind::Json => serde_json::json!({ "a": [1, 2] }),
            };
            (v.name.clone(), value)
        })
        .collect();
    let started = crate::runs::service::start(
        &engine,
        &who,
        StartRun {
            prompt_id: prompt.id,
            version: None,
            variables,
            provider: None,
            model: None,
            params: Default::default(),
            bypass_cache: true,
        },
        Some("reads-test".into()),
    )
    .await
    .unwrap();
    let query = runs::Entity::find()
        .filter(runs::Column::Id.eq(started.run.summary.id))
        .limit(1)
        .into_query();
    let inline: runs::Model = reads.one(db, &query).await.unwrap().unwrap();
    let pooled: runs::Model = pool.one(db, &query).await.unwrap().unwrap();
    assert_eq!(inline, pooled);
    assert_eq!(inline.idempotency_key.as_deref(), Some("reads-test"));

    // All of the above (and the run's start) were answered inline, by one connection.
    let (n, idle) = reads.inline_stats().unwrap();
    assert!(n >= 3 + page.items.len(), "{n} inline reads");
    assert_eq!(idle, 1);
    finish(engine, dir).await;
}

#[tokio::test]
async fn a_read_sees_what_was_committed_before_it() {
    let (engine, who, token, dir) = seeded().await;
    let before = answered(engine.reads());
    assert_eq!(
        engine.authenticate(&token).await.unwrap().user.id,
        who.user.id
    );
    engine.logout(&who).await.unwrap();
    let e = engine.authenticate(&token).await.unwrap_err();
    assert_eq!(e.code, crate::error::ErrorCode::Unauthorized);
    assert_eq!(answered(engine.reads()), before + 2);
    finish(engine, dir).await;
}

#[tokio::test]
async fn a_read_that_cannot_be_made_inline_is_read_through_the_pool() {
    let (engine, who, _, dir) = seeded().await;
    let db = engine.db();
    // A file that is not there: the connection cannot open (no create flag).
    let elsewhere = Reads {
        inline: Some(Inline {
            path: dir.join("not-there.db"),
            idle: Mutex::new(Vec::new()),
            answered: Default::default(),
        }),
    };
    let found: SessionAndUser = elsewhere
        .one(db, &session_query(who.session_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.0.id, who.session_id);
    assert_eq!(elsewhere.inline_stats(), Some((0, 0)));
    assert!(!dir.join("not-there.db").exists());
    finish(engine, dir).await;
}

#[tokio::test]
async fn inline_connections_refuse_writes() {
    let (engine, who, token, dir) = seeded().await;
    let reads = engine.reads();
    let inline = reads.inline.as_ref().unwrap();
    let revoke = sea_orm::Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "UPDATE sessions SET revoked_at = '2000-01-01T00:00:00Z' WHERE id = ?",
        [who.session_id.into()],
    );
    assert!(inline.read(&revoke).is_none());
    // Still signed in, and the connection was kept.
    assert_eq!(
        engine.authenticate(&token).await.unwrap().user.id,
        who.user.id
    );
    assert_eq!(reads.inline_stats().unwrap().1, 1);
    finish(engine, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_use_a_connection_per_thread_at_most() {
    let (engine, who, token, dir) = seeded().await;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (engine, token) = (engine.clone(), token.clone());
            tokio::spawn(async move { engine.authenticate(&token).await.map(|i| i.user.id) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), who.user.id);
    }
    let (n, idle) = engine.reads().inline_stats().unwrap();
    assert!(n >= 200, "{n} inline reads");
    assert!((1..=2).contains(&idle), "{idle} connections for 2 threads");
    finish(engine, dir).await;
}

#[tokio::test]
async fn in_memory_sqlite_reads_through_the_pool() {
    let db = crate::store::connect("sqlite::memory:").await.unwrap();
    assert!(Reads::open(&db, "sqlite::memory:")
        .unwrap()
        .inline_stats()
        .is_none());
}
