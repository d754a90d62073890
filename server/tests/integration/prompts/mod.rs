//! Prompts over REST on both databases: shared helpers here, versions (immutability,
//! concurrency, restore, diff, labels, ETags, render), CRUD (search, trash) and bad input
//! (unknown fields, pages out of range) next door.

mod bad_input;
mod crud;
mod preview;
mod sandbox;
mod versions;

use crate::support::TestApp;
use serde_json::{json, Value};

pub(crate) fn content(text: &str) -> Value {
    json!({
        "messages": [
            { "role": "system", "content": "You are a helpful writer." },
            { "role": "user", "content": text }
        ],
        "params": { "provider": "mock", "model": "mock-1", "temperature": 0.5 },
        "variables": [ { "name": "topic", "kind": "string", "required": true } ]
    })
}

pub(crate) struct Api<'a> {
    app: &'a TestApp,
    pub(crate) token: String,
}

impl Api<'_> {
    pub(crate) async fn new<'a>(app: &'a TestApp, email: &str) -> Api<'a> {
        Api {
            app,
            token: app.token_for(email).await,
        }
    }
    pub(crate) fn with_token(app: &TestApp, token: String) -> Api<'_> {
        Api { app, token }
    }
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .app
            .client()
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }
    pub(crate) async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let res = self.send(method, path, body).await;
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
    pub(crate) async fn create(&self, name: &str) -> Value {
        self.json(reqwest::Method::POST, "/api/v1/prompts", Some(json!({ "name": name, "description": "Writes posts", "tags": ["writing"], "content": content("Write about {{ topic }}."), "note": "first" })), 201).await
    }
    pub(crate) async fn save(&self, prompt: &str, base: i64, text: &str) -> reqwest::Response {
        let mut body = content(text);
        body["base_version"] = json!(base);
        body["note"] = json!(format!("base {base}"));
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/prompts/{prompt}/versions"),
            Some(body),
        )
        .await
    }
}
