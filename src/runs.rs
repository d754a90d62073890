//! Runs: one execution of a version's rendered messages against a provider and model.
//!
//! Wasm-safe here: the run and event types the browser receives, the start request and
//! its validation, the run key, and the error codes a run can end with. The server side
//! (`service`, `pool`, `bus`; feature `ssr`) starts, queues, executes and streams runs.

use crate::error::{Error, Result};
use crate::versions::{Message, ModelParams};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

mod events;
pub use events::{apply, EventKind, RunEvent};
mod query;
pub use query::{RunQuery, PAGE_MAX, PER_PAGE_MAX};

#[cfg(feature = "ssr")]
pub mod bus;
#[cfg(feature = "ssr")]
pub mod pool;
#[cfg(feature = "ssr")]
pub mod service;

/// Most variables one run may set.
pub const MAX_VARIABLES: usize = 100;
/// Largest JSON of all variable values together, in bytes.
pub const MAX_VARIABLES_BYTES: usize = 256 * 1024;
/// Longest `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;
/// Characters of output shown in run lists.
pub const PREVIEW_CHARS: usize = 200;

/// Where a run is in its life. `succeeded`, `failed` and `canceled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

/// Stable codes a failed run carries (`error.code`). Clients match on these.
pub mod codes {
    /// The provider answered 429 on every attempt.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The provider answered 5xx or 529 (overloaded) on every attempt.
    pub const PROVIDER_UNAVAILABLE: &str = "provider_unavailable";
    /// The provider refused the key (401, 403).
    pub const PROVIDER_AUTH: &str = "provider_auth";
    /// The provider refused the request (400, 404, 422).
    pub const PROVIDER_REJECTED: &str = "provider_rejected";
    /// The provider's stream could not be understood.
    pub const PROVIDER_PROTOCOL: &str = "provider_protocol";
    /// The connection failed or was reset.
    pub const CONNECTION_ERROR: &str = "connection_error";
    /// No first byte, or no end, within the configured time.
    pub const TIMEOUT: &str = "timeout";
    /// The worker running it stopped (crash) after the last attempt.
    pub const WORKER_LOST: &str = "worker_lost";
}

/// The model parameters a run used: the version's, with the run's overrides applied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// Parameter overrides a start request may carry; absent fields keep the version's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamOverrides {
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Option<Vec<String>>,
}

/// A request to run one version of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub prompt_id: Uuid,
    /// The version number; the latest when absent.
    #[serde(default)]
    pub version: Option<i32>,
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Provider and model; the version's when absent.
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub params: ParamOverrides,
    /// Run even when a cached result exists.
    #[serde(default)]
    pub bypass_cache: bool,
}

/// What a run will send: provider, model and parameters resolved against the version.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub provider: String,
    pub model: String,
    pub params: RunParams,
}

impl StartRun {
    /// Apply the overrides to the version's parameters and validate everything that does
    /// not need the database.
    pub fn resolve(&self, version_params: &ModelParams) -> Result<Resolved> {
        let o = &self.params;
        let merged = ModelParams {
            provider: self
                .provider
                .clone()
                .unwrap_or_else(|| version_params.provider.clone()),
            model: self
                .model
                .clone()
                .unwrap_or_else(|| version_params.model.clone()),
            temperature: o.temperature.or(version_params.temperature),
            top_p: o.top_p.or(version_params.top_p),
            max_tokens: o.max_tokens.or(version_params.max_tokens),
            stop: o
                .stop
                .clone()
                .unwrap_or_else(|| version_params.stop.clone()),
        };
        crate::versions::validate_params(&merged)?;
        check_variable_values(&self.variables)?;
        Ok(Resolved {
            provider: merged.provider,
            model: merged.model,
            params: RunParams {
                temperature: merged.temperature,
                top_p: merged.top_p,
                max_tokens: merged.max_tokens,
                stop: merged.stop,
            },
        })
    }
}

/// Check the variable values of a run or a render: how many, their names and their size.
pub fn check_variable_values(variables: &Map<String, Value>) -> Result<()> {
    if variables.len() > MAX_VARIABLES {
        return Err(Error::invalid_field(
            "variables",
            "variables_count",
            format!("a run sets at most {MAX_VARIABLES} variables"),
        ));
    }
    if let Some(name) = variables
        .keys()
        .find(|k| !crate::template::is_identifier(k))
    {
        return Err(Error::invalid_field(
            &format!("variables.{}", name.chars().take(64).collect::<String>()),
            "variable_name",
            "not a variable name",
        ));
    }
    let size = serde_json::to_vec(variables).map_or(usize::MAX, |v| v.len());
    if size > MAX_VARIABLES_BYTES {
        return Err(Error::invalid_field(
            "variables",
            "variables_too_large",
            format!("variable values are at most {MAX_VARIABLES_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

/// Check an `Idempotency-Key` header value.
pub fn parse_idempotency_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(Error::invalid_field(
            "Idempotency-Key",
            "idempotency_key_invalid",
            format!("Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        ));
    }
    Ok(key.to_owned())
}

/// JSON with object keys sorted at every level, so equal values give equal text whatever
/// order their keys arrived in.
pub fn canonical_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The run key: SHA-256 (hex) of the version's content hash, provider, model, parameters
/// and variables. Equal keys mean equal requests to the model.
pub fn run_key(
    content_hash: &str,
    provider: &str,
    model: &str,
    params: &RunParams,
    variables: &Map<String, Value>,
) -> String {
    use sha2::{Digest, Sha256};
    let params = serde_json::to_value(params).unwrap_or(Value::Null);
    let text = canonical_json(&serde_json::json!({
        "content_hash": content_hash,
        "provider": provider,
        "model": model,
        "params": params,
        "variables": Value::Object(variables.clone()),
    }));
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the UI may know about a provider (never its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub name: String,
    /// Allowed models; empty means any model the server has.
    pub models: Vec<String>,
    /// The offline mock, labelled as such in the UI.
    pub mock: bool,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// A run as lists show it: everything but the messages, variables and full output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: Uuid,
    pub project_id: Uuid,
    pub prompt_id: Uuid,
    pub prompt_name: String,
    pub version_number: i32,
    pub status: RunStatus,
    pub provider: String,
    pub model: String,
    /// The provider is the built-in offline mock.
    pub mock: bool,
    pub cached: bool,
    pub attempts: i32,
    #[serde(default)]
    pub error: Option<RunError>,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub cost_usd: Option<f64>,
    pub provider_model: Option<String>,
    pub latency_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub run_key: String,
    /// The start of the output.
    pub preview: String,
}

/// A run in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub params: RunParams,
    pub variables: Map<String, Value>,
    /// The rendered messages sent to the provider.
    pub messages: Vec<Message>,
    pub output: String,
}

/// What a start did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub run: Run,
    /// False when an identical run already queued or running (or the same
    /// `Idempotency-Key`) was returned instead of a new one.
    pub created: bool,
}

#[cfg(test)]
mod tests;
