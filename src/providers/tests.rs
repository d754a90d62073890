//! The clients against a fake provider on port 0 that speaks the OpenAI and Anthropic
//! wire formats. The model name scripts each request: `ok`, `429`, `500`, `529`, `400`,
//! `401`, `hang`, `reset`, `malformed`, `nousage`, `strict` (rejects `stream_options`).

use super::*;
use crate::versions::{Message, MessageRole};
use axum::body::Body;
use axum::extract::Json;
use axum::http::{Response, StatusCode};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{json, Value};

fn sse(events: Vec<String>, fail_at_end: bool) -> Response<Body> {
    let chunks = events.into_iter().map(Ok::<_, std::io::Error>);
    let tail = fail_at_end.then(|| {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ))
    });
    let stream = futures::stream::iter(chunks.chain(tail)).then(|c| async move {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        c
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn error(status: u16, retry_after: Option<&str>) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    if let Some(r) = retry_after {
        b = b.header("retry-after", r);
    }
    b.body(Body::from(
        json!({"error": {"message": format!("scripted {status}"), "type": "scripted"}}).to_string(),
    ))
    .unwrap()
}

async fn openai(Json(body): Json<Value>) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let chunk = |text: &str| {
        format!(
            "data: {}\n\n",
            json!({"model": "gpt-test-0613", "choices": [{"delta": {"content": text}}]})
        )
    };
    let usage = format!(
        "data: {}\n\n",
        json!({"model": "gpt-test-0613", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    );
    let done = "data: [DONE]\n\n".to_owned();
    match model.as_str() {
        "429" => error(429, Some("7")),
        "500" => error(500, None),
        "400" => error(400, None),
        "401" => error(401, None),
        "hang" => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            error(500, None)
        }
        "strict" if body.get("stream_options").is_some() => Response::builder()
            .status(400)
            .body(Body::from(
                r#"{"error":{"message":"unknown field stream_options"}}"#,
            ))
            .unwrap(),
        "malformed" => sse(vec![chunk("Hi"), "data: {not json\n\n".into(), done], false),
        "nousage" | "strict" => sse(vec![chunk("Hello"), chunk(" world"), done], false),
        "reset" => sse(vec![chunk("Hel")], true),
        _ => sse(
            vec![
                ": keep-alive\n\n".into(),
                chunk("Hello"),
                chunk(" world"),
                usage,
                done,
            ],
            false,
        ),
    }
}

async fn anthropic(Json(body): Json<Value>) -> Response<Body> {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    match body["model"].as_str().unwrap_or("") {
        "529" => error(529, None),
        "overloaded" => sse(
            vec![ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )],
            false,
        ),
        _ => sse(
            vec![
                ev(
                    "message_start",
                    json!({"type": "message_start", "message": {"model": "claude-test", "usage": {"input_tokens": 11, "output_tokens": 1}}}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0}),
                ),
                ev("ping", json!({"type": "ping"})),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Bonjour"}}),
                ),
                ev("brand_new_event", json!({"type": "brand_new_event"})),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": " monde"}}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "usage": {"output_tokens": 3}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ],
            false,
        ),
    }
}

async fn fake() -> String {
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            Message {
                role: MessageRole::System,
                content: "Be brief.".into(),
            },
            Message {
                role: MessageRole::User,
                content: "Say hello".into(),
            },
        ],
        temperature: Some(0.2),
        top_p: None,
        max_tokens: Some(20),
        stop: vec![],
    }
}

fn http() -> http::Http {
    http::Http::new(std::time::Duration::from_secs(2), http::Proxies::default())
}

async fn collect(
    p: &dyn Provider,
    model: &str,
) -> Result<(String, Vec<Delta>, Option<ProviderError>), ProviderError> {
    let mut stream = p.stream(request(model)).await?;
    let (mut text, mut all, mut failed) = (String::new(), Vec::new(), None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(Delta::Text(t)) => {
                text.push_str(&t);
                all.push(Delta::Text(t));
            }
            Ok(d) => all.push(d),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    Ok((text, all, failed))
}

#[tokio::test]
async fn openai_streams_text_model_and_usage() {
    let base = fake().await;
    let p = openai::OpenAi::new(
        "openai",
        &format!("{base}/v1"),
        Some("sk-test".into()),
        http(),
    );
    let (text, all, failed) = collect(&p, "ok").await.unwrap();
    assert_eq!(text, "Hello world");
    assert_eq!(all.first(), Some(&Delta::Model("gpt-test-0613".into())));
    assert_eq!(
        all.last(),
        Some(&Delta::Usage(Usage {
            input_tokens: 5,
            output_tokens: 2
        }))
    );
    assert!(failed.is_none());
}

#[tokio::test]
async fn openai_errors_are_classified() {
    let base = fake().await;
    let p = openai::OpenAi::new("openai", &format!("{base}/v1"), None, http());
    let e = collect(&p, "429").await.unwrap_err();
    assert_eq!(
        (e.retry, e.status, e.retry_after),
        (
            Retry::Retryable,
            Some(429),
            Some(std::time::Duration::from_secs(7))
        )
    );
    assert_eq!(
        collect(&p, "500").await.unwrap_err().retry,
        Retry::Retryable
    );
    let e = collect(&p, "400").await.unwrap_err();
    assert_eq!((e.retry, e.status), (Retry::Permanent, Some(400)));
    assert!(e.message.contains("scripted 400"));
    assert_eq!(
        collect(&p, "401").await.unwrap_err().retry,
        Retry::Permanent
    );
    // No answer at all: the client keeps waiting, and the worker's first-byte deadline
    // (a retryable timeout, see the runs tests) is what ends the attempt.
    let waited =
        tokio::time::timeout(std::time::Duration::from_millis(300), collect(&p, "hang")).await;
    assert!(waited.is_err(), "the client gave up on its own");
}

#[tokio::test]
async fn openai_faults_mid_stream() {
    let base = fake().await;
    let p = openai::OpenAi::new("compat", &format!("{base}/v1"), None, http());
    let (text, _, failed) = collect(&p, "malformed").await.unwrap();
    assert_eq!(text, "Hi");
    assert_eq!(failed.unwrap().retry, Retry::Permanent);
    let (text, _, failed) = collect(&p, "reset").await.unwrap();
    assert_eq!(text, "Hel", "the partial output arrives before the reset");
    assert_eq!(failed.expect("a reset is an error").retry, Retry::Retryable);
}

#[tokio::test]
async fn compatible_servers_without_usage_or_stream_options() {
    let base = fake().await;
    let p = openai::OpenAi::new("compat", &format!("{base}/v1"), None, http());
    let (text, all, failed) = collect(&p, "nousage").await.unwrap();
    assert_eq!(text, "Hello world");
    assert!(failed.is_none() && !all.iter().any(|d| matches!(d, Delta::Usage(_))));
    let (text, _, failed) = collect(&p, "strict").await.unwrap();
    assert_eq!(text, "Hello world", "asked again without stream_options");
    assert!(failed.is_none());
}

#[tokio::test]
async fn anthropic_streams_and_ignores_unknown_events() {
    let base = fake().await;
    let p = anthropic::Anthropic::new(&base, "sk-ant-test".into(), http());
    let (text, all, failed) = collect(&p, "ok").await.unwrap();
    assert_eq!(text, "Bonjour monde");
    assert!(failed.is_none());
    assert_eq!(all.first(), Some(&Delta::Model("claude-test".into())));
    assert_eq!(
        all.last(),
        Some(&Delta::Usage(Usage {
            input_tokens: 11,
            output_tokens: 3
        }))
    );
    let e = collect(&p, "529").await.unwrap_err();
    assert_eq!((e.retry, e.status), (Retry::Retryable, Some(529)));
    let (_, _, failed) = collect(&p, "overloaded").await.unwrap();
    assert_eq!(failed.unwrap().retry, Retry::Retryable);
}

#[tokio::test]
async fn mock_is_deterministic_with_usage() {
    let p = mock::Mock {
        tokens_per_second: 0,
        default_words: 12,
    };
    let (a, all, failed) = collect(&p, "mock-1").await.unwrap();
    let (b, _, _) = collect(&p, "mock-1").await.unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with("(mock) Say hello"), "{a}");
    assert!(failed.is_none());
    match all.last() {
        Some(Delta::Usage(u)) => assert_eq!(u.output_tokens, 12),
        other => panic!("usage last, got {other:?}"),
    }
}

#[test]
fn status_classification() {
    for (s, r) in [
        (429, Retry::Retryable),
        (500, Retry::Retryable),
        (503, Retry::Retryable),
        (529, Retry::Retryable),
        (400, Retry::Permanent),
        (401, Retry::Permanent),
        (403, Retry::Permanent),
        (404, Retry::Permanent),
    ] {
        assert_eq!(ProviderError::from_status(s, None, "").retry, r, "{s}");
    }
}
