//! The event streams of runs: one run's events for a watcher (resumable with the last
//! event id, from the live bus or, for runs this process does not hold, from the store),
//! and the per-user stream of run summaries that feeds run lists.
//!
//! Both are polled by the connection that sends them: an event goes from the worker that
//! emits it, through the bus's broadcast channel, straight to the task writing the
//! watcher's response, with no task of the stream's own in between (one wake-up fewer
//! per event on the way to the screen).

use super::{prompt_name, summary};
use crate::accounts::service::Identity;
use crate::engine::Engine;
use crate::error::Result;
use crate::projects::Action;
use crate::runs::bus::Live;
use crate::runs::{EventKind, RunError, RunEvent, RunStatus};
use crate::store::runs;
use futures::stream::BoxStream;
use futures::StreamExt;
use sea_orm::EntityTrait;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
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
    let watcher = Watcher {
        engine: engine.clone(),
        id,
        last,
        live: None,
        stored_snapshot_sent: None,
        stored_final: None,
        rest: false,
        ended: false,
    };
    futures::stream::unfold(
        watcher,
        |mut w| async move { w.next().await.map(|ev| (ev, w)) },
    )
    .take_until(server_closing(engine))
    .boxed()
}

/// Resolves when the server starts closing its streams.
fn server_closing(engine: &Engine) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut closing = engine.runtime().bus.closing();
    async move {
        let _ = closing.wait_for(|c| *c).await;
    }
}

/// One watcher's place in a run's events.
struct Watcher {
    engine: Engine,
    id: Uuid,
    /// The last live event sent (or the watcher's own last id, before any).
    last: Option<u64>,
    /// Following the run on this process's bus.
    live: Option<Following>,
    /// The stored (status, output length) last sent as a snapshot.
    stored_snapshot_sent: Option<(String, usize)>,
    /// The final event read with the snapshot just sent, to send next.
    stored_final: Option<Arc<RunEvent>>,
    /// Wait before the next look at the store (it was just read and the run is not over).
    rest: bool,
    /// The final event was sent, or the run is gone.
    ended: bool,
}

impl Watcher {
    /// The next event for this watcher; `None` once the run ended.
    async fn next(&mut self) -> Option<Arc<RunEvent>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(ev) = self.stored_final.take() {
                self.ended = true;
                return Some(ev);
            }
            if std::mem::take(&mut self.rest) {
                // Queued for a worker that has not claimed it yet, or running elsewhere.
                tokio::time::sleep(STORE_POLL).await;
            }
            if self.live.is_none() {
                if let Some(live) = self.engine.runtime().bus.get(self.id) {
                    self.live = Some(Following::new(live, self.last));
                }
            }
            if let Some(following) = &mut self.live {
                match following.next().await {
                    Next::Event(ev) => {
                        self.ended = ev.kind.is_terminal();
                        return Some(ev);
                    }
                    // The entry went away without a final event (handed back to the
                    // queue): fall back to the store.
                    Next::Closed(seen) => {
                        self.last = seen;
                        self.live = None;
                    }
                }
            }
            if let Some(ev) = self.look_in_store().await {
                return Some(ev);
            }
        }
    }

    /// One read of the stored run: a snapshot when it changed since the last one sent,
    /// then (now or as the next event) the final event when it ended. `None`: nothing new
    /// (look again after a rest, on the bus first), or the run is gone.
    async fn look_in_store(&mut self) -> Option<Arc<RunEvent>> {
        let id = self.id;
        let db = self.engine.db();
        let m = match runs::Entity::find_by_id(id).one(db).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.ended = true;
                return None;
            }
            Err(e) => {
                tracing::warn!(run = %id, error = %e, "reading a run for its watcher");
                self.rest = true;
                return None;
            }
        };
        let status = RunStatus::parse(&m.status).unwrap_or(RunStatus::Failed);
        let last = if status.is_terminal() {
            let name = prompt_name(db, m.prompt_id).await.unwrap_or_default();
            Some(final_event(&m, status, &name))
        } else {
            self.rest = true;
            None
        };
        let key = (m.status.clone(), m.output.len());
        if self.stored_snapshot_sent.as_ref() != Some(&key) {
            self.stored_snapshot_sent = Some(key);
            self.stored_final = last;
            return Some(Arc::new(RunEvent {
                seq: 0,
                run_id: id,
                kind: EventKind::Snapshot {
                    status,
                    attempts: m.attempts,
                    output: m.output,
                },
            }));
        }
        self.ended = last.is_some();
        last
    }
}

/// The final event of a stored run that ended.
fn final_event(m: &runs::Model, status: RunStatus, prompt_name: &str) -> Arc<RunEvent> {
    let s = Box::new(summary(m, prompt_name));
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
    Arc::new(RunEvent {
        seq: 0,
        run_id: m.id,
        kind,
    })
}

enum Next {
    Event(Arc<RunEvent>),
    /// The run left the bus without a final event; the last event id sent.
    Closed(Option<u64>),
}

/// A watcher following a run on the bus: the replay of what it missed, then live events,
/// each once and in order.
struct Following {
    live: Arc<Live>,
    pending: VecDeque<Arc<RunEvent>>,
    rx: broadcast::Receiver<Arc<RunEvent>>,
    gone: watch::Receiver<bool>,
    /// The last event id taken from the channel or the history.
    seen: Option<u64>,
}

impl Following {
    fn new(live: Arc<Live>, last: Option<u64>) -> Self {
        let (replay, rx) = live.subscribe(last);
        // The replay is what came after `last` (or a snapshot, whatever its id).
        let seen = replay.last().map(|ev| ev.seq).or(last);
        Self {
            gone: live.gone(),
            live,
            pending: replay.into(),
            rx,
            seen,
        }
    }

    /// Queue the events after `seen`, advancing it.
    fn take(&mut self, events: impl IntoIterator<Item = Arc<RunEvent>>) {
        for ev in events {
            if self.seen.is_some_and(|s| ev.seq <= s) {
                continue;
            }
            self.seen = Some(ev.seq);
            self.pending.push_back(ev);
        }
    }

    async fn next(&mut self) -> Next {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Next::Event(ev);
            }
            let received = tokio::select! {
                biased;
                r = self.rx.recv() => r,
                _ = self.gone.wait_for(|g| *g) => {
                    // Drain what is already in the channel (the final event among it).
                    match self.rx.try_recv() {
                        Ok(ev) => Ok(ev),
                        Err(_) => return Next::Closed(self.seen),
                    }
                }
            };
            match received {
                Ok(ev) => self.take([ev]),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the (small) channel: the entry's history has every
                    // event, so catch up from it exactly and listen again from there.
                    let (missed, fresh) = self.live.subscribe(self.seen);
                    self.rx = fresh;
                    self.take(missed);
                }
                Err(broadcast::error::RecvError::Closed) => return Next::Closed(self.seen),
            }
        }
    }
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
    let events = engine.runtime().bus.user_events(who.user.id);
    futures::stream::unfold(events, |mut events| async move {
        let item = match events.recv().await {
            Ok(json) => UserStreamItem::Run(json),
            Err(broadcast::error::RecvError::Lagged(_)) => UserStreamItem::Resync,
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((item, events))
    })
    .take_until(server_closing(engine))
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::bus::Bus;

    /// A watcher slower than the run (it does not ask for the next event while hundreds
    /// are emitted) falls behind the bus's small broadcast channel many times over, and
    /// still gets every event once, in order, with no gap.
    #[tokio::test]
    async fn a_lagging_watcher_catches_up_exactly() {
        let bus = Bus::default();
        let live = bus.open(Uuid::new_v4(), Uuid::new_v4(), RunStatus::Queued, 0);
        live.emit(EventKind::Queued);
        let mut following = Following::new(live.clone(), Some(0));
        live.emit(EventKind::Started { attempt: 1 });
        let mut seqs = Vec::new();
        let mut text = String::new();
        let mut n = 0;
        while seqs.len() < 502 {
            // Emit in bursts well past the channel's size, reading a few between them.
            if n < 500 && seqs.len() % 7 == 0 {
                for _ in 0..50 {
                    live.emit(EventKind::Delta {
                        text: format!("{n} "),
                    });
                    n += 1;
                }
            }
            let ev = match tokio::time::timeout(Duration::from_secs(5), following.next()).await {
                Ok(Next::Event(ev)) => ev,
                Ok(Next::Closed(_)) => panic!("the run is still on the bus"),
                Err(_) => panic!("events keep coming"),
            };
            if let EventKind::Delta { text: t } = &ev.kind {
                text.push_str(t);
            }
            seqs.push(ev.seq);
        }
        assert_eq!(seqs, (1..=502).collect::<Vec<u64>>());
        let expected: String = (0..500).map(|n| format!("{n} ")).collect();
        assert_eq!(text, expected);
    }

    /// A run that leaves the bus without a final event (handed back to the queue) ends
    /// the following with the last id sent, after what was already in the channel.
    #[tokio::test]
    async fn a_run_leaving_the_bus_closes_after_its_last_event() {
        let bus = Bus::default();
        let id = Uuid::new_v4();
        let live = bus.open(id, Uuid::new_v4(), RunStatus::Running, 1);
        live.emit(EventKind::Delta { text: "a".into() });
        let mut following = Following::new(live.clone(), None);
        let Next::Event(snapshot) = following.next().await else {
            panic!("a snapshot first");
        };
        assert!(matches!(snapshot.kind, EventKind::Snapshot { .. }));
        let delta = live.emit(EventKind::Delta { text: "b".into() });
        bus.close(id);
        drop(live);
        match following.next().await {
            Next::Event(ev) => assert_eq!(ev.seq, delta.seq),
            Next::Closed(_) => panic!("the event before the close is delivered"),
        }
        match tokio::time::timeout(Duration::from_secs(5), following.next()).await {
            Ok(Next::Closed(seen)) => assert_eq!(seen, Some(delta.seq)),
            _ => panic!("closed after the last event"),
        }
    }
}
