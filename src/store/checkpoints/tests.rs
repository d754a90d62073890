//! The checkpoint task against real SQLite files.

use super::*;
use crate::store::connect;
use crate::store::tests::first_value;
use sea_orm::ConnectionTrait;

#[tokio::test]
async fn the_checkpoint_task_copies_the_wal_into_the_database() {
    use sea_orm::ConnectionTrait;
    let dir = crate::test_support::TempDir::new("store");
    let url = dir.sqlite_url("c.db");
    let db = connect(&url).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (x TEXT)")
        .await
        .unwrap();
    for _ in 0..50 {
        db.execute_unprepared("INSERT INTO t VALUES (hex(randomblob(2000)))")
            .await
            .unwrap();
    }
    let db_file = dir.path().join("c.db");
    let size = || std::fs::metadata(&db_file).unwrap().len();
    let before = size();
    let task = checkpoints(&db, &url).expect("SQLite has a checkpoint task");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(size() > before, "the WAL was copied into the database file");
    let (frames, copied) = checkpoint(&db).await.unwrap();
    assert_eq!(frames, copied, "everything is checkpointed");
    drop(task);
    db.close().await.unwrap();
}

/// A log that grew past the limit is started over, unless a reader of an older snapshot
/// holds on past the restart's short wait (then the next tick tries again).
#[tokio::test]
async fn a_long_wal_is_started_over_once_no_reader_holds_it() {
    use sea_orm::TransactionTrait;
    let dir = crate::test_support::TempDir::new("store");
    let url = dir.sqlite_url("r.db");
    let db = connect(&url).await.unwrap();
    let insert = "INSERT INTO t VALUES (hex(randomblob(2000)))";
    db.execute_unprepared("CREATE TABLE t (x TEXT)")
        .await
        .unwrap();
    let path = sqlite_direct_path(&db, &url)
        .unwrap()
        .expect("a file database");
    let mut restarts = Restarts::new(Some(path));

    // A reader holds an old snapshot while the log grows.
    let reader = db.begin().await.unwrap();
    let _: i64 = first_value(&reader, "SELECT count(*) FROM t").await;
    for _ in 0..20 {
        db.execute_unprepared(insert).await.unwrap();
    }
    let held = checkpoint_once(&db, &mut restarts, 0).await.unwrap();
    assert!(held.frames > 20, "{held:?}");
    assert!(
        held.copied < held.frames,
        "the reader's snapshot is kept: {held:?}"
    );
    assert!(
        !held.restarted,
        "the restart gives up while the reader holds on"
    );
    db.execute_unprepared(insert).await.unwrap();
    let (grown, _) = checkpoint(&db).await.unwrap();
    assert!(grown > held.frames, "the log went on growing");

    // Under the limit only a passive checkpoint runs.
    reader.commit().await.unwrap();
    let passive = checkpoint_once(&db, &mut restarts, i64::MAX).await.unwrap();
    assert!(!passive.restarted);
    assert_eq!(passive.copied, passive.frames);

    // Over it, with no reader left: the next write starts the log over.
    for _ in 0..20 {
        db.execute_unprepared(insert).await.unwrap();
    }
    let done = checkpoint_once(&db, &mut restarts, 0).await.unwrap();
    assert!(done.restarted, "{done:?}");
    db.execute_unprepared(insert).await.unwrap();
    let (frames, _) = checkpoint(&db).await.unwrap();
    assert!(
        frames < 5,
        "the log started over: {frames} frames after one write"
    );
    let rows: i64 = first_value(&db, "SELECT count(*) FROM t").await;
    assert_eq!(rows, 42, "no row lost");
    db.close().await.unwrap();
}
