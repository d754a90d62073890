//! Processes under test (the server and the fake provider), HTTP helpers, statistics.
//! What /proc says about them and the machine is in `procfs`.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, String>;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(39_000)
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub base: String,
    _dir: Option<TempDir>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Ask the process to stop (SIGTERM, as a service manager would) and wait for it to
    /// exit, up to `within`; a profiler it runs under writes its output on the way out.
    pub async fn terminate(mut self, within: Duration) -> Res<()> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {} failed", self.pid()));
        }
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(None) => {
                    return Err(format!(
                        "process {} still running after {within:?}",
                        self.pid()
                    ))
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    /// (current RSS, peak RSS) in kB, from /proc.
    pub fn rss_kb(&self) -> (u64, u64) {
        crate::procfs::rss_kb(self.pid())
    }
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!(
        "promptlab-bench-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let _ = std::fs::create_dir_all(&d);
    TempDir(d)
}

pub async fn wait_ready(url: &str, timeout: Duration) -> Res<Duration> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > timeout {
            return Err(format!("{url} not ready after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn start_fake(bin: &Path) -> Res<Proc> {
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let p = Proc {
        child,
        base,
        _dir: None,
    };
    // The fake has no health route; any answer means it listens.
    let client = reqwest::Client::new();
    for _ in 0..500 {
        if client
            .get(format!("{}/requests", p.base))
            .send()
            .await
            .is_ok()
        {
            return Ok(p);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the fake provider did not start".into())
}

/// `BENCH_SERVER_WRAP="valgrind --tool=callgrind …"`: the command the server runs under
/// (`bench/profile.sh`), if any.
pub fn server_wrap() -> Option<String> {
    std::env::var("BENCH_SERVER_WRAP")
        .ok()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
}

/// Start the server on a fresh SQLite file; returns it and the time to `/health/ready`.
pub async fn start_server(
    bin: &Path,
    site: &Path,
    env: &[(&str, String)],
) -> Res<(Proc, Duration)> {
    let dir = temp_dir("server");
    let port = free_port();
    let started = Instant::now();
    let wrap = server_wrap().unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    // Under a profiler the server starts much more slowly.
    let ready_within = Duration::from_secs(if wrap.is_empty() { 30 } else { 300 });
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}/bench.db?mode=rwc", dir.0.display()),
    )
    .env("JWT_SECRET", "benchmark-secret-0123456789abcdef0123456789")
    .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
    .env("LEPTOS_SITE_ROOT", site)
    .env("LEPTOS_OUTPUT_NAME", "promptlab")
    .env("AUTH_RATE_BURST", "1000")
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // `BENCH_SERVER_LOG=<file>`: the server's log goes to that file, with each run's
    // write times (`promptlab::timing` debug events; `bench/timing.py` sums them up).
    if let Ok(path) = std::env::var("BENCH_SERVER_LOG") {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("opening {path}: {e}"))?;
        cmd.env("RUST_LOG", "warn,promptlab::timing=debug")
            .env("NO_COLOR", "1")
            .stdout(log);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let p = Proc {
        child,
        base,
        _dir: Some(dir),
    };
    wait_ready(&format!("{}/health/ready", p.base), ready_within).await?;
    Ok((p, started.elapsed()))
}

/// A client for many concurrent requests on loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_default()
}

/// Register a user and create a prompt whose v1 runs on `provider`/`model`.
/// Returns (token, prompt id).
pub async fn setup_user(base: &str, provider: &str, model: &str) -> Res<(String, String)> {
    let http = client();
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let reg: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "email": email, "name": "Bench", "password": "correct-horse-battery" }))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = reg["token"]
        .as_str()
        .ok_or(format!("register: {reg}"))?
        .to_owned();
    let prompt: Value = http
        .post(format!("{base}/api/v1/prompts"))
        .bearer_auth(&token)
        .json(
            &json!({ "name": format!("bench-{}", uuid::Uuid::new_v4().simple()), "content": {
                "messages": [{ "role": "user", "content": "Request {{ n }}" }],
                "params": { "provider": provider, "model": model },
                "variables": [{ "name": "n", "kind": "string" }]
            }}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let id = prompt["id"]
        .as_str()
        .ok_or(format!("prompt: {prompt}"))?
        .to_owned();
    Ok((token, id))
}

/// Start one run; returns its id.
pub async fn start_run(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    prompt: &str,
    n: &str,
) -> Res<String> {
    let res = http
        .post(format!("{base}/api/v1/runs"))
        .bearer_auth(token)
        .json(&json!({ "prompt_id": prompt, "variables": { "n": n } }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let v: Value = res.json().await.map_err(|e| e.to_string())?;
    if status != 201 {
        return Err(format!("start run: {status} {v}"));
    }
    v["run"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no run id".into())
}

/// Start `runs` runs from `submitters` concurrent clients (variables `{tag}{n}`, so none
/// hits the cache); returns how many failed to start.
pub async fn start_many(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    prompt: &str,
    runs: usize,
    submitters: usize,
    tag: &'static str,
) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..submitters {
        let (h, b, t, p) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            prompt.to_owned(),
        );
        set.spawn(async move {
            let mut errors = 0;
            for n in (w..runs).step_by(submitters) {
                if start_run(&h, &b, &t, &p, &format!("{tag}{n}"))
                    .await
                    .is_err()
                {
                    errors += 1;
                }
            }
            errors
        });
    }
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        // A submitter that died counts all its runs as failed.
        errors += r.unwrap_or(runs.div_ceil(submitters));
    }
    errors
}

/// Count of the user's runs with a status.
pub async fn count(http: &reqwest::Client, base: &str, token: &str, status: &str) -> Res<u64> {
    let v: Value = http
        .get(format!("{base}/api/v1/runs?status={status}&per_page=1"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    v["total"].as_u64().ok_or(format!("count: {v}"))
}

/// Percentiles of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn summarize(mut xs: Vec<Duration>) -> Summary {
    if xs.is_empty() {
        return Summary::default();
    }
    xs.sort();
    let q = |p: f64| {
        let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
        xs[i].as_secs_f64() * 1000.0
    };
    Summary {
        n: xs.len(),
        p50: q(0.50),
        p99: q(0.99),
        max: xs[xs.len() - 1].as_secs_f64() * 1000.0,
    }
}
