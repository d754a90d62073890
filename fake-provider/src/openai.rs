//! The fake's OpenAI chat-completions answer: a role chunk, one chunk per word, usage when
//! the request asks for it (`stream_options.include_usage`), then `[DONE]`.

use crate::{error, fault, hang, input_tokens, pacing, stream, word, Fake, Frame, Script};
use axum::body::Body;
use axum::extract::State;
use axum::http::Response;
use axum::Json;
use serde_json::{json, Value};

pub(crate) async fn answer(State(fake): State<Fake>, Json(body): Json<Value>) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let script = Script::parse(&model);
    if !script.latency.is_zero() {
        pacing::sleep(script.latency).await;
    }
    if script.strict && body.get("stream_options").is_some() {
        return Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"error": {"message": "Unrecognized request argument supplied: stream_options"}})
                    .to_string(),
            ))
            .unwrap_or_else(|_| Response::new(Body::empty()));
    }
    let fault = fault(&fake, &script, &body);
    if let Some(status) = fault.as_deref().and_then(|f| f.parse::<u16>().ok()) {
        return error(status, &script, false);
    }
    if fault.as_deref() == Some("hang") {
        return hang();
    }
    let served = script.marked("fake-model-2024-01-01");
    let chunk = |delta: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": served,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        )
    };
    let mut frames: Vec<Frame> = vec![chunk(json!({"role": "assistant", "content": ""})).into()];
    for i in 0..script.tokens {
        frames.push(Frame::word(chunk(
            json!({ "content": script.marked(word(i)) }),
        )));
        if script.unknown && i == 0 {
            frames.push(": keep-alive comment\n\n".into());
            frames.push("event: mystery\ndata: {\"type\":\"mystery\"}\n\n".into());
        }
        if fault.as_deref() == Some("malformed") && i == 0 {
            frames.push("data: {\"choices\": [\n\n".into());
        }
    }
    let with_usage = body.pointer("/stream_options/include_usage") == Some(&json!(true));
    if with_usage && !script.nousage {
        frames.push(
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": served, "choices": [],
                       "usage": {"prompt_tokens": input_tokens(&body), "completion_tokens": script.tokens, "total_tokens": input_tokens(&body) + script.tokens as u64}})
            )
            .into(),
        );
    }
    frames.push("data: [DONE]\n\n".into());
    let reset = (fault.as_deref() == Some("reset")).then_some(3);
    stream(frames, script.delay, reset)
}
