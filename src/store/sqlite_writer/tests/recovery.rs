//! The writer when things go wrong: closing with writes queued, a transaction left
//! open, bad statements, a file missing or moved away, a panic; and readiness.

use super::*;

#[tokio::test]
async fn closing_writes_what_was_handed_over_then_refuses() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    let lock = hold_write_lock(&db).await;
    let first = stuck_on(&writer, insert("first", 1)).await;
    let queued = spawn_writes(&writer, vec![insert("queued", 2)]).remove(0);
    until_sent(&writer, 2).await;
    let closing = {
        let w = writer.clone();
        tokio::spawn(async move { w.close().await })
    };
    lock.release().await;
    closing.await.unwrap();
    assert_eq!(returned(&first.await.unwrap().unwrap()), 1);
    assert_eq!(returned(&queued.await.unwrap().unwrap()), 2);
    assert!(writer.write(insert("late", 3)).await.is_err());
    assert_eq!(count(&db).await, 3);
}

/// A transaction left open on the writer's connection (here by a statement that opens
/// one) is rolled back before the next write, which is then really committed.
#[tokio::test]
async fn a_transaction_left_open_is_ended_before_the_next_write() {
    let (db, writer, _dir) = setup().await;
    let begin = Statement::from_string(DatabaseBackend::Sqlite, "BEGIN");
    writer.write(begin).await.unwrap();
    assert_eq!(
        returned(&writer.write(insert("after", 1)).await.unwrap()),
        1
    );
    // Visible to the pool: committed, not waiting inside the open transaction.
    assert_eq!(count(&db).await, 1);
}

#[tokio::test]
async fn a_file_that_is_not_there_is_an_error_at_open() {
    let dir = crate::test_support::TempDir::new("w");
    assert!(Writer::open(&dir.path().join("missing.db")).await.is_err());
}

#[tokio::test]
async fn bad_statements_are_errors_and_the_writer_goes_on() {
    let (_db, writer, _dir) = setup().await;
    let syntax = Statement::from_string(DatabaseBackend::Sqlite, "INSERT INTO nowhere VALUES (1)");
    assert!(writer.write(syntax).await.is_err());
    let two = Statement::from_string(DatabaseBackend::Sqlite, "SELECT 1; SELECT 2");
    assert!(writer.write(two).await.is_err());
    let short = Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "INSERT INTO t (k, n) VALUES (?, ?)",
        [1.into()],
    );
    assert!(writer.write(short).await.is_err());
    let not_null = Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "INSERT INTO t (k, n) VALUES (?, ?)",
        ["k".into(), Option::<i64>::None.into()],
    );
    assert!(writer.write(not_null).await.is_err());
    assert_eq!(returned(&writer.write(insert("ok", 5)).await.unwrap()), 5);
}

/// Readiness asks the thread through the writes' queue: it answers once what was sent
/// before is written, so not while a write waits for another connection's lock; and a
/// closed writer is not alive.
#[tokio::test]
async fn alive_answers_after_the_writes_sent_before_and_not_once_closed() {
    let (db, writer, _dir) = setup().await;
    let writer = Arc::new(writer);
    assert!(writer.alive(Duration::from_secs(5)).await);
    let lock = hold_write_lock(&db).await;
    let stuck = stuck_on(&writer, insert("stuck", 1)).await;
    assert!(!writer.alive(Duration::from_millis(100)).await);
    lock.release().await;
    assert_eq!(returned(&stuck.await.unwrap().unwrap()), 1);
    assert!(writer.alive(Duration::from_secs(5)).await);
    writer.close().await;
    assert!(!writer.alive(Duration::from_secs(5)).await);
}

/// The database file moved away under a running writer: the write fails, the connection
/// cannot be opened again, and readiness says so; once the file is back, a readiness check
/// reopens it and writes go on, with what was written before still there.
#[tokio::test]
async fn a_moved_file_makes_the_writer_unavailable_until_it_is_back() {
    let (db, writer, dir) = setup().await;
    assert_eq!(
        returned(&writer.write(insert("before", 1)).await.unwrap()),
        1
    );
    let (file, away) = (dir.path().join("w.db"), dir.path().join("away.db"));
    std::fs::rename(&file, &away).unwrap();
    assert!(writer.write(insert("moved", 2)).await.is_err());
    assert!(!writer.alive(Duration::from_secs(5)).await);
    assert!(writer.write(insert("still moved", 3)).await.is_err());
    std::fs::rename(&away, &file).unwrap();
    assert!(writer.alive(Duration::from_secs(5)).await);
    assert_eq!(
        returned(&writer.write(insert("after", 4)).await.unwrap()),
        4
    );
    assert_eq!(count(&db).await, 2);
}

/// A connection SQLite could open only read-only (as it does when opening for writing
/// fails and the read-only try finds the file: a reopening racing the file's return) is
/// refused for writing, so the writer keeps trying instead of failing every write with
/// `SQLITE_READONLY`; a read-write one is taken.
#[tokio::test]
async fn a_connection_opened_read_only_is_refused_for_writing() {
    let (_db, writer, dir) = setup().await;
    let file = dir.path().join("w.db");
    let read_only = Connection::open_with(&file, libsqlite3_sys::SQLITE_OPEN_READONLY).unwrap();
    let refused = read_only.writable().err().unwrap();
    assert_eq!(refused.code, libsqlite3_sys::SQLITE_READONLY);
    assert!(refused.message.contains("read-only"));
    let read_write = Connection::open_with(&file, libsqlite3_sys::SQLITE_OPEN_READWRITE).unwrap();
    assert!(read_write.writable().is_ok());
    writer.close().await;
}

/// A batch that panics: its callers get an error (their replies are dropped), the thread
/// opens a new connection and goes on, and the rows written before are still there.
#[tokio::test]
async fn a_batch_that_panics_fails_its_callers_and_the_writer_goes_on() {
    let (db, writer, _dir) = setup().await;
    assert_eq!(
        returned(&writer.write(insert("before", 1)).await.unwrap()),
        1
    );
    writer.panic_next.store(true, Ordering::SeqCst);
    assert!(writer.write(insert("panics", 2)).await.is_err());
    assert!(writer.alive(Duration::from_secs(5)).await);
    assert_eq!(
        returned(&writer.write(insert("after", 3)).await.unwrap()),
        3
    );
    assert_eq!(count(&db).await, 2);
}
