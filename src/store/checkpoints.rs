//! SQLite's WAL checkpoints, off the request path: every connection is opened with
//! automatic checkpoints off, and a task the engine holds does them.

use super::{sqlite_direct_path, sqlite_path, sqlite_writer};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use std::time::Duration;

/// How often the WAL is checkpointed. Short, so each checkpoint has little to copy and
/// sync: under 500 runs/s on disk, checkpoints every 100 ms took 2 ms at p50 and 3 ms at
/// p90 against 4 and 12 ms every 500 ms. On a quiet machine the runs' time to first token
/// p99 added fell by 0.25–0.5 ms with it, and every 2 s doubled it; on a noisier one the
/// two periods could not be told apart (bench/ANALYSIS.md, round at `858c15c`).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL frames (pages) after which a checkpoint also starts the log over: 64 MB of 4 kB
/// pages. Holding writes back costs the tail (bench/ANALYSIS.md): at 4,096 frames, a
/// restart at almost every tick under 500 runs/s doubled the run writes' p99.
const RESTART_AFTER_FRAMES: i64 = 16_384;

/// Copy the SQLite WAL into the database file every [`CHECKPOINT_EVERY`], in a task of
/// its own, so no request's commit pays for it (connections are opened with automatic
/// checkpoints off). `PASSIVE`: it never waits for readers or blocks writers; what it
/// cannot copy now is copied the next time. A tick where the WAL file has not changed
/// since the last checkpoint does nothing (an idle server runs no query).
///
/// A log starts over only when a write finds all of it copied, and under sustained writes
/// (hundreds a second) some write lands during every passive checkpoint: the WAL would
/// grow as long as the load lasts (by 1.5 GB in one benchmark run, bench/ANALYSIS.md).
/// So when a passive checkpoint leaves more than [`RESTART_AFTER_FRAMES`] frames in the
/// log, a `RESTART` checkpoint follows at once, on a connection of the task's own: it
/// holds writes back while it copies what came since the passive one and syncs (a few
/// milliseconds), then the next write starts the log over. It waits at most 50 ms for a
/// lock or an older reader, and otherwise gives up until the next tick.
///
/// Returns `None` on PostgreSQL and for an in-memory database. The task ends when the
/// pool is closed or the handle is dropped.
pub fn checkpoints(db: &DatabaseConnection, url: &str) -> Option<Checkpoints> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return None;
    }
    let file = sqlite_path(url)?;
    let wal = std::path::PathBuf::from(format!("{file}-wal"));
    let mut restarts = Restarts::new(sqlite_direct_path(db, url).ok().flatten());
    let db = db.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut last = None;
        loop {
            tick.tick().await;
            let now = std::fs::metadata(&wal)
                .ok()
                .map(|m| (m.len(), m.modified().ok()));
            if now.is_none() || now == last {
                continue;
            }
            let started = std::time::Instant::now();
            match checkpoint_once(&db, &mut restarts, RESTART_AFTER_FRAMES).await {
                Ok(done) => {
                    last = now;
                    tracing::debug!(target: "promptlab::timing", frames = done.frames, copied = done.copied, restarted = done.restarted, checkpoint_us = started.elapsed().as_micros() as u64, "checkpoint");
                }
                Err(DbErr::ConnectionAcquire(_)) => return, // the pool was closed
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
            }
        }
    });
    Some(Checkpoints(task))
}

/// What one tick of the checkpoint task did.
#[derive(Debug)]
struct Checkpointed {
    /// Frames in the WAL at the passive checkpoint.
    frames: i64,
    /// Frames copied into the database file by it.
    copied: i64,
    /// A `RESTART` checkpoint followed and completed: the next write starts the log over.
    restarted: bool,
}

/// A passive checkpoint through the pool, then a `RESTART` one when the log holds more
/// than `restart_after` frames.
async fn checkpoint_once(
    db: &DatabaseConnection,
    restarts: &mut Restarts,
    restart_after: i64,
) -> Result<Checkpointed, DbErr> {
    let (frames, copied) = checkpoint(db).await?;
    let restarted = frames > restart_after && restarts.restart().await;
    Ok(Checkpointed {
        frames,
        copied,
        restarted,
    })
}

/// One passive checkpoint: (WAL frames, frames copied into the database file).
async fn checkpoint(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("wal_checkpoint returned no row".into()))?;
    Ok((row.try_get_by_index(1)?, row.try_get_by_index(2)?))
}

/// The checkpoint task's own connection for `RESTART` checkpoints, opened when first
/// needed and again after an error. None for a database the run path's own connections
/// do not open (`sqlite_direct_path`): its WAL is left to passive checkpoints.
struct Restarts {
    path: Option<std::path::PathBuf>,
    conn: Option<sqlite_writer::Connection>,
}

impl Restarts {
    fn new(path: Option<std::path::PathBuf>) -> Self {
        Self { path, conn: None }
    }

    /// Run one `RESTART` checkpoint off the async threads; true when it completed.
    async fn restart(&mut self) -> bool {
        let Some(path) = self.path.clone() else {
            return false;
        };
        let conn = self.conn.take();
        let done = tokio::task::spawn_blocking(move || {
            let conn = match conn {
                Some(c) => c,
                None => sqlite_writer::Connection::open_checkpointer(&path)?,
            };
            let restarted = conn.checkpoint_restart();
            Ok::<_, sqlite_writer::SqliteError>((restarted, conn))
        })
        .await;
        match done {
            Ok(Ok((Ok(restarted), conn))) => {
                self.conn = Some(conn);
                restarted
            }
            Ok(Ok((Err(e), conn))) => {
                tracing::warn!(error = %e, "WAL restart checkpoint failed; retrying");
                if !conn.broken.get() {
                    self.conn = Some(conn);
                }
                false
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "opening the WAL restart connection failed; retrying");
                false
            }
            Err(_) => false,
        }
    }
}

/// The checkpoint task; it stops when this is dropped.
pub struct Checkpoints(tokio::task::JoinHandle<()>);

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
