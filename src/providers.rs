//! Model providers behind one streaming interface: a request goes in, a stream of text
//! deltas (and, at the end, usage) comes out. OpenAI chat completions, OpenAI-compatible
//! servers (Groq, Ollama, vLLM, llama.cpp, LM Studio), Anthropic Messages, and a built-in
//! offline mock. Requests go through [`http::Http`], a small HTTP/1.1 client sized for
//! many long streams; SSE is parsed by `eventsource-stream`.
//!
//! Errors are classified here, once: retryable (429, 5xx, 529, timeouts, resets) with an
//! optional `Retry-After`, or permanent (400, 401, 403, 404, malformed responses). What to
//! do about them (backoff, attempts) belongs to the run engine, not to providers.
//! API keys live inside the clients and are never serialised.

use crate::versions::Message;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub mod anthropic;
pub mod http;
pub mod mock;
pub mod openai;
pub mod registry;
mod sse;

/// What a provider is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
}

/// Token counts a provider reported (or the mock estimated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// The model name the provider reports serving.
    Model(String),
    Text(String),
    Usage(Usage),
}

/// Whether trying again may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Retryable,
    Permanent,
}

/// A provider failure, classified.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub retry: Retry,
    /// HTTP status, when the provider answered with one.
    pub status: Option<u16>,
    /// What `Retry-After` asked for.
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl ProviderError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Retryable,
            status: None,
            retry_after: None,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Permanent,
            status: None,
            retry_after: None,
            message: message.into(),
        }
    }

    /// Classify an HTTP error status (429, 5xx and 529 retry; the rest do not).
    pub fn from_status(status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        let retry = if status == 429 || status >= 500 {
            Retry::Retryable
        } else {
            Retry::Permanent
        };
        let detail = error_message(body).unwrap_or_else(|| body.chars().take(300).collect());
        Self {
            retry,
            status: Some(status),
            retry_after,
            message: format!("provider answered {status}: {detail}"),
        }
    }
}

/// The `error.message` of a JSON error body, as both OpenAI and Anthropic send it.
fn error_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("error")?.get("message")?.as_str().map(str::to_owned)
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub fn retry_after(headers: &::http::HeaderMap) -> Option<Duration> {
    let raw = headers.get(::http::header::RETRY_AFTER)?.to_str().ok()?;
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A stream of deltas, ending after usage (when the provider sends it).
pub type DeltaStream = BoxStream<'static, Result<Delta, ProviderError>>;

/// Something that can answer a chat request as a stream.
pub trait Provider: Send + Sync {
    /// The provider's name (`openai`, `anthropic`, `groq`, `mock`, …).
    fn name(&self) -> &str;

    /// Start the request; errors before the first byte come back here, later ones in the
    /// stream.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<DeltaStream, ProviderError>>;
}

/// Shows the provider's name only: clients hold keys.
impl std::fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Provider({})", self.name())
    }
}

#[cfg(test)]
mod tests;
