//! The event streams of runs: one run's events for a watcher (resumable with the last
//! event id, from the live bus or, for runs this process does not hold, from the store),
//! and the per-user stream of run summaries that feeds run lists.

use super::{prompt_name, summary};
use crate::accounts::service::Identity;
use crate::engine::Engine;
use crate::error::Result;
use crate::projects::Action;
use crate::runs::bus::Live;
use crate::runs::{EventKind, RunError, RunEvent, RunStatus};
use crate::store::runs;
use futures::stream::BoxStream;
use sea_orm::EntityTrait;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How often a watcher of a run this process does not hold re-reads the store.
const STORE_POLL: Duration = Duration::from_millis(500);

/// A run's events for one watcher: what it missed after `last` (or a snapshot), then live
/// events until the final one. Ends early when the server stops.
pub async fn events(
    engine: &Engine,
    who: &Identity,
    id: Uuid,
    last: Option<u64>,
) -> Result<BoxStream<'static, Arc<RunEvent>>> {
    super::authorize_run(engine, who, id, Action::Read).await?;
    Ok(follow_run(engine, id, last))
}

/// The events of a run the caller was already allowed to see (the one it just started),
/// after `last` (`None`: a snapshot first).
pub fn follow_run(
    engine: &Engine,
    id: Uuid,
    last: Option<u64>,
) -> BoxStream<'static, Arc<RunEvent>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Arc<RunEvent>>(64);
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut closing = engine.runtime().bus.closing();
        tokio::select! {
            _ = pump(&engine, id, last, &tx) => {}
            _ = closing.wait_for(|c| *c) => {}
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (ev, rx))
    }))
}

/// Feed one watcher. Returns when the run ended or the watcher left.
async fn pump(
    engine: &Engine,
    id: Uuid,
    mut last: Option<u64>,
    tx: &tokio::sync::mpsc::Sender<Arc<RunEvent>>,
) {
    let bus = &engine.runtime().bus;
    let mut stored_snapshot_sent: Option<(String, usize)> = None;
    loop {
        if let Some(live) = bus.get(id) {
            match follow(&live, last, tx).await {
                Follow::Done => return,
                // The entry went away without a final event (handed back to the queue):
                // fall back to the store.
                Follow::Closed(seen) => last = seen,
            }
        }
        let m = match runs::Entity::find_by_id(id).one(engine.db()).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run = %id, error = %e, "reading a run for its watcher");
                tokio::time::sleep(STORE_POLL).await;
                continue;
            }
        };
        let status = RunStatus::parse(&m.status).unwrap_or(RunStatus::Failed);
        let key = (m.status.clone(), m.output.len());
        if stored_snapshot_sent.as_ref() != Some(&key) {
            let snap = Arc::new(RunEvent {
                seq: 0,
                run_id: id,
                kind: EventKind::Snapshot {
                    status,
                    attempts: m.attempts,
                    output: m.output.clone(),
                },
            });
            if tx.send(snap).await.is_err() {
                return;
            }
            stored_snapshot_sent = Some(key);
        }
        if status.is_terminal() {
            let name = prompt_name(engine.db(), m.prompt_id)
                .await
                .unwrap_or_default();
            let s = Box::new(summary(&m, &name));
            let kind = match status {
                RunStatus::Succeeded => EventKind::Succeeded { run: s },
                RunStatus::Canceled => EventKind::Canceled { run: s },
                _ => {
                    let e = s.error.clone().unwrap_or(RunError {
                        code: "failed".into(),
                        message: String::new(),
                    });
                    EventKind::Failed {
                        code: e.code,
                        message: e.message,
                        run: s,
                    }
                }
            };
            let _ = tx
                .send(Arc::new(RunEvent {
                    seq: 0,
                    run_id: id,
                    kind,
                }))
                .await;
            return;
        }
        if tx.is_closed() {
            return;
        }
        // Queued for a worker that has not claimed it yet, or running elsewhere.
        tokio::time::sleep(STORE_POLL).await;
    }
}

enum Follow {
    Done,
    Closed(Option<u64>),
}

async fn follow(
    live: &Live,
    last: Option<u64>,
    tx: &tokio::sync::mpsc::Sender<Arc<RunEvent>>,
) -> Follow {
    let (replay, mut rx) = live.subscribe(last);
    let mut seen = None;
    if forward(replay, &mut seen, tx).await {
        return Follow::Done;
    }
    let mut seen = seen.or(last);
    let mut gone = live.gone();
    loop {
        let received = tokio::select! {
            biased;
            r = rx.recv() => r,
            _ = gone.wait_for(|g| *g) => {
                // Drain what is already in the channel (the final event among it).
                match rx.try_recv() {
                    Ok(ev) => Ok(ev),
                    Err(_) => return Follow::Closed(seen),
                }
            }
        };
        let done = match received {
            Ok(ev) => forward([ev], &mut seen, tx).await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                // Fell behind the (small) channel: the entry's history has every event,
                // so catch up from it exactly and listen again from there.
                let (missed, fresh) = live.subscribe(seen);
                rx = fresh;
                forward(missed, &mut seen, tx).await
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return Follow::Closed(seen),
        };
        if done {
            return Follow::Done;
        }
    }
}

/// Send the events after `seen` (advancing it); true when the watcher left or the run
/// ended.
async fn forward(
    events: impl IntoIterator<Item = Arc<RunEvent>>,
    seen: &mut Option<u64>,
    tx: &tokio::sync::mpsc::Sender<Arc<RunEvent>>,
) -> bool {
    for ev in events {
        if seen.is_some_and(|s| ev.seq <= s) {
            continue;
        }
        *seen = Some(ev.seq);
        let end = ev.kind.is_terminal();
        if tx.send(ev).await.is_err() || end {
            return true;
        }
    }
    false
}

/// What the per-user stream sends.
#[derive(Debug, Clone)]
pub enum UserStreamItem {
    /// A run summary, as JSON.
    Run(Arc<str>),
    /// Updates were dropped (a slow watcher): reload the list.
    Resync,
}

/// Summaries of the caller's runs as they change.
pub fn user_events(engine: &Engine, who: &Identity) -> BoxStream<'static, UserStreamItem> {
    let user = who.user.id;
    let (tx, rx) = tokio::sync::mpsc::channel::<UserStreamItem>(64);
    let engine = engine.clone();
    tokio::spawn(async move {
        let bus = &engine.runtime().bus;
        let mut events = bus.user_events();
        let mut closing = bus.closing();
        loop {
            let item = tokio::select! {
                _ = closing.wait_for(|c| *c) => return,
                _ = tx.closed() => return,
                r = events.recv() => match r {
                    Ok(ev) if ev.user == user => UserStreamItem::Run(ev.json.clone()),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => UserStreamItem::Resync,
                    Err(_) => return,
                },
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (ev, rx))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::bus::Bus;

    /// A watcher slower than the run (its own channel holds one event) falls behind the
    /// bus's small broadcast channel many times over, and still gets every event once, in
    /// order, with no gap.
    #[tokio::test]
    async fn a_lagging_watcher_catches_up_exactly() {
        let bus = Bus::default();
        let live = bus.open(Uuid::new_v4(), Uuid::new_v4(), RunStatus::Queued, 0);
        live.emit(EventKind::Queued);
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let watcher = {
            let live = live.clone();
            tokio::spawn(async move { follow(&live, Some(0), &tx).await })
        };
        live.emit(EventKind::Started { attempt: 1 });
        for n in 0..500 {
            live.emit(EventKind::Delta {
                text: format!("{n} "),
            });
            if n % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let mut seqs = Vec::new();
        let mut text = String::new();
        while seqs.len() < 502 {
            let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("events keep coming")
                .expect("watcher alive");
            if let EventKind::Delta { text: t } = &ev.kind {
                text.push_str(t);
            }
            seqs.push(ev.seq);
        }
        watcher.abort();
        assert_eq!(seqs, (1..=502).collect::<Vec<u64>>());
        let expected: String = (0..500).map(|n| format!("{n} ")).collect();
        assert_eq!(text, expected);
    }
}
