//! The inline reads against a real SQLite file, beside the sqlx pool that shares it.

use super::*;
use crate::accounts::service::{session_query, Identity, SessionAndUser};
use crate::accounts::LoginRequest;
use crate::engine::Engine;
use crate::projects::Action;
use crate::runs::StartRun;
use crate::store::runs;
use crate::test_support::TempDir;
use crate::versions::VariableKind;
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use std::time::Instant;

/// An engine on a new SQLite file with the demo data, and the demo user signed in.
async fn seeded() -> (Engine, Identity, String, TempDir) {
    let dir = TempDir::new("reads");
    let mut vars = std::collections::HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), dir.sqlite_url("r.db"));
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

/// Closes the engine, then removes its directory.
async fn finish(engine: Engine, dir: TempDir) {
    engine.close().await;
    drop(dir);
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

    // The lookup by key: the run in flight, with or without the cache...
    let same_key = |since| {
        crate::runs::service::same_key_statement(
            DatabaseBackend::Sqlite,
            inline.project_id,
            &inline.run_key,
            since,
        )
    };
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    for since in [None, Some(hour_ago)] {
        let a: Option<runs::Model> = reads.one_statement(db, same_key(since)).await.unwrap();
        let b: Option<runs::Model> = pool.one_statement(db, same_key(since)).await.unwrap();
        assert_eq!(a.as_ref().map(|r| r.id), Some(inline.id));
        assert_eq!(a, b);
    }
    // ...then, once it succeeded, the success (every column set), while the cache applies.
    let finished = sea_orm::Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "UPDATE runs SET status = 'succeeded', finished_at = ?, output = 'done', \
         input_tokens = 3, output_tokens = 7, cost_usd = 0.25, latency_ms = 12, ttft_ms = 4, \
         provider_model = 'mock-1-2026', lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = ?",
        [chrono::Utc::now().into(), inline.id.into()],
    );
    sea_orm::ConnectionTrait::execute_raw(db, finished)
        .await
        .unwrap();
    let a: runs::Model = reads
        .one_statement(db, same_key(Some(hour_ago)))
        .await
        .unwrap()
        .unwrap();
    let b: runs::Model = pool
        .one_statement(db, same_key(Some(hour_ago)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a, b);
    assert_eq!((a.id, a.status.as_str()), (inline.id, "succeeded"));
    assert_eq!(a.cost_usd, Some(0.25));
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    for since in [None, Some(later)] {
        let a: Option<runs::Model> = reads.one_statement(db, same_key(since)).await.unwrap();
        assert!(a.is_none());
    }

    // All of the above (and the run's start) were answered inline, by one connection.
    let (n, idle) = reads.inline_stats().unwrap();
    assert!(n >= 3 + 6 + page.items.len(), "{n} inline reads");
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
            path: dir.path().join("not-there.db"),
            idle: Mutex::new(Idle::default()),
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
    assert!(!dir.path().join("not-there.db").exists());
    // It is not tried again on every read.
    let paused = elsewhere
        .inline
        .as_ref()
        .unwrap()
        .idle
        .lock()
        .unwrap()
        .pause_until;
    assert!(paused.is_some_and(|t| t > Instant::now()));
    finish(engine, dir).await;
}

/// A session's id only; its inline decoder always fails, its pool decoder does not.
#[derive(Debug, PartialEq)]
struct PickyId(uuid::Uuid);

impl FromRow for PickyId {
    fn from_row(_: &Row) -> Result<Self, DbErr> {
        Err(DbErr::Type("picky".into()))
    }
}

impl FromQueryResult for PickyId {
    fn from_query_result(res: &sea_orm::QueryResult, _: &str) -> Result<Self, DbErr> {
        Ok(Self(res.try_get("", "A_id")?))
    }
}

#[tokio::test]
async fn a_row_that_does_not_decode_inline_is_read_through_the_pool() {
    let (engine, who, _, dir) = seeded().await;
    let before = answered(engine.reads());
    let found: Option<PickyId> = engine
        .reads()
        .one(engine.db(), &session_query(who.session_id))
        .await
        .unwrap();
    assert_eq!(found, Some(PickyId(who.session_id)));
    assert_eq!(answered(engine.reads()), before);
    finish(engine, dir).await;
}

#[tokio::test]
async fn closed_reads_go_through_the_pool() {
    let (engine, who, token, dir) = seeded().await;
    engine.authenticate(&token).await.unwrap();
    let (n, idle) = engine.reads().inline_stats().unwrap();
    assert_eq!(idle, 1);
    engine.reads().close();
    assert_eq!(
        engine.authenticate(&token).await.unwrap().user.id,
        who.user.id
    );
    assert_eq!(engine.reads().inline_stats(), Some((n, 0)));
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
