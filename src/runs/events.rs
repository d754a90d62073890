//! What happens to a run, as numbered events (the SSE stream's `id`, `event` and `data`),
//! and [`apply`], the one way a client folds them into its view of the output.

use super::{RunStatus, RunSummary};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One thing that happened to a run, numbered in order (`seq`, the SSE event id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub seq: u64,
    pub run_id: Uuid,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The state so far (sent first on connect or resume): replaces what the client had.
    Snapshot {
        status: RunStatus,
        attempts: i32,
        output: String,
    },
    Queued,
    /// An attempt began; the output starts over.
    Started {
        attempt: i32,
    },
    Delta {
        text: String,
    },
    /// An attempt failed and another follows after `delay_ms`.
    Retrying {
        attempt: i32,
        delay_ms: u64,
        code: String,
        message: String,
    },
    Usage {
        input_tokens: u32,
        output_tokens: u32,
    },
    Succeeded {
        run: Box<RunSummary>,
    },
    Failed {
        code: String,
        message: String,
        run: Box<RunSummary>,
    },
    Canceled {
        run: Box<RunSummary>,
    },
}

impl EventKind {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Snapshot { .. } => "snapshot",
            Self::Queued => "queued",
            Self::Started { .. } => "started",
            Self::Delta { .. } => "delta",
            Self::Retrying { .. } => "retrying",
            Self::Usage { .. } => "usage",
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
            Self::Canceled { .. } => "canceled",
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Succeeded { .. } | Self::Failed { .. } | Self::Canceled { .. }
        )
    }
}

/// Apply an event to a client's view of a run's output and status.
pub fn apply(event: &EventKind, status: &mut RunStatus, output: &mut String) {
    match event {
        EventKind::Snapshot {
            status: s,
            output: o,
            ..
        } => {
            *status = *s;
            *output = o.clone();
        }
        EventKind::Queued => *status = RunStatus::Queued,
        EventKind::Started { .. } => {
            *status = RunStatus::Running;
            output.clear();
        }
        EventKind::Delta { text } => output.push_str(text),
        EventKind::Retrying { .. } | EventKind::Usage { .. } => {}
        EventKind::Succeeded { .. } => *status = RunStatus::Succeeded,
        EventKind::Failed { .. } => *status = RunStatus::Failed,
        EventKind::Canceled { .. } => *status = RunStatus::Canceled,
    }
}
