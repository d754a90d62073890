//! The in-process event bus: the fast path from a worker to the browsers watching.
//!
//! Each run this process is working on (or has just queued) has a [`Live`] entry: its
//! status, the output so far, a numbered history of events and a broadcast channel. A
//! watcher subscribes with the last event id it saw and gets exactly what it missed, or a
//! snapshot when that id is not in this process's history (after a restart, or too old).
//! The store stays the source of truth: a run with no live entry is read from the database.
//!
//! A channel per user carries run summaries for the per-user stream that feeds run lists:
//! an event wakes only that user's watchers, and one user's burst of runs cannot make
//! another's list fall behind.

use super::{apply, EventKind, RunEvent, RunStatus, RunSummary};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// Events a watcher may fall behind before it catches up from the entry's history. Small:
/// the channel's slots are allocated up front for every run in flight (at 256 they were
/// ~12 kB a run, 120 MB at 10,000 runs), and catching up is exact.
const RUN_CHANNEL: usize = 16;
/// Summaries buffered for one user's streams (slots allocated up front, for each user with
/// a stream open). A watcher further behind is told to reload its list.
const USER_CHANNEL: usize = 256;

/// A change to one of a user's runs, for the per-user stream: the run's summary as JSON,
/// serialised once for every watcher.
pub type UserEvent = Arc<str>;

struct State {
    seq: u64,
    /// Seq of the first event in `history` (history holds every event since).
    first_seq: u64,
    status: RunStatus,
    attempts: i32,
    output: String,
    history: Vec<Arc<RunEvent>>,
}

/// A run this process is working on.
pub struct Live {
    pub id: Uuid,
    pub user: Uuid,
    state: Mutex<State>,
    tx: broadcast::Sender<Arc<RunEvent>>,
    cancel: watch::Sender<bool>,
    /// Set when the entry leaves the bus.
    gone: watch::Sender<bool>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding this lock cannot leave the state half-written in a way that
    // matters more than losing the run's events, so keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    fn new(id: Uuid, user: Uuid, status: RunStatus, attempts: i32) -> Self {
        // Ids from an earlier incarnation (another process, fewer attempts) are always
        // below this one's, so a resume with them gets a snapshot, never a wrong replay.
        let base = (attempts.max(0) as u64) << 32;
        Self {
            id,
            user,
            state: Mutex::new(State {
                seq: base,
                first_seq: base + 1,
                status,
                attempts,
                output: String::new(),
                history: Vec::new(),
            }),
            tx: broadcast::channel(RUN_CHANNEL).0,
            cancel: watch::channel(false).0,
            gone: watch::channel(false).0,
        }
    }

    /// Record and broadcast an event; returns it.
    pub fn emit(&self, kind: EventKind) -> Arc<RunEvent> {
        let mut s = lock(&self.state);
        s.seq += 1;
        let (mut status, mut output) = (s.status, std::mem::take(&mut s.output));
        apply(&kind, &mut status, &mut output);
        if let EventKind::Started { attempt } = &kind {
            s.attempts = *attempt;
        }
        s.status = status;
        s.output = output;
        let event = Arc::new(RunEvent {
            seq: s.seq,
            run_id: self.id,
            kind,
        });
        s.history.push(event.clone());
        // Sent under the lock, so a subscriber sees each event once: in its replay or live.
        let _ = self.tx.send(event.clone());
        event
    }

    /// The state now, as one event (numbered with the last event it includes).
    pub fn snapshot(&self) -> Arc<RunEvent> {
        let s = lock(&self.state);
        Arc::new(RunEvent {
            seq: s.seq,
            run_id: self.id,
            kind: EventKind::Snapshot {
                status: s.status,
                attempts: s.attempts,
                output: s.output.clone(),
            },
        })
    }

    /// The output so far.
    pub fn output(&self) -> String {
        lock(&self.state).output.clone()
    }

    /// Length of the output so far, in bytes.
    pub fn output_len(&self) -> usize {
        lock(&self.state).output.len()
    }

    /// What a watcher that last saw `last` has missed, then the live feed.
    pub fn subscribe(
        &self,
        last: Option<u64>,
    ) -> (Vec<Arc<RunEvent>>, broadcast::Receiver<Arc<RunEvent>>) {
        let s = lock(&self.state);
        let rx = self.tx.subscribe();
        let replay = match last {
            // `last <= s.seq` first: then `last + 1` cannot overflow (a client's id can be
            // anything up to u64::MAX).
            Some(last) if last <= s.seq && last + 1 >= s.first_seq => s
                .history
                .iter()
                .skip((last + 1 - s.first_seq) as usize)
                .cloned()
                .collect(),
            _ => vec![Arc::new(RunEvent {
                seq: s.seq,
                run_id: self.id,
                kind: EventKind::Snapshot {
                    status: s.status,
                    attempts: s.attempts,
                    output: s.output.clone(),
                },
            })],
        };
        (replay, rx)
    }

    /// The attempt the entry is on.
    pub fn attempts(&self) -> i32 {
        lock(&self.state).attempts
    }

    /// Ask the worker to stop this run.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// Resolves when cancel was asked.
    pub fn canceled(&self) -> watch::Receiver<bool> {
        self.cancel.subscribe()
    }

    /// Becomes true when the entry leaves the bus (after the final event, or when the
    /// run goes back to the queue).
    pub fn gone(&self) -> watch::Receiver<bool> {
        self.gone.subscribe()
    }
}

/// Live runs and the per-user channels.
pub struct Bus {
    live: Mutex<HashMap<Uuid, Arc<Live>>>,
    /// The channel of each user with a stream open (or open until lately).
    users: Mutex<HashMap<Uuid, broadcast::Sender<UserEvent>>>,
    closing: watch::Sender<bool>,
}

impl Default for Bus {
    fn default() -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            closing: watch::channel(false).0,
        }
    }
}

impl Bus {
    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live entry of a run, if this process is working on it.
    pub fn get(&self, id: Uuid) -> Option<Arc<Live>> {
        self.map().get(&id).cloned()
    }

    /// The live entry of a run, created if missing.
    pub fn open(&self, id: Uuid, user: Uuid, status: RunStatus, attempts: i32) -> Arc<Live> {
        self.map()
            .entry(id)
            .or_insert_with(|| Arc::new(Live::new(id, user, status, attempts)))
            .clone()
    }

    /// Forget a run (after its final event, or when handing it back to the queue).
    pub fn close(&self, id: Uuid) {
        let removed = self.map().remove(&id);
        if let Some(live) = removed {
            live.gone.send_replace(true);
        }
    }

    /// Forget a run only if its entry is still `live` (a newer worker may have replaced it).
    pub fn close_if_same(&self, id: Uuid, live: &Arc<Live>) {
        let removed = {
            let mut map = self.map();
            match map.get(&id) {
                Some(current) if Arc::ptr_eq(current, live) => map.remove(&id),
                _ => None,
            }
        };
        if let Some(live) = removed {
            live.gone.send_replace(true);
        }
    }

    /// Runs this process holds a live entry for.
    pub fn live_count(&self) -> usize {
        self.map().len()
    }

    fn users(&self) -> MutexGuard<'_, HashMap<Uuid, broadcast::Sender<UserEvent>>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tell `user`'s watchers about a run's new state (nothing to do when none watches).
    pub fn publish_user(&self, user: Uuid, run: RunSummary) {
        let tx = {
            let mut users = self.users();
            match users.get(&user) {
                None => return,
                Some(tx) if tx.receiver_count() == 0 => {
                    users.remove(&user);
                    return;
                }
                Some(tx) => tx.clone(),
            }
        };
        let _ = tx.send(serde_json::to_string(&run).unwrap_or_default().into());
    }

    /// Summaries of `user`'s runs from now on.
    pub fn user_events(&self, user: Uuid) -> broadcast::Receiver<UserEvent> {
        let mut users = self.users();
        // Channels whose watchers all left go here (or at their user's next event).
        users.retain(|_, tx| tx.receiver_count() > 0);
        users
            .entry(user)
            .or_insert_with(|| broadcast::channel(USER_CHANNEL).0)
            .subscribe()
    }

    /// Users with a channel (a stream open, or open until lately).
    #[cfg(test)]
    fn user_channels(&self) -> usize {
        self.users().len()
    }

    /// End every event stream (the server is stopping).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the server is stopping.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(t: &str) -> EventKind {
        EventKind::Delta { text: t.into() }
    }

    #[test]
    fn resume_replays_exactly_what_was_missed() {
        let live = Live::new(Uuid::nil(), Uuid::nil(), RunStatus::Queued, 0);
        live.emit(EventKind::Started { attempt: 1 });
        live.emit(delta("a"));
        let seen = live.emit(delta("b")).seq;
        live.emit(delta("c"));
        live.emit(delta("d"));
        let (replay, _rx) = live.subscribe(Some(seen));
        let texts: Vec<_> = replay
            .iter()
            .map(|e| match &e.kind {
                EventKind::Delta { text } => text.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, vec!["c", "d"]);
        assert_eq!(live.output(), "abcd");

        // Up to date: nothing to replay.
        let (replay, _rx) = live.subscribe(Some(seen + 2));
        assert!(replay.is_empty());
    }

    #[test]
    fn unknown_or_missing_ids_get_a_snapshot() {
        let live = Live::new(Uuid::nil(), Uuid::nil(), RunStatus::Running, 2);
        live.emit(EventKind::Started { attempt: 2 });
        live.emit(delta("x"));
        for last in [None, Some(5), Some(u64::MAX - 1), Some(u64::MAX)] {
            let (replay, _rx) = live.subscribe(last);
            assert_eq!(replay.len(), 1);
            match &replay[0].kind {
                EventKind::Snapshot {
                    output,
                    status,
                    attempts,
                } => {
                    assert_eq!(output, "x");
                    assert_eq!(*status, RunStatus::Running);
                    assert_eq!(*attempts, 2);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(replay[0].seq, (2u64 << 32) + 2);
        }
    }

    #[tokio::test]
    async fn live_events_follow_the_replay_without_gaps() {
        let live = Live::new(Uuid::nil(), Uuid::nil(), RunStatus::Queued, 0);
        live.emit(delta("1"));
        let (replay, mut rx) = live.subscribe(Some(0));
        live.emit(delta("2"));
        assert_eq!(replay.len(), 1);
        let next = rx.recv().await.unwrap();
        assert_eq!(next.seq, replay[0].seq + 1);
    }

    fn run_of(user: Uuid) -> RunSummary {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::new_v4(), "project_id": Uuid::new_v4(), "prompt_id": Uuid::new_v4(),
            "prompt_name": "p", "preview": "",
            "version_number": 1, "created_by": user, "provider": "mock", "model": "m",
            "status": "queued", "attempts": 0, "mock": true, "cached": false,
            "run_key": "k", "queued_at": "2026-11-29T00:00:00Z",
        }))
        .expect("a run summary")
    }

    /// Each user's watchers get that user's runs only, and a channel nobody watches any
    /// more is dropped.
    #[tokio::test]
    async fn user_events_reach_that_users_watchers_only() {
        let bus = Bus::default();
        let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let mut ann_1 = bus.user_events(ann);
        let mut ann_2 = bus.user_events(ann);
        let mut bob_1 = bus.user_events(bob);
        let ann_run = run_of(ann);
        bus.publish_user(ann, ann_run.clone());
        for rx in [&mut ann_1, &mut ann_2] {
            let json = rx.try_recv().expect("ann's watchers are told");
            let told: RunSummary = serde_json::from_str(&json).expect("a run summary");
            assert_eq!(told.id, ann_run.id);
        }
        assert!(bob_1.try_recv().is_err(), "bob is not told of ann's run");
        // Nobody watches a third user: nothing is kept for them.
        bus.publish_user(Uuid::new_v4(), run_of(Uuid::new_v4()));
        assert_eq!(bus.user_channels(), 2);
        // Bob leaves: his channel goes at his next event, or at the next subscription.
        drop(bob_1);
        bus.publish_user(bob, run_of(bob));
        assert_eq!(bus.user_channels(), 1);
        drop((ann_1, ann_2));
        let _carl = bus.user_events(Uuid::new_v4());
        assert_eq!(bus.user_channels(), 1);
    }
}
