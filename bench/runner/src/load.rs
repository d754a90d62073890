//! The load test: mixed traffic (page loads, API reads, run starts) at a steady rate for a
//! fixed time, with many SSE subscribers connected throughout. Any error fails it.

use crate::procfs::cpu_seconds;
use crate::support::{
    client, setup_user, start_fake, start_run, start_server, summarize, Res, Summary,
};
use crate::Args;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Users the traffic and the subscribers are spread over.
const USERS: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Page,
    Read,
    Start,
}

pub struct LoadReport {
    pub seconds: u64,
    pub rps: u32,
    pub subscribers: usize,
    pub requests: usize,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub by_kind: Vec<(&'static str, Summary)>,
    pub all: Summary,
    pub sse_events: u64,
    pub sse_errors: u64,
    pub peak_rss_kb: u64,
    /// The server's CPU time (process and kernel) from the first request to the end, and
    /// how long that was.
    pub server_cpu_s: f64,
    pub cpu_window_s: f64,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "load: {} s at {} req/s with {} SSE subscribers: {} requests, {} errors, {} SSE events ({} stream errors), server peak RSS {:.1} MB, server CPU {:.1} s ({:.0} % of one core)",
            self.seconds, self.rps, self.subscribers, self.requests, self.errors, self.sse_events, self.sse_errors, self.peak_rss_kb as f64 / 1024.0,
            self.server_cpu_s, self.server_cpu_s * 100.0 / self.cpu_window_s.max(f64::EPSILON)
        )?;
        writeln!(f, "| traffic | requests | p50 ms | p99 ms | max ms |")?;
        writeln!(f, "|---|---:|---:|---:|---:|")?;
        for (name, s) in self
            .by_kind
            .iter()
            .chain(std::iter::once(&("all", self.all)))
        {
            writeln!(
                f,
                "| {name} | {} | {:.2} | {:.2} | {:.2} |",
                s.n, s.p50, s.p99, s.max
            )?;
        }
        for e in &self.first_errors {
            writeln!(f, "error: {e}")?;
        }
        Ok(())
    }
}

/// Run the load test; an error if any request or stream failed.
pub async fn run(args: &Args) -> Res<LoadReport> {
    let report = measure(args).await?;
    if report.errors > 0 || report.sse_errors > 0 {
        return Err(format!("{report}\nthe load test saw errors"));
    }
    Ok(report)
}

pub async fn measure(args: &Args) -> Res<LoadReport> {
    let fake = start_fake(&args.fake).await?;
    let env = [
        ("OPENAI_COMPAT_BASE_URL", format!("{}/v1", fake.base)),
        ("MOCK_TOKENS_PER_SECOND", "200".to_owned()),
        ("RUN_CONCURRENCY", "1024".to_owned()),
    ];
    let (server, _) = start_server(&args.server, &args.site, &env).await?;
    let base = server.base.clone();
    // Several users, as in a team: each request and each subscriber acts as one of them,
    // so a subscriber sees its own user's runs.
    let mut users = Vec::new();
    for _ in 0..USERS {
        users.push(setup_user(&base, "mock", "mock-1").await?);
    }
    let http = client();

    // Subscribers: the per-user run stream, held open for the whole test.
    let sse_events = Arc::new(AtomicU64::new(0));
    let sse_errors = Arc::new(AtomicU64::new(0));
    let stop = tokio::sync::watch::channel(false).0;
    let mut subs = Vec::new();
    for i in 0..args.subscribers {
        let (http, base, token) = (http.clone(), base.clone(), users[i % USERS].0.clone());
        let (events, errors, mut stop) = (sse_events.clone(), sse_errors.clone(), stop.subscribe());
        subs.push(tokio::spawn(async move {
            let res = http
                .get(format!("{base}/api/v1/runs/events"))
                .bearer_auth(&token)
                .send()
                .await;
            let Ok(res) = res.map_err(|_| errors.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            if res.status() != 200 {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let mut stream = res.bytes_stream().eventsource();
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    ev = stream.next() => match ev {
                        Some(Ok(_)) => { events.fetch_add(1, Ordering::Relaxed); }
                        Some(Err(_)) | None => { errors.fetch_add(1, Ordering::Relaxed); return; }
                    }
                }
            }
        }));
    }

    let pattern = [
        Kind::Read,
        Kind::Page,
        Kind::Start,
        Kind::Read,
        Kind::Page,
        Kind::Read,
        Kind::Start,
        Kind::Page,
        Kind::Read,
        Kind::Start,
    ];
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rps.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (cpu_before, cpu_since) = (cpu_seconds(server.pid()), Instant::now());
    let end = cpu_since + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0usize;
    while Instant::now() < end {
        ticker.tick().await;
        let kind = pattern[i % pattern.len()];
        let (token, prompt) = users[i % USERS].clone();
        let (http, base) = (http.clone(), base.clone());
        let n = i;
        tasks.spawn(async move {
            let t0 = Instant::now();
            let outcome: Res<()> = match kind {
                Kind::Page => {
                    let path = if n.is_multiple_of(2) {
                        format!("/prompts/{prompt}")
                    } else {
                        "/runs".to_owned()
                    };
                    check_page(
                        http.get(format!("{base}{path}"))
                            .bearer_auth(&token)
                            .send()
                            .await,
                        &path,
                    )
                    .await
                }
                Kind::Read => {
                    let path = if n.is_multiple_of(2) {
                        "/api/v1/runs?per_page=20".to_owned()
                    } else {
                        format!("/api/v1/prompts/{prompt}")
                    };
                    check(
                        http.get(format!("{base}{path}"))
                            .bearer_auth(&token)
                            .send()
                            .await,
                        &path,
                    )
                    .await
                }
                Kind::Start => start_run(&http, &base, &token, &prompt, &format!("load-{n}"))
                    .await
                    .map(|_| ()),
            };
            (kind, t0.elapsed(), outcome)
        });
        i += 1;
    }
    let mut lat: std::collections::HashMap<Kind, Vec<Duration>> = Default::default();
    let mut all = Vec::new();
    let (mut errors, mut first_errors) = (0u64, Vec::new());
    while let Some(r) = tasks.join_next().await {
        let Ok((kind, took, outcome)) = r else {
            errors += 1;
            continue;
        };
        if let Err(e) = outcome {
            errors += 1;
            if first_errors.len() < 5 {
                first_errors.push(e);
            }
        }
        lat.entry(kind).or_default().push(took);
        all.push(took);
    }
    // Let the started runs finish while subscribers still listen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peak_rss_kb = server.rss_kb().1;
    let cpu_after = cpu_seconds(server.pid());
    let cpu_window_s = cpu_since.elapsed().as_secs_f64();
    stop.send_replace(true);
    for s in subs {
        let _ = s.await;
    }
    let requests = all.len();
    let by_kind = [
        (Kind::Page, "page loads"),
        (Kind::Read, "API reads"),
        (Kind::Start, "run starts"),
    ]
    .into_iter()
    .map(|(k, name)| (name, summarize(lat.remove(&k).unwrap_or_default())))
    .collect();
    Ok(LoadReport {
        seconds: args.seconds,
        rps: args.rps,
        subscribers: args.subscribers,
        requests,
        errors,
        first_errors,
        by_kind,
        all: summarize(all),
        sse_events: sse_events.load(Ordering::Relaxed),
        sse_errors: sse_errors.load(Ordering::Relaxed),
        peak_rss_kb,
        server_cpu_s: (cpu_after.0 - cpu_before.0) + (cpu_after.1 - cpu_before.1),
        cpu_window_s,
    })
}

/// A page load: answered 2xx, and the document is whole: its head links the stylesheet and
/// has a title (both come from the app's render, so a render that lost its request's context
/// under load would show here), and the body holds the page's main element.
async fn check_page(res: Result<reqwest::Response, reqwest::Error>, what: &str) -> Res<()> {
    let body = fetch(res, what).await?;
    let html = String::from_utf8_lossy(&body);
    for (needle, missing) in [
        ("href=\"/pkg/promptlab.css\"", "the stylesheet link"),
        ("<title>", "a title"),
        ("<main class=\"page\">", "its main element"),
    ] {
        if !html.contains(needle) {
            return Err(format!("{what}: the page came without {missing}"));
        }
    }
    Ok(())
}

async fn check(res: Result<reqwest::Response, reqwest::Error>, what: &str) -> Res<()> {
    fetch(res, what).await.map(drop)
}

/// The whole body of a 2xx answer (the time includes reading it), or the error.
async fn fetch(res: Result<reqwest::Response, reqwest::Error>, what: &str) -> Res<Vec<u8>> {
    let res = res.map_err(|e| format!("{what}: {e}"))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| format!("{what}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ));
    }
    Ok(body.to_vec())
}
