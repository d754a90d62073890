//! The runs table's reads that look for rows by status use the partial index made for
//! them (migration `m20261127_000004`): on a real SQLite file, after the migration has
//! been undone and made again, and on PostgreSQL. A status bound as a parameter instead
//! of written into the SQL makes SQLite read the whole table for some of these (`SCAN
//! runs`), and PostgreSQL's generic plan for the queue a sequential scan.

use super::*;
use crate::runs::service::{idempotency_statement, same_key_statement};
use promptlab_migrations::MigratorTrait;
use sea_orm::sea_query::QueryBuilder;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// The index a plan must use: its name (PostgreSQL's plans name only that), and SQLite's
/// words for how it is used.
type Through = (&'static str, &'static str);

/// Each read by status as `backend` gets it, and the indexes its plan must use.
fn reads(backend: DatabaseBackend) -> Vec<(&'static str, Statement, Vec<Through>)> {
    let now = chrono::Utc::now();
    vec![
        (
            "the queue",
            backend.build(&oldest_queued("mock", 4)),
            vec![("idx_runs_queue", "idx_runs_queue (provider=?)")],
        ),
        (
            "expired leases",
            backend.build(&lease::locked_ids(backend, lease::expired(now), true)),
            vec![("idx_runs_lease", "idx_runs_lease (lease_expires_at<?)")],
        ),
        (
            "this instance's runs",
            backend.build(&lease::locked_ids(backend, lease::held_by("w-1"), false)),
            vec![("idx_runs_lease", "idx_runs_lease")],
        ),
        (
            "a success to answer from the cache, or the same run in flight",
            same_key_statement(backend, Uuid::nil(), "k", Some(now)),
            vec![
                ("idx_runs_key", "idx_runs_key (run_key=? AND finished_at>?)"),
                IN_FLIGHT,
            ],
        ),
        (
            "the same run in flight",
            same_key_statement(backend, Uuid::nil(), "k", None),
            vec![IN_FLIGHT],
        ),
        (
            "an earlier start with this Idempotency-Key",
            backend.build(&idempotency_statement(Uuid::nil(), "key-1")),
            vec![(
                "ux_runs_idempotency",
                "ux_runs_idempotency (created_by=? AND idempotency_key=?)",
            )],
        ),
    ]
}

const IN_FLIGHT: Through = (
    "ux_runs_in_flight",
    "ux_runs_in_flight (project_id=? AND run_key=?)",
);

/// The rows of `stmt`'s column `column`, one per line.
async fn lines(db: &impl ConnectionTrait, stmt: Statement, column: &str) -> String {
    let rows = db.query_all_raw(stmt).await.unwrap();
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by::<String, _>(column).unwrap())
        .collect();
    lines.join("\n")
}

/// SQLite's plan for `stmt`, one step per line.
async fn plan(db: &DatabaseConnection, stmt: Statement) -> String {
    let explain = Statement {
        sql: format!("EXPLAIN QUERY PLAN {}", stmt.sql),
        ..stmt
    };
    lines(db, explain, "detail").await
}

#[tokio::test]
async fn reads_by_status_use_the_partial_indexes() {
    let dir = crate::test_support::TempDir::new("plans");
    let url = dir.sqlite_url("p.db");
    // Each plan is asked of connections opened after the schema last changed: a
    // connection plans with the schema it last read, and EXPLAIN does not check that the
    // schema is current.
    let db = crate::store::connect(&url).await.unwrap();
    promptlab_migrations::Migrator::down(&db, Some(1))
        .await
        .unwrap();
    db.close().await.unwrap();
    let old = sea_orm::Database::connect(&url).await.unwrap();
    let queue = DatabaseBackend::Sqlite.build(&oldest_queued("mock", 4));
    let before = plan(&old, queue).await;
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

    for (what, stmt, indexes) in reads(DatabaseBackend::Sqlite) {
        let steps = plan(&db, stmt).await;
        for (_, index) in indexes {
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
}

/// The same reads on PostgreSQL, as a prepared statement's generic plan (what a
/// statement gets once PostgreSQL stops planning it for each set of values, when a bound
/// status could no longer be matched to an index's condition), with sequential scans
/// priced out so that any usable index shows: each goes through its partial index.
#[tokio::test]
async fn on_postgresql_reads_by_status_use_the_partial_indexes() {
    let scratch = crate::test_support::TempPg::create("plans").await;
    let db = crate::store::connect(scratch.url()).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    txn.execute_unprepared(
        "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan",
    )
    .await
    .unwrap();

    let pg = DatabaseBackend::Postgres;
    for (n, (what, stmt, indexes)) in reads(pg).into_iter().enumerate() {
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
        let steps = lines(&txn, explain, "QUERY PLAN").await;
        for (index, _) in indexes {
            assert!(
                steps.contains(&format!("using {index}")),
                "{what}: not through {index}:\n{steps}"
            );
        }
    }
    txn.rollback().await.unwrap();
    db.close().await.unwrap();
}
