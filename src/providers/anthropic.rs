//! Anthropic Messages streaming: `message_start` (input usage, model),
//! `content_block_delta` (text), `message_delta` (output usage), `message_stop`, `ping`,
//! `error`; unknown events are ignored, as Anthropic asks clients to.

use super::http::Http;
use super::sse::events;
use super::{retry_after, ChatRequest, Delta, DeltaStream, Provider, ProviderError, Usage};
use crate::versions::MessageRole;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};

pub const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is used when a version sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

pub struct Anthropic {
    base_url: String,
    api_key: String,
    http: Http,
}

impl Anthropic {
    /// `base_url` without `/v1` (e.g. `https://api.anthropic.com`).
    pub fn new(base_url: &str, api_key: String, http: Http) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').into(),
            api_key,
            http,
        }
    }

    fn body(request: &ChatRequest) -> Value {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == MessageRole::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != MessageRole::System)
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = json!({
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = request.top_p {
            body["top_p"] = json!(p);
        }
        if !request.stop.is_empty() {
            body["stop_sequences"] = json!(request.stop);
        }
        body
    }

    async fn start(&self, request: ChatRequest) -> Result<DeltaStream, ProviderError> {
        let headers = [
            ("x-api-key", self.api_key.as_str()),
            ("anthropic-version", API_VERSION),
        ];
        let response = self
            .http
            .post_json(
                &format!("{}/v1/messages", self.base_url),
                &headers,
                &Self::body(&request),
            )
            .await?;
        let status = response.status;
        if !(200..300).contains(&status) {
            let after = retry_after(&response.headers);
            let text = response.text().await;
            return Err(ProviderError::from_status(status, after, &text));
        }
        let mut input_tokens = 0u32;
        let stream = events(response)
            .take_while(|e| {
                futures::future::ready(!matches!(e, Ok(ev) if ev.event == "message_stop"))
            })
            .flat_map(move |event| {
                let deltas = match event {
                    Err(e) => vec![Err(e)],
                    Ok(ev) => parse_event(&ev.event, &ev.data, &mut input_tokens),
                };
                futures::stream::iter(deltas)
            });
        Ok(stream.boxed())
    }
}

fn parse_event(
    kind: &str,
    data: &str,
    input_tokens: &mut u32,
) -> Vec<Result<Delta, ProviderError>> {
    if kind == "ping" {
        return vec![];
    }
    let v: Value = match serde_json::from_str(data) {
        Ok(v) => v,
        Err(_) => {
            return vec![Err(ProviderError::permanent(format!(
                "malformed event {kind}: {}",
                data.chars().take(200).collect::<String>()
            )))]
        }
    };
    match kind {
        "message_start" => {
            *input_tokens = v
                .pointer("/message/usage/input_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32;
            v.pointer("/message/model")
                .and_then(Value::as_str)
                .map(|m| Ok(Delta::Model(m.to_owned())))
                .into_iter()
                .collect()
        }
        "content_block_delta" => v
            .pointer("/delta/text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| Ok(Delta::Text(t.to_owned())))
            .into_iter()
            .collect(),
        "message_delta" => match v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
            Some(out) => vec![Ok(Delta::Usage(Usage {
                input_tokens: *input_tokens,
                output_tokens: out as u32,
            }))],
            None => vec![],
        },
        "error" => {
            let kind = v
                .pointer("/error/type")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let message = v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("provider error");
            let mut e = if matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error") {
                ProviderError::retryable(format!("{kind}: {message}"))
            } else {
                ProviderError::permanent(format!("{kind}: {message}"))
            };
            if kind == "overloaded_error" {
                e.status = Some(529);
            }
            vec![Err(e)]
        }
        // content_block_start/stop and anything new: nothing to report.
        _ => vec![],
    }
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<DeltaStream, ProviderError>> {
        Box::pin(self.start(request))
    }
}
