//! The store's connection settings against real SQLite files.

use super::*;

/// The first column of the first row `sql` returns.
pub(super) async fn first_value<T: sea_orm::TryGetable>(
    conn: &impl ConnectionTrait,
    sql: &str,
) -> T {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            sql,
        ))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index(0).unwrap()
}

#[test]
fn backends() {
    assert_eq!(
        Backend::of("sqlite://x.db?mode=rwc").unwrap(),
        Backend::Sqlite
    );
    assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
    assert_eq!(Backend::of("postgres://u@h/db").unwrap(), Backend::Postgres);
    assert!(Backend::of("mysql://h/db").is_err());
    assert_eq!(
        sqlite_path("sqlite://data/p.db?mode=rwc"),
        Some("data/p.db")
    );
    assert_eq!(sqlite_path("sqlite:///tmp/p.db"), Some("/tmp/p.db"));
    assert_eq!(sqlite_path("sqlite::memory:"), None);
    assert_eq!(sqlite_path("sqlite://x?mode=memory"), None);
}

#[tokio::test]
async fn connects_and_migrates_a_fresh_file() {
    let dir = crate::test_support::TempDir::new("store");
    let url = dir.sqlite_url("nested/p.db");
    let db = connect(&url).await.unwrap();
    assert!(ping(&db).await);
    // Running the migrations again is a no-op.
    promptlab_migrations::Migrator::up(&db, None).await.unwrap();
    let mode: String = first_value(&db, "PRAGMA journal_mode").await;
    assert_eq!(mode, "wal");
    // Automatic checkpoints are off on every connection: `checkpoints` does them.
    let auto: i64 = first_value(&db, "PRAGMA wal_autocheckpoint").await;
    assert_eq!(auto, 0);
    // A log that started over is cut back to this size.
    let limit: i64 = first_value(&db, "PRAGMA journal_size_limit").await;
    assert_eq!(limit, WAL_SIZE_LIMIT as i64);
    drop(db);
}

/// The file moved away under a running pool: the pool's new connections fail instead
/// of making a new, empty database at the path (the URL's `mode=rwc` is for the first
/// open only), and the connections it had still see the data.
#[tokio::test]
async fn the_pool_never_makes_a_new_file_in_place_of_a_moved_one() {
    use sea_orm::TransactionTrait;
    let dir = crate::test_support::TempDir::new("store");
    let url = dir.sqlite_url("m.db");
    let db = connect(&url).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept')")
        .await
        .unwrap();
    let (file, away) = (dir.path().join("m.db"), dir.path().join("m.moved"));
    std::fs::rename(&file, &away).unwrap();
    // Holding a transaction on every connection the pool may have makes it open new
    // ones: each of them now finds no file.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(db.begin().await);
    }
    assert!(!file.exists(), "no new database file at the path");
    assert!(held.iter().any(|t| t.is_err()), "new connections fail");
    let open = held
        .into_iter()
        .find_map(Result::ok)
        .expect("an open connection");
    let row: String = first_value(&open, "SELECT x FROM t").await;
    assert_eq!(row, "kept");
    drop(open);
    // Back at its path, the file is opened again.
    std::fs::rename(&away, &file).unwrap();
    let txns: Vec<_> = futures::future::join_all((0..8).map(|_| db.begin())).await;
    assert!(txns.iter().all(Result::is_ok));
    drop(txns);
    db.close().await.unwrap();
}

/// A write transaction that reads first keeps the lock from its start: another
/// connection's write that comes between its read and its write waits, instead of making
/// that write fail with `SQLITE_BUSY_SNAPSHOT` (which no busy timeout waits for).
#[tokio::test]
async fn a_write_transaction_that_reads_first_is_not_overtaken() {
    let dir = crate::test_support::TempDir::new("store");
    let url = dir.sqlite_url("b.db");
    let db = connect(&url).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('first')")
        .await
        .unwrap();
    let count = "SELECT count(*) FROM t";
    let txn = begin_write(&db).await.unwrap();
    let _: i64 = first_value(&txn, count).await;
    let other = {
        let db = db.clone();
        tokio::spawn(async move {
            db.execute_unprepared("INSERT INTO t VALUES ('other')")
                .await
        })
    };
    // Time for the other write to commit, were it not waiting for this transaction.
    tokio::time::sleep(Duration::from_millis(100)).await;
    txn.execute_unprepared("INSERT INTO t VALUES ('mine')")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    other.await.unwrap().unwrap();
    let row: i64 = first_value(&db, count).await;
    assert_eq!(row, 3);
    db.close().await.unwrap();
}
