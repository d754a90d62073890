//! Crash safety: 200 runs in flight on a slow provider, the server killed with SIGKILL,
//! then started again on the same database. Every run must reach a final state, none may
//! be lost or duplicated, and every succeeded run's output must be recorded exactly once.
//!
//! This drives the real binary as a child process, so the kill is a real `kill -9`. To
//! watch it, run it alone with its narration shown (`--no-capture`; the README's
//! "Watching the crash test" has the command): the server's pids, the runs' states at the
//! kill, the recovery's progress, and what was checked.

use crate::support::{Backend, JWT_SECRET};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 200;
const TOKENS: usize = 20;
/// 20 words, 100 ms apart: each run streams for about two seconds.
const MODEL: &str = "slow:tokens=20,delay=100";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Child,
    base: String,
}

/// A line of narration for whoever runs this test with `--no-capture`; captured otherwise.
fn say(started: Instant, what: &str) {
    eprintln!(
        "[crash test {:>6.2} s] {what}",
        started.elapsed().as_secs_f64()
    );
}

/// How many of `runs` are in each status, as `status: n` pairs.
fn tally(runs: &[Value]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for run in runs {
        *counts
            .entry(run["status"].as_str().unwrap_or("?").to_owned())
            .or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(status, n)| format!("{status}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET {base}{path}` as the signed-in user, as JSON.
async fn get_json(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How many of the user's runs are in `status`, from the run list's total: one request,
/// where reading every run would take seconds on a slow machine and delay the kill.
async fn count(http: &reqwest::Client, base: &str, token: &str, status: &str) -> u64 {
    let path = format!("/api/v1/runs?status={status}&per_page=1");
    get_json(http, base, token, &path).await["total"]
        .as_u64()
        .expect("a total")
}

/// Every run of `ids`, read back through the API.
async fn read_runs(http: &reqwest::Client, base: &str, token: &str, ids: &[String]) -> Vec<Value> {
    let mut runs = Vec::with_capacity(ids.len());
    for id in ids {
        runs.push(get_json(http, base, token, &format!("/api/v1/runs/{id}")).await);
    }
    runs
}

impl Server {
    async fn start(db: &str, fake: &str, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_promptlab-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db)
            .env("JWT_SECRET", JWT_SECRET)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_OUTPUT_NAME", "promptlab")
            .env("OPENAI_COMPAT_BASE_URL", format!("{fake}/v1"))
            .env("RUN_LEASE_MS", "1500")
            .env("RUN_CONCURRENCY", "300")
            .env("AUTH_RATE_BURST", "100")
            .env("RUST_LOG", "info")
            .stderr(Stdio::null())
            .stdout(match std::env::var("CRASH_LOG") {
                Ok(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
                Err(_) => Stdio::null(),
            })
            .spawn()
            .expect("start the server binary");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{base}/health/ready")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill9(mut self) {
        // std's kill is SIGKILL on Unix: no shutdown code runs.
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn crash_and_recover(backend: Backend) {
    let t0 = Instant::now();
    let fake = promptlab_fake_provider::spawn().await;
    let (db, _guard) = crate::support::fresh_database(backend).await;
    let port = free_port();
    let server = Server::start(&db, &fake, port).await;
    say(
        t0,
        &format!(
            "{backend:?}: server up (pid {}) on {}; fake provider on {fake}",
            server.pid(),
            server.base
        ),
    );
    let http = reqwest::Client::new();
    let token: String = {
        let res = http
            .post(format!("{}/api/v1/auth/register", server.base))
            .json(&json!({ "email": "crash@example.com", "name": "Crash", "password": "correct-horse-battery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let prompt: Value = http
        .post(format!("{}/api/v1/prompts", server.base))
        .bearer_auth(&token)
        .json(&json!({ "name": "crashy", "content": {
            "messages": [{ "role": "user", "content": "Item {{ n }}" }],
            "params": { "provider": "openai_compat", "model": MODEL },
            "variables": [{ "name": "n", "kind": "number" }]
        }}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prompt_id = prompt["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::with_capacity(RUNS);
    for n in 0..RUNS {
        let res = http
            .post(format!("{}/api/v1/runs", server.base))
            .bearer_auth(&token)
            .json(&json!({ "prompt_id": prompt_id, "variables": { "n": n } }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        ids.push(v["run"]["id"].as_str().unwrap().to_owned());
    }
    say(
        t0,
        &format!("{RUNS} runs started, each streaming {TOKENS} words 100 ms apart"),
    );
    // Mid-flight: the runs are streaming (about two seconds each).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let queued = count(&http, &server.base, &token, "queued").await;
    let running = count(&http, &server.base, &token, "running").await;
    let pid = server.pid();
    server.kill9();
    say(
        t0,
        &format!("kill -9 {pid}; just before it, {queued} runs were queued and {running} running"),
    );
    assert!(
        queued + running > 0,
        "the kill came after every run had finished"
    );

    let server = Server::start(&db, &fake, port).await;
    say(
        t0,
        &format!("restarted on the same database (pid {})", server.pid()),
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut final_runs: Vec<Value>;
    let mut last_said = Instant::now();
    loop {
        final_runs = read_runs(&http, &server.base, &token, &ids).await;
        if last_said.elapsed() >= Duration::from_secs(1) {
            say(t0, &format!("recovering: {}", tally(&final_runs)));
            last_said = Instant::now();
        }
        let done = final_runs
            .iter()
            .filter(|r| {
                matches!(
                    r["status"].as_str(),
                    Some("succeeded" | "failed" | "canceled")
                )
            })
            .count();
        if done == RUNS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {RUNS} runs finished after the restart"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // None lost, none duplicated.
    let list = get_json(&http, &server.base, &token, "/api/v1/runs?per_page=1").await;
    assert_eq!(list["total"], RUNS as u64, "exactly the runs started");
    let expected: Vec<&str> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ]
    .iter()
    .cycle()
    .take(TOKENS)
    .copied()
    .collect();
    let expected = expected.join(" ");
    let mut retried = 0;
    for run in &final_runs {
        assert_eq!(run["status"], "succeeded", "every run completes: {run}");
        assert_eq!(
            run["output"],
            expected.as_str(),
            "output recorded exactly once: {run}"
        );
        assert_eq!(run["output_tokens"], TOKENS as u64);
        if run["attempts"].as_i64().unwrap() > 1 {
            retried += 1;
        }
    }
    assert!(
        retried > 0,
        "the kill interrupted runs that were then retried"
    );
    say(
        t0,
        &format!(
            "all {RUNS} runs final ({}); {retried} were interrupted and run again; the run \
             list holds exactly {RUNS}; every output is the {TOKENS} words once",
            tally(&final_runs)
        ),
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_flight_loses_nothing_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_flight_loses_nothing_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
