//! The runs table's reads that look for rows by status use the partial index made for
//! them (migration `m20261127_000004`): on a real SQLite file, after the migration has
//! been undone and made again, and on PostgreSQL. A status bound as a parameter instead
//! of written into the SQL makes SQLite read the whole table for some of these (`SCAN
//! runs`), and PostgreSQL's generic plan for the queue a sequential scan.

use super::*;
use crate::runs::service::{idempotency_statement, same_key_statement};
use promptlab_migrations::MigratorTrait;
use sea_orm::sea_query::{QueryBuilder, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// SQLite's plan for `stmt`, one step per line.
async fn plan(db: &DatabaseConnection, stmt: Statement) -> String {
    let explain = Statement {
        sql: format!("EXPLAIN QUERY PLAN {}", stmt.sql),
        ..stmt
    };
    let rows = db.query_all_raw(explain).await.unwrap();
    let steps: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by::<String, _>("detail").unwrap())
        .collect();
    steps.join("\n")
}

fn select(s: &SelectStatement) -> Statement {
    DatabaseBackend::Sqlite.build(s)
}

#[tokio::test]
async fn reads_by_status_use_the_partial_indexes() {
    let dir = std::env::temp_dir().join(format!("promptlab-plans-{}", Uuid::new_v4()));
    let url = format!("sqlite://{}/p.db?mode=rwc", dir.display());
    // Each plan is asked of connections opened after the schema last changed: a
    // connection plans with the schema it last read, and EXPLAIN does not check that the
    // schema is current.
    let db = crate::store::connect(&url).await.unwrap();
    promptlab_migrations::Migrator::down(&db, Some(1))
        .await
        .unwrap();
    db.close().await.unwrap();
    let old = sea_orm::Database::connect(&url).await.unwrap();
    let before = plan(&old, select(&oldest_queued("mock", 4))).await;
    assert!(
        before.contains("idx_runs_queue (status=? AND provider=?)"),
        "{before}"
    );
    old.close().await.unwrap();
    // The migration made again by the store's start-up, then the store's connections.
    crate::store::connect(&url)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let db = crate::store::connect(&url).await.unwrap();

    let now = chrono::Utc::now();
    let cases = [
        (
            "the queue",
            select(&oldest_queued("mock", 4)),
            vec!["idx_runs_queue (provider=?)"],
        ),
        (
            "expired leases",
            select(&lease::locked_ids(
                DatabaseBackend::Sqlite,
                lease::expired(now),
                true,
            )),
            vec!["idx_runs_lease (lease_expires_at<?)"],
        ),
        (
            "this instance's runs",
            select(&lease::locked_ids(
                DatabaseBackend::Sqlite,
                lease::held_by("w-1"),
                false,
            )),
            vec!["idx_runs_lease"],
        ),
        (
            "a success to answer from the cache, or the same run in flight",
            same_key_statement(DatabaseBackend::Sqlite, Uuid::nil(), "k", Some(now)),
            vec![
                "idx_runs_key (run_key=? AND finished_at>?)",
                "ux_runs_in_flight (project_id=? AND run_key=?)",
            ],
        ),
        (
            "the same run in flight",
            same_key_statement(DatabaseBackend::Sqlite, Uuid::nil(), "k", None),
            vec!["ux_runs_in_flight (project_id=? AND run_key=?)"],
        ),
        (
            "an earlier start with this Idempotency-Key",
            select(&idempotency_statement(Uuid::nil(), "key-1")),
            vec!["ux_runs_idempotency (created_by=? AND idempotency_key=?)"],
        ),
    ];
    for (what, stmt, indexes) in cases {
        let steps = plan(&db, stmt).await;
        for index in indexes {
            assert!(
                steps.contains(index),
                "{what}: not through {index}:\n{steps}"
            );
        }
        // A scan is only allowed of a partial index (the runs in flight), not of the
        // table or of its primary key.
        assert!(
            !steps.lines().any(|s| s.starts_with("SCAN runs")
                && !s.contains("USING INDEX idx_runs_lease")
                && !s.contains("USING INDEX idx_runs_queue")),
            "{what} reads the whole table:\n{steps}"
        );
    }
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same reads on PostgreSQL, as a prepared statement's generic plan (what a
/// statement gets once PostgreSQL stops planning it for each set of values, when a bound
/// status could no longer be matched to an index's condition), with sequential scans
/// priced out so that any usable index shows: each goes through its partial index.
#[tokio::test]
async fn on_postgresql_reads_by_status_use_the_partial_indexes() {
    let admin = std::env::var("PROMPTLAB_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("promptlab_plans_{}", Uuid::new_v4().simple());
    let server = sea_orm::Database::connect(&admin).await.unwrap();
    server
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let db = crate::store::connect(&format!("{base}/{name}"))
        .await
        .unwrap();
    let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    txn.execute_unprepared(
        "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan",
    )
    .await
    .unwrap();

    let pg = DatabaseBackend::Postgres;
    let now = chrono::Utc::now();
    let cases = [
        (
            "the queue",
            pg.build(&oldest_queued("mock", 4)),
            vec!["idx_runs_queue"],
        ),
        (
            "expired leases",
            pg.build(&lease::locked_ids(pg, lease::expired(now), true)),
            vec!["idx_runs_lease"],
        ),
        (
            "this instance's runs",
            pg.build(&lease::locked_ids(pg, lease::held_by("w-1"), false)),
            vec!["idx_runs_lease"],
        ),
        (
            "a success to answer from the cache, or the same run in flight",
            same_key_statement(pg, Uuid::nil(), "k", Some(now)),
            vec!["idx_runs_key", "ux_runs_in_flight"],
        ),
        (
            "an earlier start with this Idempotency-Key",
            pg.build(&idempotency_statement(Uuid::nil(), "key-1")),
            vec!["ux_runs_idempotency"],
        ),
    ];
    for (n, (what, stmt, indexes)) in cases.into_iter().enumerate() {
        txn.execute_unprepared(&format!("PREPARE q{n} AS {}", stmt.sql))
            .await
            .unwrap();
        // EXPLAIN takes no parameters of its own: the values go in as literals.
        let args: Vec<String> = stmt
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| sea_orm::sea_query::PostgresQueryBuilder.value_to_string(v))
            .collect();
        let args = match args.is_empty() {
            true => String::new(),
            false => format!("({})", args.join(", ")),
        };
        let explain = Statement::from_string(pg, format!("EXPLAIN EXECUTE q{n}{args}"));
        let rows = txn.query_all_raw(explain).await.unwrap();
        let steps: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by::<String, _>("QUERY PLAN").unwrap())
            .collect();
        let steps = steps.join("\n");
        for index in indexes {
            assert!(
                steps.contains(&format!("using {index}")),
                "{what}: not through {index}:\n{steps}"
            );
        }
    }
    txn.rollback().await.unwrap();
    db.close().await.unwrap();
    server
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}
