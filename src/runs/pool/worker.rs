//! One worker: executes a claimed run to its end. Per attempt a first-byte and a total
//! deadline; deltas go to the run's live entry; retryable failures back off (the
//! provider's `Retry-After` first), permanent ones fail; cancel keeps the partial output.
//! Every write is fenced by lease owner and attempt number, so a worker that lost its
//! run (a stalled heartbeat, then a re-claim) can never overwrite the new attempt.

mod finish;

use super::{chat_request, Executing, Opening};
use crate::config::RunSettings;
use crate::engine::Engine;
use crate::providers::{ChatRequest, Delta, DeltaStream, Provider, ProviderError, Retry, Usage};
use crate::runs::bus::Live;
use crate::runs::service::summary;
use crate::runs::{codes, EventKind, RunParams, RunStatus};
use crate::store::runs;
use crate::versions::Message;
use chrono::Utc;
pub(super) use finish::fail_after_panic;
use finish::{finish, End};
use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

/// Longest `Retry-After` honoured; longer asks are capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How one attempt went.
enum Outcome {
    Done(Done),
    Failed(Failure),
    Canceled,
}

struct Done {
    usage: Option<Usage>,
    provider_model: Option<String>,
    ttft: Option<Duration>,
    elapsed: Duration,
}

struct Failure {
    code: &'static str,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    elapsed: Duration,
}

fn classify(e: ProviderError, elapsed: Duration) -> Failure {
    let code = match e.status {
        Some(429) => codes::RATE_LIMITED,
        Some(401) | Some(403) => codes::PROVIDER_AUTH,
        Some(s) if s >= 500 => codes::PROVIDER_UNAVAILABLE,
        Some(_) => codes::PROVIDER_REJECTED,
        None if e.retry == Retry::Retryable => codes::CONNECTION_ERROR,
        None => codes::PROVIDER_PROTOCOL,
    };
    Failure {
        code,
        message: without_nul(e.message),
        retryable: e.retry == Retry::Retryable,
        retry_after: e.retry_after,
        elapsed,
    }
}

/// `s` with each NUL character (U+0000) replaced by U+FFFD. A provider's text is
/// untrusted, and PostgreSQL cannot store a NUL in a text column: the run's final write
/// would fail. The same text is streamed and stored, on either database.
fn without_nul(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

fn timeout(what: &str, limit: Duration, elapsed: Duration) -> Failure {
    Failure {
        code: codes::TIMEOUT,
        message: format!("{what} within {} ms", limit.as_millis()),
        retryable: true,
        retry_after: None,
        elapsed,
    }
}

/// The provider's answer: to the request opened at the run's start, if it was, else to
/// `request` sent now.
async fn open(
    client: &dyn Provider,
    request: ChatRequest,
    opened: Option<Opening>,
) -> Result<DeltaStream, ProviderError> {
    match opened {
        Some(o) => o.response().await,
        None => client.stream(request).await,
    }
}

/// Stream one attempt into the live entry. Its deadlines count from when its request was
/// sent: now, or at the run's start when it was opened early.
async fn attempt(
    client: &dyn Provider,
    request: ChatRequest,
    opened: Option<Opening>,
    live: &Live,
    settings: &RunSettings,
    cancel: &mut watch::Receiver<bool>,
) -> Outcome {
    let t0 = opened.as_ref().map_or_else(Instant::now, Opening::since);
    let total_deadline = t0 + settings.total_timeout;
    let first_deadline = (t0 + settings.first_byte_timeout).min(total_deadline);
    let mut stream = tokio::select! {
        biased;
        _ = cancel.wait_for(|c| *c) => return Outcome::Canceled,
        r = tokio::time::timeout_at(first_deadline, open(client, request, opened)) => match r {
            Err(_) => return Outcome::Failed(timeout("no response", settings.first_byte_timeout, t0.elapsed())),
            Ok(Err(e)) => return Outcome::Failed(classify(e, t0.elapsed())),
            Ok(Ok(s)) => s,
        },
    };
    let mut first = false;
    let mut done = Done {
        usage: None,
        provider_model: None,
        ttft: None,
        elapsed: Duration::ZERO,
    };
    loop {
        let deadline = if first {
            total_deadline
        } else {
            first_deadline
        };
        let item = tokio::select! {
            biased;
            _ = cancel.wait_for(|c| *c) => return Outcome::Canceled,
            r = tokio::time::timeout_at(deadline, stream.next()) => match r {
                Err(_) if first => return Outcome::Failed(timeout("the answer did not finish", settings.total_timeout, t0.elapsed())),
                Err(_) => return Outcome::Failed(timeout("no first token", settings.first_byte_timeout, t0.elapsed())),
                Ok(None) => break,
                Ok(Some(item)) => item,
            },
        };
        first = true;
        match item {
            Err(e) => return Outcome::Failed(classify(e, t0.elapsed())),
            Ok(Delta::Model(m)) => {
                done.provider_model = Some(without_nul(m.chars().take(200).collect()))
            }
            Ok(Delta::Text(text)) => {
                let text = without_nul(text);
                if done.ttft.is_none() {
                    let ttft = t0.elapsed();
                    done.ttft = Some(ttft);
                    tracing::debug!(target: "promptlab::timing", ttft_us = ttft.as_micros() as u64, "first token");
                }
                live.emit(EventKind::Delta { text });
            }
            Ok(Delta::Usage(u)) => {
                done.usage = Some(u);
                live.emit(EventKind::Usage {
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                });
            }
        }
    }
    done.elapsed = t0.elapsed();
    Outcome::Done(done)
}

/// Execute one claimed run to its end (or until it is handed back). `opening` is its
/// provider request if the start sent it already; the first attempt reads its answer.
pub(super) async fn execute(
    engine: &Engine,
    m: runs::Model,
    mut opening: Option<Opening>,
    executing: &Executing,
) {
    let runtime = engine.runtime();
    let settings = &engine.config().runs;
    let live = runtime
        .bus
        .open(m.id, m.created_by, RunStatus::Running, m.attempts);
    if let Ok(mut map) = executing.lock() {
        map.insert(m.id, live.clone());
    }
    // The database calls here are boxed: inline, their futures (several kB) would be part
    // of this task for as long as the run streams, once per run in flight.
    let name = Box::pin(runtime.prompt_name(engine, m.prompt_id)).await;
    let mut attempt_no = m.attempts;
    live.emit(EventKind::Started {
        attempt: attempt_no,
    });
    runtime.bus.publish_user(m.created_by, summary(&m, &name));

    let end = match request_for(engine, &m) {
        Err(f) => End::Failed(f),
        Ok((client, request)) => {
            let mut cancel = live.canceled();
            loop {
                let opened = opening.take();
                match attempt(
                    &*client,
                    request.clone(),
                    opened,
                    &live,
                    settings,
                    &mut cancel,
                )
                .await
                {
                    Outcome::Done(d) => break End::Succeeded(d),
                    Outcome::Canceled => break End::Canceled,
                    Outcome::Failed(f) if f.retryable && attempt_no < settings.max_attempts => {
                        let delay = f
                            .retry_after
                            .map(|d| d.min(MAX_RETRY_AFTER))
                            .unwrap_or_else(|| settings.backoff_before(attempt_no + 1));
                        live.emit(EventKind::Retrying {
                            attempt: attempt_no + 1,
                            delay_ms: delay.as_millis() as u64,
                            code: f.code.to_owned(),
                            message: f.message.clone(),
                        });
                        tracing::info!(run = %m.id, attempt = attempt_no, code = f.code, delay_ms = delay.as_millis() as u64, "retrying run");
                        let canceled = tokio::select! {
                            _ = tokio::time::sleep(delay) => false,
                            _ = cancel.wait_for(|c| *c) => true,
                        };
                        if canceled {
                            break End::Canceled;
                        }
                        attempt_no += 1;
                        match Box::pin(next_attempt(engine, m.id, attempt_no)).await {
                            Ok(true) => {}
                            Ok(false) => break End::Lost,
                            Err(e) => {
                                tracing::warn!(run = %m.id, error = %e, "recording a retry failed");
                                break End::Lost;
                            }
                        }
                        live.emit(EventKind::Started {
                            attempt: attempt_no,
                        });
                    }
                    Outcome::Failed(f) => break End::Failed(f),
                }
            }
        }
    };
    let ended = Instant::now();
    Box::pin(finish(engine, &m, &name, &live, attempt_no, end)).await;
    tracing::debug!(target: "promptlab::timing", run = %m.id, finish_us = ended.elapsed().as_micros() as u64, "run ended and told");
    if let Ok(mut map) = executing.lock() {
        if map.get(&m.id).is_some_and(|l| Arc::ptr_eq(l, &live)) {
            map.remove(&m.id);
        }
    }
}

fn request_for(
    engine: &Engine,
    m: &runs::Model,
) -> Result<(Arc<dyn Provider>, ChatRequest), Failure> {
    let client = engine
        .providers()
        .get(&m.provider, &m.model)
        .map_err(|e| Failure {
            code: codes::PROVIDER_REJECTED,
            message: e.message,
            retryable: false,
            retry_after: None,
            elapsed: Duration::ZERO,
        })?;
    let messages: Vec<Message> = serde_json::from_str(&m.messages).unwrap_or_default();
    let params: RunParams = serde_json::from_str(&m.params).unwrap_or_default();
    Ok((client, chat_request(m.model.clone(), messages, params)))
}

/// Record the start of another attempt; false if this process no longer holds the run.
async fn next_attempt(engine: &Engine, id: Uuid, attempt_no: i32) -> Result<bool, DbErr> {
    let r = runs::Entity::update_many()
        .col_expr(runs::Column::Attempts, Expr::value(attempt_no))
        .col_expr(runs::Column::Output, Expr::value(""))
        .col_expr(runs::Column::StartedAt, Expr::value(Utc::now()))
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Attempts.eq(attempt_no - 1))
        .filter(runs::Column::LeaseOwner.eq(engine.runtime().instance.clone()))
        .filter(runs::status_is(RunStatus::Running))
        .exec(engine.db())
        .await?;
    Ok(r.rows_affected == 1)
}
