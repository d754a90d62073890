//! Bad input on every run endpoint and run server function, on both databases. Every
//! request gets a 4xx with an error code (never a 5xx), and nothing rejected changes the
//! database.
//!
//! - `generated`: proptest bodies built by `strategies` (wrong types on every field, huge
//!   strings, invalid UTF-8, unknown fields in a body and beside a JSON server function's
//!   own argument, negative or absurd parameters), garbage ids, query strings and forms;
//! - `nul`: NUL characters in an address, a JSON body or a form;
//! - `limits`: what the tests' 64 kB body cap hides (variable size and count, model and
//!   stop lengths), bad `Idempotency-Key`s, and cancels refused while a run is in flight.

mod generated;
mod limits;
mod nul;
mod strategies;

use crate::support::TestApp;
use serde_json::Value;

/// A request body with its content type.
pub(super) type Body<'a> = Option<(&'a str, Vec<u8>)>;

/// (status, the whole answer) of a request with the caller's token.
pub(super) async fn answer(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Body<'_>,
) -> (u16, Value) {
    let mut req = app
        .client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let v = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, v)
}
