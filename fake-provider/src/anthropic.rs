//! The fake's Anthropic Messages answer: `message_start`, one `content_block_delta` per
//! word, then `message_delta` with the usage and `message_stop`.

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
    let fault = fault(&fake, &script, &body);
    if let Some(status) = fault.as_deref().and_then(|f| f.parse::<u16>().ok()) {
        return error(status, &script, true);
    }
    if fault.as_deref() == Some("hang") {
        return hang();
    }
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames: Vec<Frame> = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
            "model": script.marked("claude-fake-20240101"), "content": [], "usage": {"input_tokens": input_tokens(&body), "output_tokens": 1}}}),
        )
        .into(),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        )
        .into(),
        ev("ping", json!({"type": "ping"})).into(),
    ];
    for i in 0..script.tokens {
        frames.push(Frame::word(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": script.marked(word(i))}}),
        )));
        if script.unknown && i == 0 {
            frames.push(ev("mystery_event", json!({"type": "mystery_event", "x": 1})).into());
        }
        if fault.as_deref() == Some("malformed") && i == 0 {
            frames.push("event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"delta\": \n\n".into());
        }
    }
    frames.push(
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        )
        .into(),
    );
    let usage = if script.nousage {
        json!({})
    } else {
        json!({"output_tokens": script.tokens})
    };
    frames.push(
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": usage}),
        )
        .into(),
    );
    frames.push(ev("message_stop", json!({"type": "message_stop"})).into());
    let reset = (fault.as_deref() == Some("reset")).then_some(5);
    stream(frames, script.delay, reset)
}
