//! Group commit for the run path's writes on SQLite: statements that arrive while another
//! batch is being written are committed together, in one transaction, by whichever caller
//! gets the writer next.
//!
//! SQLite has one writer at a time. Each run makes two writes (its row at start, its final
//! state at the end), and under load dozens of tasks queue for the write lock, each paying
//! for its own transaction: the lock hand-over, the WAL frames for the pages it touched,
//! the commit. Here a caller queues its statement and waits for the writer; the caller
//! that gets it writes everything queued so far and hands each caller its own result.
//! Nobody waits for a batch to fill: a statement that finds the writer free is written at
//! once, alone, so a quiet server adds no latency; batches only form while a write is
//! already in progress.
//!
//! Each statement keeps its own outcome: in SQLite a statement that fails (a unique key
//! taken, say) undoes only itself, and the rest of the transaction goes on. A caller's
//! result is only handed over once the transaction has committed, so nothing is reported
//! written that a crash could lose. If the commit itself fails, every statement in the
//! batch gets that error. On PostgreSQL (many writers, and a failed statement aborts the
//! whole transaction) statements are simply executed one by one.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, QueryResult,
    Statement, StatementBuilder, TransactionTrait,
};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Most statements written in one transaction.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Vec<QueryResult>, DbErr>>;

/// The queue and the writer's turn; one per process, shared by everything that writes runs.
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Vec<(Statement, Reply)>>,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Transactions written, for the tests.
    #[cfg(test)]
    batches: Arc<std::sync::atomic::AtomicUsize>,
}

impl GroupCommit {
    /// Execute `query` (a write with `RETURNING`) and return its first row, committed.
    pub async fn returning_one<M: FromQueryResult>(
        &self,
        db: &DatabaseConnection,
        query: &impl StatementBuilder,
    ) -> Result<Option<M>, DbErr> {
        let rows = self
            .query_all(db, query.build(&db.get_database_backend()))
            .await?;
        rows.first()
            .map(|row| M::from_query_result(row, ""))
            .transpose()
    }

    /// Execute `stmt` and return its rows, committed.
    async fn query_all(
        &self,
        db: &DatabaseConnection,
        stmt: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return db.query_all_raw(stmt).await;
        }
        let (tx, mut rx) = oneshot::channel();
        match self.queue.lock() {
            Ok(mut q) => q.push((stmt, tx)),
            Err(_) => return Err(DbErr::Custom("group commit queue poisoned".into())),
        }
        // Take turns at the writer (tokio's mutex is fair). The holder writes everything
        // queued, so by the time a caller's turn comes its statement is usually done.
        loop {
            let turn = self.writer.clone().lock_owned().await;
            match rx.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(DbErr::Custom("group commit writer went away".into()))
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = match self.queue.lock() {
                Ok(mut q) => {
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect::<Vec<_>>()
                }
                Err(_) => return Err(DbErr::Custom("group commit queue poisoned".into())),
            };
            #[cfg(test)]
            self.batches
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The batch is written by a task of its own, holding the turn, so a caller
            // that goes away mid-write (a client that disconnected) does not abandon the
            // other callers' statements or let a second writer start beside it.
            let db = db.clone();
            let _ = tokio::spawn(async move {
                write(&db, batch).await;
                drop(turn);
            })
            .await;
            // Its own statement was most likely in that batch: done, without queueing
            // for the turn again behind the next batch.
            if let Ok(result) = rx.try_recv() {
                return result;
            }
        }
    }
}

/// Write one batch and answer every caller in it.
async fn write(db: &DatabaseConnection, mut batch: Vec<(Statement, Reply)>) {
    if batch.len() == 1 {
        if let Some((stmt, reply)) = batch.pop() {
            let _ = reply.send(db.query_all_raw(stmt).await);
        }
        return;
    }
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(DbErr::Custom(format!("begin: {message}"))));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for (stmt, reply) in batch {
        results.push(txn.query_all_raw(stmt).await);
        replies.push(reply);
    }
    match txn.commit().await {
        Ok(()) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(DbErr::Custom(format!("commit: {message}"))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{connect, is_unique_violation};
    use sea_orm::{ConnectionTrait, TryGetable};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    async fn sqlite() -> DatabaseConnection {
        let dir = std::env::temp_dir().join(format!("promptlab-gc-{}", uuid::Uuid::new_v4()));
        let db = connect(&format!("sqlite://{}/g.db?mode=rwc", dir.display()))
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .await
            .unwrap();
        db
    }

    fn insert(k: &str, n: i64) -> Statement {
        Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO t (k, n) VALUES (?, ?) RETURNING n",
            [k.into(), n.into()],
        )
    }

    fn returned(rows: &[QueryResult]) -> i64 {
        assert_eq!(rows.len(), 1);
        i64::try_get(&rows[0], "", "n").unwrap()
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

    /// Queue `statements` while the writer is held, so they can only be written together.
    async fn queued_behind_writer(
        gc: &Arc<GroupCommit>,
        db: &DatabaseConnection,
        statements: Vec<Statement>,
    ) -> Vec<Result<Vec<QueryResult>, DbErr>> {
        let held = gc.writer.clone().lock_owned().await;
        let n = statements.len();
        let tasks: Vec<_> = statements
            .into_iter()
            .map(|stmt| {
                let (gc, db) = (gc.clone(), db.clone());
                tokio::spawn(async move { gc.query_all(&db, stmt).await })
            })
            .collect();
        while gc.queue.lock().unwrap().len() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(held);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_lone_statement_is_written_at_once_and_committed() {
        let db = sqlite().await;
        let gc = GroupCommit::default();
        let rows = gc.query_all(&db, insert("a", 7)).await.unwrap();
        assert_eq!(returned(&rows), 7);
        assert_eq!(count(&db).await, 1);
        assert_eq!(gc.batches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statements_queued_behind_a_write_share_one_transaction_and_keep_their_own_rows() {
        let db = sqlite().await;
        let gc = Arc::new(GroupCommit::default());
        let statements = (0..100).map(|i| insert(&format!("k{i}"), i)).collect();
        let results = queued_behind_writer(&gc, &db, statements).await;
        for (i, r) in results.iter().enumerate() {
            assert_eq!(returned(r.as_ref().unwrap()), i as i64);
        }
        // One transaction for all hundred; every caller's waiting turn found its result.
        assert_eq!(gc.batches.load(Ordering::SeqCst), 1);
        assert_eq!(count(&db).await, 100);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_statement_fails_alone_and_the_rest_of_its_batch_commits() {
        let db = sqlite().await;
        gc_insert_ok(&db, "taken").await;
        let gc = Arc::new(GroupCommit::default());
        let results = queued_behind_writer(
            &gc,
            &db,
            vec![insert("x1", 1), insert("taken", 2), insert("x3", 3)],
        )
        .await;
        assert_eq!(gc.batches.load(Ordering::SeqCst), 1);
        assert_eq!(returned(results[0].as_ref().unwrap()), 1);
        assert!(is_unique_violation(results[1].as_ref().unwrap_err()));
        assert_eq!(returned(results[2].as_ref().unwrap()), 3);
        // x1 and x3 are stored beside the earlier row; the refused one left nothing.
        assert_eq!(count(&db).await, 3);
    }

    async fn gc_insert_ok(db: &DatabaseConnection, k: &str) {
        GroupCommit::default()
            .query_all(db, insert(k, 0))
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_callers_each_get_their_own_committed_row() {
        let db = sqlite().await;
        let gc = Arc::new(GroupCommit::default());
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let (gc, db) = (gc.clone(), db.clone());
                tokio::spawn(async move { gc.query_all(&db, insert(&format!("c{i}"), i)).await })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(returned(&t.await.unwrap().unwrap()), i as i64);
        }
        assert_eq!(count(&db).await, 500);
    }

    /// A caller dropped while its lone statement is being written does not keep the
    /// turn: the next statement is written.
    #[tokio::test]
    async fn a_lone_caller_that_goes_away_gives_the_turn_back() {
        let db = sqlite().await;
        let gc = Arc::new(GroupCommit::default());
        let lone = {
            let (gc, db) = (gc.clone(), db.clone());
            let slow = Statement::from_string(
                DatabaseBackend::Sqlite,
                "INSERT INTO t (k, n) SELECT 'slow', count(*) FROM \
                 (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                 SELECT x FROM c) RETURNING n",
            );
            tokio::spawn(async move { gc.query_all(&db, slow).await })
        };
        while !gc.queue.lock().unwrap().is_empty() || gc.writer.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        lone.abort();
        assert!(lone.await.unwrap_err().is_cancelled());
        let next = tokio::time::timeout(
            Duration::from_secs(30),
            gc.query_all(&db, insert("next", 7)),
        )
        .await
        .expect("the turn came back");
        assert_eq!(returned(&next.unwrap()), 7);
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_take_the_batch_with_it() {
        let db = sqlite().await;
        let gc = Arc::new(GroupCommit::default());
        let held = gc.writer.clone().lock_owned().await;
        // The first caller will be the one to write both statements; it is dropped
        // (a client that disconnected) as soon as the write has started.
        let first = {
            let (gc, db) = (gc.clone(), db.clone());
            tokio::spawn(async move { gc.query_all(&db, insert("gone", 1)).await })
        };
        while gc.queue.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let second = {
            let (gc, db) = (gc.clone(), db.clone());
            // Slow on purpose (a recursive count to two million), so the first caller is
            // surely dropped while the batch is being written.
            let slow = Statement::from_string(
                DatabaseBackend::Sqlite,
                "INSERT INTO t (k, n) SELECT 'stays', count(*) - 1999998 FROM \
                 (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) \
                 SELECT x FROM c) RETURNING n",
            );
            tokio::spawn(async move { gc.query_all(&db, slow).await })
        };
        while gc.queue.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(held);
        while !gc.queue.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(returned(&second.await.unwrap().unwrap()), 2);
        assert_eq!(count(&db).await, 2);
    }
}
