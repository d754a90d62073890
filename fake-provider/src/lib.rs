//! A fake model provider on loopback that speaks the OpenAI chat-completions and Anthropic
//! Messages streaming wire formats, for tests and benchmarks.
//!
//! Each request is scripted by its model name: `name:key=value,key=value` (the name is
//! free text). Keys:
//!
//! | key | meaning |
//! |---|---|
//! | `tokens=N` | words to stream (default 5) |
//! | `delay=MS` | pause before each word's frame (default 0) |
//! | `latency=MS` | pause before the response headers (default 0) |
//! | `fail=F` | `429`, `500`, `529`, `400`, `401`, `403`, `404` (an HTTP error), `hang` (no byte, ever), `reset` (connection reset after two words), `malformed` (a broken chunk after one word) |
//! | `times=N` | fail only the first N requests with the same script and messages, then succeed |
//! | `retry_after=S` | `Retry-After` on 429/503/529 answers |
//! | `nousage=1` | no usage at the end |
//! | `unknown=1` | unknown event types in between (clients must ignore them) |
//! | `strict=1` | OpenAI: reject `stream_options` with 400, like some compatible servers |
//! | `nul=1` | a NUL character (U+0000) after each word, the served model's name and an error's message |
//!
//! A bare fault name (`429`, `hang`, `reset`, …) is shorthand for `fail=` it. The server
//! counts requests per script and messages: `GET /requests` returns the counts. Pauses
//! are kept to a fraction of a millisecond, not to tokio's millisecond grid (`pacing`
//! says why).

use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod anthropic;
mod openai;
mod pacing;

/// Words the fake streams, cycled.
const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub tokens: usize,
    pub delay: Duration,
    pub latency: Duration,
    pub fail: Option<String>,
    pub times: Option<u32>,
    pub retry_after: Option<String>,
    pub nousage: bool,
    pub unknown: bool,
    pub strict: bool,
    pub nul: bool,
}

impl Script {
    /// Read a script from a model name.
    pub fn parse(model: &str) -> Self {
        let mut s = Script {
            tokens: 5,
            ..Default::default()
        };
        let (name, opts) = match model.split_once(':') {
            Some((n, o)) => (n, o),
            None => (model, ""),
        };
        if matches!(
            name,
            "429" | "500" | "529" | "400" | "401" | "403" | "404" | "hang" | "reset" | "malformed"
        ) {
            s.fail = Some(name.to_owned());
        }
        match name {
            "nousage" => s.nousage = true,
            "unknown" => s.unknown = true,
            "strict" => s.strict = true,
            "nul" => s.nul = true,
            _ => {}
        }
        for kv in opts.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, "1"));
            let n = v.parse::<u64>().unwrap_or(0);
            match k {
                "tokens" => s.tokens = n as usize,
                "delay" => s.delay = Duration::from_millis(n),
                "latency" => s.latency = Duration::from_millis(n),
                "fail" => s.fail = Some(v.to_owned()),
                "times" => s.times = Some(n as u32),
                "retry_after" => s.retry_after = Some(v.to_owned()),
                "nousage" => s.nousage = n != 0,
                "unknown" => s.unknown = n != 0,
                "strict" => s.strict = n != 0,
                "nul" => s.nul = n != 0,
                _ => {}
            }
        }
        s
    }

    /// `text` as this script sends it: with a NUL after it under `nul`.
    fn marked(&self, text: impl Into<String>) -> String {
        let mut text = text.into();
        if self.nul {
            text.push('\0');
        }
        text
    }
}

#[derive(Clone, Default)]
struct Fake {
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl Fake {
    /// Count this request; returns how many came before it with the same key.
    fn seen(&self, key: String) -> u32 {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    }
}

/// The fake's routes: `POST /v1/chat/completions`, `POST /v1/messages`, `GET /requests`.
pub fn router() -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::answer))
        .route("/v1/messages", post(anthropic::answer))
        .route("/requests", get(requests))
        .with_state(Fake::default())
}

/// Serve on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Like a real provider's edge: each streamed chunk goes out at once.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router()).await
}

/// Start on an ephemeral loopback port in the background; returns `http://127.0.0.1:PORT`.
pub async fn spawn() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the fake provider");
    let addr = listener.local_addr().expect("fake provider address");
    tokio::spawn(async move {
        let _ = serve(listener).await;
    });
    format!("http://{addr}")
}

async fn requests(State(fake): State<Fake>) -> Json<Value> {
    let c = fake
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(json!(c))
}

fn key(body: &Value) -> String {
    format!("{}|{}", body["model"], body["messages"])
}

/// The fault this request gets, if any.
fn fault(fake: &Fake, script: &Script, body: &Value) -> Option<String> {
    let before = fake.seen(key(body));
    match (script.fail.as_ref(), script.times) {
        (Some(f), Some(n)) if before < n => Some(f.clone()),
        (_, Some(_)) => None,
        (f, None) => f.cloned(),
    }
}

fn error(status: u16, script: &Script, anthropic: bool) -> Response<Body> {
    let retry_after = script.retry_after.as_deref();
    let message = script.marked(format!("scripted {status}"));
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(r) = retry_after {
        b = b.header("retry-after", r);
    }
    let body = if anthropic {
        let kind = match status {
            429 => "rate_limit_error",
            529 => "overloaded_error",
            401 => "authentication_error",
            _ if status >= 500 => "api_error",
            _ => "invalid_request_error",
        };
        json!({"type": "error", "error": {"type": kind, "message": message}})
    } else {
        json!({"error": {"message": message, "type": "scripted", "code": status}})
    };
    b.body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// One SSE frame of an answer; a word's frame comes after the script's `delay`.
struct Frame {
    text: String,
    word: bool,
}

impl Frame {
    fn word(text: String) -> Self {
        Self { text, word: true }
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self { text, word: false }
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

/// An SSE response streaming `frames`, each word after `delay` (kept by [`pacing`]);
/// `reset_after` cuts the connection with an error after that many frames.
fn stream(frames: Vec<Frame>, delay: Duration, reset_after: Option<usize>) -> Response<Body> {
    let total = frames.len();
    let s = futures::stream::iter(frames.into_iter().enumerate())
        .then(move |(i, frame)| async move {
            if frame.word && !delay.is_zero() {
                pacing::sleep(delay).await;
            }
            (i, frame.text)
        })
        .map(move |(i, frame)| match reset_after {
            Some(n) if i >= n.min(total) => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "scripted reset",
            )),
            _ => Ok(Bytes::from(frame)),
        })
        // Stop after the first error so the body ends there.
        .scan(false, |failed, item| {
            if *failed {
                return futures::future::ready(None);
            }
            *failed = item.is_err();
            futures::future::ready(Some(item))
        });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(s))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn hang() -> Response<Body> {
    let s = futures::stream::pending::<Result<Bytes, std::io::Error>>();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(s))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn word(i: usize) -> String {
    let w = WORDS[i % WORDS.len()];
    if i == 0 {
        w.to_owned()
    } else {
        format!(" {w}")
    }
}

fn input_tokens(body: &Value) -> u64 {
    (body["messages"].to_string().len() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        let s = Script::parse("x:tokens=3,delay=10,fail=429,times=2,retry_after=1");
        assert_eq!(s.tokens, 3);
        assert_eq!(s.delay, Duration::from_millis(10));
        assert_eq!(s.fail.as_deref(), Some("429"));
        assert_eq!(s.times, Some(2));
        assert_eq!(s.retry_after.as_deref(), Some("1"));
        assert_eq!(Script::parse("hang").fail.as_deref(), Some("hang"));
        assert!(Script::parse("nousage").nousage);
        assert_eq!(Script::parse("ok").fail, None);
    }
}
