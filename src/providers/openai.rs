//! OpenAI chat completions streaming (`stream: true` with
//! `stream_options.include_usage`), also used for OpenAI-compatible servers. A compatible
//! server that rejects `stream_options` is asked again without it; one that never sends
//! usage simply yields no usage delta.

use super::http::{Http, Response};
use super::sse::events;
use super::{retry_after, ChatRequest, Delta, DeltaStream, Provider, ProviderError, Usage};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};

/// A client for one OpenAI-style endpoint.
pub struct OpenAi {
    name: String,
    base_url: String,
    api_key: Option<String>,
    http: Http,
}

impl OpenAi {
    /// `base_url` up to and including `/v1` (e.g. `https://api.openai.com/v1`).
    pub fn new(name: &str, base_url: &str, api_key: Option<String>, http: Http) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.trim_end_matches('/').into(),
            api_key,
            http,
        }
    }

    fn body(request: &ChatRequest, with_usage: bool) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = json!({ "model": request.model, "messages": messages, "stream": true });
        if with_usage {
            body["stream_options"] = json!({ "include_usage": true });
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = request.top_p {
            body["top_p"] = json!(p);
        }
        if let Some(m) = request.max_tokens {
            body["max_tokens"] = json!(m);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        body
    }

    async fn send(&self, body: &Value) -> Result<Response, ProviderError> {
        let auth = self.api_key.as_ref().map(|key| format!("Bearer {key}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.http
            .post_json(
                &format!("{}/chat/completions", self.base_url),
                &headers,
                body,
            )
            .await
    }

    async fn start(&self, request: ChatRequest) -> Result<DeltaStream, ProviderError> {
        let mut response = self.send(&Self::body(&request, true)).await?;
        if response.status == 400 {
            let text = response.text().await;
            if !text.contains("stream_options") {
                return Err(ProviderError::from_status(400, None, &text));
            }
            response = self.send(&Self::body(&request, false)).await?;
        }
        let status = response.status;
        if !(200..300).contains(&status) {
            let after = retry_after(&response.headers);
            let text = response.text().await;
            return Err(ProviderError::from_status(status, after, &text));
        }
        let mut model_sent = false;
        let stream = events(response)
            .take_while(|e| {
                futures::future::ready(!matches!(e, Ok(ev) if ev.data.trim() == "[DONE]"))
            })
            .flat_map(move |event| {
                let deltas = match event {
                    Err(e) => vec![Err(e)],
                    Ok(ev) => parse_chunk(&ev.data, &mut model_sent),
                };
                futures::stream::iter(deltas)
            });
        Ok(stream.boxed())
    }
}

/// The deltas in one `chat.completion.chunk`.
fn parse_chunk(data: &str, model_sent: &mut bool) -> Vec<Result<Delta, ProviderError>> {
    let chunk: Value = match serde_json::from_str(data) {
        Ok(v) => v,
        Err(_) => {
            return vec![Err(ProviderError::permanent(format!(
                "malformed chunk: {}",
                data.chars().take(200).collect::<String>()
            )))]
        }
    };
    if let Some(err) = chunk.get("error") {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("provider error")
            .to_owned();
        return vec![Err(ProviderError::retryable(message))];
    }
    let mut out = Vec::new();
    if !*model_sent {
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            *model_sent = true;
            out.push(Ok(Delta::Model(model.to_owned())));
        }
    }
    if let Some(text) = chunk
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
    {
        if !text.is_empty() {
            out.push(Ok(Delta::Text(text.to_owned())));
        }
    }
    if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
        out.push(Ok(Delta::Usage(Usage {
            input_tokens: n("prompt_tokens"),
            output_tokens: n("completion_tokens"),
        })));
    }
    out
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<DeltaStream, ProviderError>> {
        Box::pin(self.start(request))
    }
}
