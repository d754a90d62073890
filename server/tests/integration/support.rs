//! Test support: a real PromptLab server on port 0 over a fresh database, SQLite (a temp
//! file) or PostgreSQL (a uniquely named database, dropped afterwards, even on panic).

#![allow(dead_code)]

use promptlab::config::Config;
use promptlab::engine::Engine;
use promptlab::test_support::{TempDir, TempPg};
use std::collections::HashMap;
use std::net::SocketAddr;

pub const JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Drops what a test created, when the test ends however it ends.
pub enum DbGuard {
    Sqlite(TempDir),
    Postgres(TempPg),
}

/// A new empty database (a temp SQLite file or a uniquely named PostgreSQL database) and
/// the guard that removes it.
pub async fn fresh_database(backend: Backend) -> (String, DbGuard) {
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new("test");
            (dir.sqlite_url("test.db"), DbGuard::Sqlite(dir))
        }
        Backend::Postgres => {
            let db = TempPg::create("test").await;
            (db.url().to_owned(), DbGuard::Postgres(db))
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub engine: Engine,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub workers: Option<promptlab::runs::pool::Workers>,
    _db: DbGuard,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Start a server with extra environment variables for its configuration.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let mut app = Self::spawn_idle(backend, extra).await;
        app.workers = Some(app.engine.start_workers());
        app
    }

    /// A server whose worker pool is not started: runs stay queued until
    /// [`TestApp::start_workers`].
    pub async fn spawn_idle(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let (url, guard) = fresh_database(backend).await;
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATABASE_URL".into(), url);
        vars.insert("JWT_SECRET".into(), JWT_SECRET.into());
        vars.insert("MAX_BODY_BYTES".into(), "65536".into());
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        let mut config = Config::from_vars(&vars).expect("test config");
        // Templates render as the server's do: the non-plain ones in the server's binary.
        config.template_worker = Some(env!("CARGO_BIN_EXE_promptlab-server").into());
        let engine = Engine::start(config).await.expect("engine starts");
        // `LEPTOS_SITE_ROOT` among the extras points the static files elsewhere.
        let site_root = extra
            .iter()
            .find(|(k, _)| *k == "LEPTOS_SITE_ROOT")
            .map_or("target/site", |(_, v)| *v);
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("promptlab")
            .site_root(site_root)
            .build();
        let router = promptlab_server::router(engine.clone(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(promptlab_server::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            base: format!("http://{addr}"),
            engine,
            backend,
            shutdown: Some(tx),
            server: Some(server),
            workers: None,
            _db: guard,
        }
    }

    pub fn start_workers(&mut self) {
        if self.workers.is_none() {
            self.workers = Some(self.engine.start_workers());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client that neither follows redirects nor keeps cookies, so tests see each step.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Register through the REST API; returns the response JSON.
    pub async fn register(&self, email: &str, name: &str, password: &str) -> reqwest::Response {
        self.client()
            .post(self.url("/api/v1/auth/register"))
            .json(&serde_json::json!({ "email": email, "name": name, "password": password }))
            .send()
            .await
            .expect("register request")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.client()
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    /// Register a fresh user and return their bearer token.
    pub async fn token_for(&self, email: &str) -> String {
        let res = self
            .register(email, "Test User", "correct-horse-battery")
            .await;
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Make `user` a member of `project` with `role`, straight in the database.
    pub async fn add_member(&self, project: uuid::Uuid, user: uuid::Uuid, role: &str) {
        use sea_orm::{ActiveModelTrait, Set};
        promptlab::store::memberships::ActiveModel {
            project_id: Set(project),
            user_id: Set(user),
            role: Set(role.into()),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(self.engine.db())
        .await
        .expect("add a member");
    }

    /// Stop the server gracefully and release the database (dropped by the guard).
    pub async fn stop(mut self) {
        self.engine.runtime().bus.close_streams();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.workers.take() {
            w.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.engine.clone().close().await;
    }
}

/// The `error` object of a JSON error response, after checking the status.
pub async fn error_of(res: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let body: serde_json::Value = res.json().await.expect("error body is JSON");
    assert!(
        body["error"]["code"].is_string(),
        "error has a code: {body}"
    );
    assert!(
        body["error"]["message"].is_string(),
        "error has a message: {body}"
    );
    body["error"].clone()
}

/// Define `$name` once per backend: `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await;
                $body(&app).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await;
                $body(&app).await;
                app.stop().await;
            }
        }
    };
}
