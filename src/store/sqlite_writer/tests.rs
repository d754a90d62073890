//! The writer against a real SQLite file, beside the sqlx pool that shares it.

use super::*;
use crate::store::{connect, is_unique_violation};
use chrono::SubsecRound;
use chrono::{DateTime, Utc};
use sea_orm::Value;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, TryGetable};
use std::sync::atomic::Ordering;

mod recovery;

/// A migrated database file, its pool, and a writer on it.
async fn setup() -> (DatabaseConnection, Writer, crate::test_support::TempDir) {
    let dir = crate::test_support::TempDir::new("w");
    let file = dir.path().join("w.db");
    let db = connect(&dir.sqlite_url("w.db")).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        .await
        .unwrap();
    let writer = Writer::open(&file).await.unwrap();
    (db, writer, dir)
}

fn insert(k: &str, n: i64) -> Statement {
    Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "INSERT INTO t (k, n) VALUES (?, ?) RETURNING n",
        [k.into(), n.into()],
    )
}

fn returned(rows: &[Row]) -> i64 {
    assert_eq!(rows.len(), 1);
    rows[0].get("n").unwrap()
}

async fn count(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT count(*) AS c FROM t",
        ))
        .await
        .unwrap()
        .unwrap();
    i64::try_get(&row, "", "c").unwrap()
}

/// The database's write lock, taken from the pool (by a transaction that inserted the
/// row `lock`) and held until `release`.
struct HeldLock {
    release: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

async fn hold_write_lock(db: &DatabaseConnection) -> HeldLock {
    let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
    txn.execute_unprepared("INSERT INTO t (k, n) VALUES ('lock', -1)")
        .await
        .unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let _ = released.await;
        txn.commit().await.unwrap();
    });
    HeldLock { release, done }
}

impl HeldLock {
    async fn release(self) {
        let _ = self.release.send(());
        self.done.await.unwrap();
    }
}

/// Start `stmt` and wait until the writer has taken it: it is now waiting for the lock.
async fn stuck_on(writer: &Arc<Writer>, stmt: Statement) -> tokio::task::JoinHandle<Rows> {
    let before = writer.batches.load(Ordering::SeqCst);
    let task = spawn_writes(writer, vec![stmt]).remove(0);
    while writer.batches.load(Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task
}

/// Wait until `n` statements in all have been handed to the writer.
async fn until_sent(writer: &Writer, n: usize) {
    while writer.sent.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn spawn_writes(
    writer: &Arc<Writer>,
    statements: Vec<Statement>,
) -> Vec<tokio::task::JoinHandle<Rows>> {
    statements
        .into_iter()
        .map(|stmt| {
            let w = writer.clone();
            tokio::spawn(async move { w.write(stmt).await })
        })
        .collect()
}

#[tokio::test]
async fn a_lone_statement_is_written_at_once_and_committed() {
    let (db, writer, _dir) = setup().await;
    let rows = writer.write(insert("a", 7)).await.unwrap();
    assert_eq!(returned(&rows), 7);
    // Committed: the pool's connections see it.
    assert_eq!(count(&db).await, 1);
    assert_eq!(writer.batches.load(Ordering::SeqCst), 1);
}

/// The WAL hook notes the log's length after each of the writer connection's commits, on
/// the committing thread: it grows with each write and starts again with the log.
#[tokio::test]
async fn the_writers_commits_note_the_logs_length() {
    let (_db, _writer, dir) = setup().await;
    let mut conn = connection::Connection::open(&dir.path().join("w.db")).unwrap();
    let frames = || wal::WAL_FRAMES.with(|n| n.get());
    let mut exec = |sql: &str| {
        conn.execute(&Statement::from_string(DatabaseBackend::Sqlite, sql))
            .unwrap()
    };
    exec("INSERT INTO t (k, n) VALUES ('a', 1)");
    let one = frames();
    assert!(one > 0);
    exec("INSERT INTO t (k, n) VALUES ('b', 2)");
    let two = frames();
    assert!(two > one, "{two} frames after two commits, {one} after one");
    exec("PRAGMA wal_checkpoint(TRUNCATE)");
    exec("INSERT INTO t (k, n) VALUES ('c', 3)");
    assert!(
        frames() > 0 && frames() < two,
        "{} frames in a new log",
        frames()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_arrive_during_a_write_share_one_transaction_and_keep_their_own_rows() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    let lock = hold_write_lock(&db).await;
    let first = stuck_on(&writer, insert("first", 1000)).await;
    let tasks = spawn_writes(
        &writer,
        (0..100).map(|i| insert(&format!("k{i}"), i)).collect(),
    );
    until_sent(&writer, 101).await;
    lock.release().await;
    assert_eq!(returned(&first.await.unwrap().unwrap()), 1000);
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(returned(&t.await.unwrap().unwrap()), i as i64);
    }
    // The first one alone, then all hundred in one transaction.
    assert_eq!(writer.batches.load(Ordering::SeqCst), 2);
    assert_eq!(count(&db).await, 102);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_fails_alone_and_the_rest_of_its_batch_commits() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    writer.write(insert("taken", 0)).await.unwrap();
    let lock = hold_write_lock(&db).await;
    let first = stuck_on(&writer, insert("first", 1000)).await;
    let tasks = spawn_writes(
        &writer,
        vec![insert("x1", 1), insert("taken", 2), insert("x3", 3)],
    );
    until_sent(&writer, 5).await;
    lock.release().await;
    first.await.unwrap().unwrap();
    let results: Vec<Rows> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(writer.batches.load(Ordering::SeqCst), 3);
    assert_eq!(returned(results[0].as_ref().unwrap()), 1);
    // Reported the way sqlx reports it, so the run path's check reads it.
    assert!(is_unique_violation(results[1].as_ref().unwrap_err()));
    assert_eq!(returned(results[2].as_ref().unwrap()), 3);
    // taken, lock, first, x1, x3.
    assert_eq!(count(&db).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_callers_each_get_their_own_committed_row() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    let tasks = spawn_writes(
        &writer,
        (0..500).map(|i| insert(&format!("c{i}"), i)).collect(),
    );
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(returned(&t.await.unwrap().unwrap()), i as i64);
    }
    assert_eq!(count(&db).await, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_goes_away_does_not_take_its_write_or_the_others_with_it() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    let lock = hold_write_lock(&db).await;
    let first = stuck_on(&writer, insert("first", 1000)).await;
    let gone = spawn_writes(&writer, vec![insert("gone", 1)]).remove(0);
    let stays = spawn_writes(&writer, vec![insert("stays", 2)]).remove(0);
    // Both are queued; the first caller goes away before anything is written.
    until_sent(&writer, 3).await;
    gone.abort();
    assert!(gone.await.unwrap_err().is_cancelled());
    lock.release().await;
    first.await.unwrap().unwrap();
    assert_eq!(returned(&stays.await.unwrap().unwrap()), 2);
    // lock, first, gone (written all the same) and stays.
    assert_eq!(count(&db).await, 4);
    // And the writer goes on.
    assert_eq!(returned(&writer.write(insert("next", 3)).await.unwrap()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_another_connections_write_lock() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    let lock = hold_write_lock(&db).await;
    let w = stuck_on(&writer, insert("w", 2)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!w.is_finished());
    lock.release().await;
    assert_eq!(returned(&w.await.unwrap().unwrap()), 2);
    assert_eq!(count(&db).await, 2);
}

#[test]
fn a_busy_write_retries_quickly_then_every_millisecond_for_five_seconds() {
    assert_eq!(busy_pause(Duration::ZERO), Some(BUSY_RETRY));
    assert_eq!(busy_pause(Duration::from_micros(1999)), Some(BUSY_RETRY));
    assert_eq!(busy_pause(BUSY_QUICK), Some(Duration::from_millis(1)));
    assert_eq!(
        busy_pause(Duration::from_millis(4999)),
        Some(Duration::from_millis(1))
    );
    assert_eq!(busy_pause(BUSY_TIMEOUT), None);
}

/// Every kind of value the store writes, bound here and through sqlx, stores the same
/// bytes: a row written by either matches the other's values in a query, and reads back
/// the same through either.
#[tokio::test]
async fn values_are_stored_as_sqlx_stores_them() {
    let (db, writer, _dir) = setup().await;
    db.execute_unprepared(
        "CREATE TABLE v (src TEXT PRIMARY KEY, id uuid_text NOT NULL, at timestamp_with_timezone_text, \
         maybe_at timestamp_with_timezone_text, flag boolean NOT NULL, i integer, big bigint, \
         f double, s text, none text, j json_text)",
    )
    .await
    .unwrap();
    let id = uuid::Uuid::new_v4();
    // Nanoseconds as the clock gives them, and a whole second (sqlx prints no fraction).
    let at = Utc::now();
    let whole = at.trunc_subsecs(0);
    let values = |src: &str| -> Vec<Value> {
        vec![
            src.into(),
            id.into(),
            at.into(),
            Some(whole).into(),
            true.into(),
            (-7i32).into(),
            (1i64 << 40).into(),
            0.1f64.into(),
            "tëxt 'quoted'".into(),
            Option::<String>::None.into(),
            serde_json::json!({"a": [1, "b"]}).into(),
        ]
    };
    let sql = "INSERT INTO v (src, id, at, maybe_at, flag, i, big, f, s, none, j) \
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *";
    let written = writer
        .write(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            sql,
            values("writer"),
        ))
        .await
        .unwrap();
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        sql,
        values("pool"),
    ))
    .await
    .unwrap();
    // The same stored bytes: a query bound by sqlx finds both rows, column by column.
    for (col, v) in ["id", "at", "maybe_at", "flag", "i", "big", "f", "s", "j"]
        .iter()
        .zip(
            values("")
                .into_iter()
                .skip(1)
                .filter(|v| !matches!(v, Value::String(None))),
        )
    {
        let found = db
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                format!("SELECT src FROM v WHERE {col} = ? AND typeof({col}) = (SELECT typeof({col}) FROM v WHERE src = 'pool')"),
                [v],
            ))
            .await
            .unwrap();
        assert_eq!(found.len(), 2, "column {col}: the two rows differ");
    }
    // Read back through this module, both rows give the values written.
    let pool_row = writer
        .write(Statement::from_string(
            DatabaseBackend::Sqlite,
            "UPDATE v SET s = s WHERE src = 'pool' RETURNING *",
        ))
        .await
        .unwrap();
    for rows in [&written, &pool_row] {
        let r = &rows[0];
        assert_eq!(r.get::<uuid::Uuid>("id").unwrap(), id);
        assert_eq!(r.get::<DateTime<Utc>>("at").unwrap(), at);
        assert_eq!(
            r.get::<Option<DateTime<Utc>>>("maybe_at").unwrap(),
            Some(whole)
        );
        assert!(r.get::<bool>("flag").unwrap());
        assert_eq!(r.get::<i32>("i").unwrap(), -7);
        assert_eq!(r.get::<i64>("big").unwrap(), 1 << 40);
        assert_eq!(r.get::<f64>("f").unwrap(), 0.1);
        assert_eq!(r.get::<String>("s").unwrap(), "tëxt 'quoted'");
        assert_eq!(r.get::<Option<String>>("none").unwrap(), None);
        assert!(r.get::<i32>("s").is_err());
        assert!(r.get::<i32>("missing").is_err());
    }
    // And through sqlx, the writer's row decodes to the same values.
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT * FROM v WHERE src = 'writer'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(uuid::Uuid::try_get(&row, "", "id").unwrap(), id);
    assert_eq!(DateTime::<Utc>::try_get(&row, "", "at").unwrap(), at);
    assert!(bool::try_get(&row, "", "flag").unwrap());
    assert_eq!(
        serde_json::Value::try_get(&row, "", "j").unwrap(),
        serde_json::json!({"a": [1, "b"]})
    );
}
