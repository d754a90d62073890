//! The runs table's reads that look for rows by status use the partial index made for
//! them (migration `m20261127_000004`), on a real SQLite file, after the migration has
//! been undone and made again. A status bound as a parameter instead of written into the
//! SQL makes SQLite read the whole table for some of these (`SCAN runs`).

use super::*;
use crate::runs::service::{idempotency_statement, same_key_statement};
use promptlab_migrations::MigratorTrait;
use sea_orm::sea_query::SelectStatement;
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
