//! The end of a run: its final state written (fenced by lease owner and attempt), then
//! told to its watchers; and the failure recorded for a worker that panicked.

use super::{Done, Failure};
use crate::engine::Engine;
use crate::runs::bus::Live;
use crate::runs::pool::Executing;
use crate::runs::service::summary;
use crate::runs::{EventKind, RunStatus};
use crate::store::runs;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub(super) enum End {
    Succeeded(Done),
    Failed(Failure),
    Canceled,
    /// The lease was lost (another worker took the run over): record nothing.
    Lost,
}

/// Write the run's final state (only while this process holds its lease), then tell the
/// watchers and forget the live entry.
pub(super) async fn finish(
    engine: &Engine,
    m: &runs::Model,
    name: &str,
    live: &Arc<Live>,
    attempt_no: i32,
    end: End,
) {
    let runtime = engine.runtime();
    if matches!(end, End::Lost) {
        runtime.bus.close_if_same(m.id, live);
        return;
    }
    let now = Utc::now();
    let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
    let none_s = Option::<String>::None;
    let mut update = runs::Entity::update_many()
        .col_expr(runs::Column::Output, Expr::value(live.output()))
        .col_expr(runs::Column::FinishedAt, Expr::value(now))
        .col_expr(runs::Column::LeaseOwner, Expr::value(none_s.clone()))
        .col_expr(
            runs::Column::LeaseExpiresAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(runs::Column::Id.eq(m.id))
        .filter(runs::Column::LeaseOwner.eq(runtime.instance.clone()))
        .filter(runs::Column::Attempts.eq(attempt_no))
        .filter(runs::status_is(RunStatus::Running));
    update = match &end {
        End::Succeeded(d) => {
            let cost = d.usage.and_then(|u| {
                let by = |model: &str| {
                    engine
                        .prices()
                        .cost(&m.provider, model, u.input_tokens, u.output_tokens)
                };
                d.provider_model
                    .as_deref()
                    .and_then(by)
                    .or_else(|| by(&m.model))
            });
            update
                .col_expr(
                    runs::Column::Status,
                    Expr::value(RunStatus::Succeeded.as_str()),
                )
                .col_expr(
                    runs::Column::InputTokens,
                    Expr::value(
                        d.usage
                            .map(|u| i32::try_from(u.input_tokens).unwrap_or(i32::MAX)),
                    ),
                )
                .col_expr(
                    runs::Column::OutputTokens,
                    Expr::value(
                        d.usage
                            .map(|u| i32::try_from(u.output_tokens).unwrap_or(i32::MAX)),
                    ),
                )
                .col_expr(runs::Column::CostUsd, Expr::value(cost))
                .col_expr(
                    runs::Column::ProviderModel,
                    Expr::value(d.provider_model.clone()),
                )
                .col_expr(runs::Column::LatencyMs, Expr::value(ms(d.elapsed)))
                .col_expr(runs::Column::TtftMs, Expr::value(d.ttft.map(ms)))
        }
        End::Failed(f) => update
            .col_expr(
                runs::Column::Status,
                Expr::value(RunStatus::Failed.as_str()),
            )
            .col_expr(runs::Column::ErrorCode, Expr::value(f.code))
            .col_expr(
                runs::Column::ErrorMessage,
                Expr::value(f.message.chars().take(2000).collect::<String>()),
            )
            .col_expr(runs::Column::LatencyMs, Expr::value(ms(f.elapsed))),
        End::Canceled | End::Lost => update.col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Canceled.as_str()),
        ),
    };
    // Through the group commit: under load, many runs' final states share one transaction.
    let mut query = update.into_query();
    query.returning_all();
    let writing = std::time::Instant::now();
    let written = runtime.commits.returning_one(engine.db(), &query).await;
    tracing::debug!(target: "promptlab::timing", run = %m.id, write_us = writing.elapsed().as_micros() as u64, "final state written");
    let stored = match written {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::warn!(run = %m.id, "run was taken over before it finished here; dropping this result");
            runtime.bus.close_if_same(m.id, live);
            return;
        }
        Err(e) => {
            // The lease will expire and the reaper will retry or fail the run.
            tracing::error!(run = %m.id, error = %e, "recording the end of a run failed");
            runtime.bus.close_if_same(m.id, live);
            return;
        }
    };
    let s = summary(&stored, name);
    let kind = match end {
        End::Succeeded(_) => EventKind::Succeeded {
            run: Box::new(s.clone()),
        },
        End::Failed(f) => EventKind::Failed {
            code: f.code.to_owned(),
            message: f.message,
            run: Box::new(s.clone()),
        },
        End::Canceled | End::Lost => EventKind::Canceled {
            run: Box::new(s.clone()),
        },
    };
    live.emit(kind);
    runtime.bus.close_if_same(m.id, live);
    runtime.bus.publish_user(stored.created_by, s);
}

pub(in crate::runs::pool) async fn fail_after_panic(
    engine: &Engine,
    id: Uuid,
    executing: &Executing,
) {
    let live = executing.lock().ok().and_then(|mut m| m.remove(&id));
    let r = runs::Entity::update_many()
        .col_expr(
            runs::Column::Status,
            Expr::value(RunStatus::Failed.as_str()),
        )
        .col_expr(runs::Column::ErrorCode, Expr::value("internal_error"))
        .col_expr(
            runs::Column::ErrorMessage,
            Expr::value("the run failed inside the server; see the server log"),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(
            runs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .filter(runs::Column::Id.eq(id))
        .filter(runs::status_is(RunStatus::Running))
        .exec(engine.db())
        .await;
    if let Err(e) = r {
        tracing::error!(run = %id, error = %e, "recording a panicked run failed");
    }
    if live.is_some() {
        engine.runtime().bus.close(id);
    }
}
