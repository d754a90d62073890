//! The overhead benchmark: time to first token and to completion through PromptLab (two
//! requests, or one streaming start) minus the same straight against the fake provider,
//! at fixed rates, in interleaved windows.

use crate::report::{Goal, Section};
use crate::support::*;
use crate::Args;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Time to first text and to completion of one streamed request straight to the fake.
async fn direct_once(
    http: &reqwest::Client,
    fake: &str,
    model: &str,
    n: usize,
) -> Res<(Duration, Duration)> {
    let t0 = Instant::now();
    let res = http
        .post(format!("{fake}/v1/chat/completions"))
        .json(
            &json!({ "model": model, "stream": true, "stream_options": { "include_usage": true },
            "messages": [{ "role": "user", "content": format!("Request {n}") }] }),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let mut events = res.bytes_stream().eventsource();
    let mut first = None;
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| e.to_string())?;
        if ev.data.trim() == "[DONE]" {
            return Ok((first.unwrap_or_else(|| t0.elapsed()), t0.elapsed()));
        }
        if first.is_none() {
            let v: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
            if v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
            {
                first = Some(t0.elapsed());
            }
        }
    }
    Err("stream ended without [DONE]".into())
}

/// How a client follows a run through PromptLab.
#[derive(Clone, Copy)]
pub(crate) enum Path {
    /// `POST /api/v1/runs`, then `GET /api/v1/runs/{id}/events`: two requests.
    StartThenEvents,
    /// `POST /api/v1/runs` with `Accept: text/event-stream`: the answer is the stream.
    StreamingStart,
}

/// The same through PromptLab: start the run, follow its events from the first one.
pub(crate) async fn through_once(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    prompt: &str,
    n: usize,
    path: Path,
) -> Res<(Duration, Duration)> {
    let t0 = Instant::now();
    let mut started = None;
    let res = match path {
        Path::StartThenEvents => {
            let id = start_run(http, base, token, prompt, &format!("o{n}")).await?;
            started = Some(t0.elapsed());
            http.get(format!("{base}/api/v1/runs/{id}/events"))
                .bearer_auth(token)
                .header("Last-Event-ID", "0")
                .send()
                .await
        }
        Path::StreamingStart => {
            http.post(format!("{base}/api/v1/runs"))
                .bearer_auth(token)
                .header("Accept", "text/event-stream")
                .json(&json!({ "prompt_id": prompt, "variables": { "n": format!("s{n}") } }))
                .send()
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("run stream: {}", res.status()));
    }
    let id = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| res.url().path().to_owned());
    let headers = t0.elapsed();
    let mut events = res.bytes_stream().eventsource();
    let mut first = None;
    // Each event's name and arrival, for the slow-request log (`BENCH_SLOW_MS`).
    let mut seen: Vec<(String, Duration)> = Vec::new();
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| e.to_string())?;
        if seen.len() < 4 {
            seen.push((ev.event.clone(), t0.elapsed()));
        }
        match ev.event.as_str() {
            "delta" if first.is_none() => first = Some(t0.elapsed()),
            "snapshot" if first.is_none() => {
                let v: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
                if v["output"].as_str().is_some_and(|o| !o.is_empty()) {
                    first = Some(t0.elapsed());
                }
            }
            "succeeded" => {
                let got = (first.unwrap_or_else(|| t0.elapsed()), t0.elapsed());
                log_if_slow(&id, got.0, started, headers, &seen);
                return Ok(got);
            }
            "failed" | "canceled" => return Err(format!("run {id} ended {}", ev.event)),
            _ => {}
        }
    }
    Err(format!("run {id}: stream ended early"))
}

/// With `BENCH_SLOW_MS=<ms>`, print to stderr where the time went for each request
/// whose first token took longer: the start's answer (two requests), the stream's
/// headers and its first events, each in ms from the clock's start.
fn log_if_slow(
    id: &str,
    ttft: Duration,
    started: Option<Duration>,
    headers: Duration,
    seen: &[(String, Duration)],
) {
    static SLOW: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    let Some(limit) = *SLOW.get_or_init(|| {
        std::env::var("BENCH_SLOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    }) else {
        return;
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if ms(ttft) <= limit {
        return;
    }
    let events: Vec<String> = seen
        .iter()
        .map(|(name, at)| format!("{name}@{:.1}", ms(*at)))
        .collect();
    eprintln!(
        "slow run {id}: ttft {:.1}, started {}, headers {:.1}, events {}",
        ms(ttft),
        started.map_or("-".to_owned(), |d| format!("{:.1}", ms(d))),
        ms(headers),
        events.join(" ")
    );
}

/// Fire `once` at a fixed rate for `seconds`; collect (ttft, total) and errors.
pub(crate) async fn at_rate<F, Fut>(
    rate: u32,
    seconds: u64,
    once: F,
) -> (Vec<Duration>, Vec<Duration>, usize, Vec<String>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Res<(Duration, Duration)>> + Send + 'static,
{
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = rate as usize * seconds as usize;
    let mut set = tokio::task::JoinSet::new();
    for n in 0..total {
        ticker.tick().await;
        set.spawn(once(n));
    }
    let (mut ttft, mut done, mut errors, mut samples) = (Vec::new(), Vec::new(), 0, Vec::new());
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok((a, b))) => {
                ttft.push(a);
                done.push(b);
            }
            Ok(Err(e)) => {
                errors += 1;
                if samples.len() < 3 {
                    samples.push(e);
                }
            }
            Err(e) => {
                errors += 1;
                samples.push(e.to_string());
            }
        }
    }
    (ttft, done, errors, samples)
}

/// What one path's windows collected at one rate.
#[derive(Default)]
struct Samples {
    ttft: Vec<Duration>,
    done: Vec<Duration>,
    errors: usize,
    error_samples: Vec<String>,
    /// p99 (TTFT, completion) of each round's window, in ms.
    round_p99: Vec<(f64, f64)>,
}

impl Samples {
    fn add(&mut self, window: (Vec<Duration>, Vec<Duration>, usize, Vec<String>)) {
        let (ttft, done, errors, samples) = window;
        self.round_p99
            .push((summarize(ttft.clone()).p99, summarize(done.clone()).p99));
        self.ttft.extend(ttft);
        self.done.extend(done);
        self.errors += errors;
        for e in samples {
            if self.error_samples.len() < 3 {
                self.error_samples.push(e);
            }
        }
    }
}

/// The three ways of asking, in a round's order.
#[derive(Clone, Copy)]
enum Way {
    Direct,
    Through(Path),
}

const WAYS: [(Way, &str); 3] = [
    (Way::Direct, "direct"),
    (Way::Through(Path::StartThenEvents), "PromptLab, 2 requests"),
    (
        Way::Through(Path::StreamingStart),
        "PromptLab, streaming start",
    ),
];

/// Overhead at each rate: `rounds` rounds of one `seconds` window per way of asking, the
/// order rotated each round, so that each way meets the same spread of the machine's
/// moments; percentiles are taken over all rounds' samples.
pub async fn overhead(args: &Args, rates: &[u32], seconds: u64, rounds: usize) -> Res<Section> {
    let fake = start_fake(&args.fake).await?;
    let env = [
        ("OPENAI_COMPAT_BASE_URL", format!("{}/v1", fake.base)),
        ("RUN_CONCURRENCY", "4096".to_owned()),
        ("RUN_CACHE_TTL_SECS", "0".to_owned()),
    ];
    let (server, _) = start_server(&args.server, &args.site, &env).await?;
    // 10 words, 5 ms apart: a 50 ms stream.
    let model = "bench:tokens=10,delay=5";
    let (token, prompt) = setup_user(&server.base, "openai_compat", model).await?;
    let http = client();
    let mut s = String::from("## Overhead\n\n");
    let _ = writeln!(s, "Each request streams 10 words 5 ms apart from the fake provider, which keeps its pauses on a timer thread of its own to within a fraction of a millisecond (tokio's timers would round each pause up to the next millisecond of the fake's clock, by an amount that depends on when the request arrived: noise as large as the goal, and not the same for a request that arrives later through PromptLab). *Direct*: an SSE client posts to the fake's `/v1/chat/completions`. *Through PromptLab, 2 requests*: the client posts `/api/v1/runs` (the cache cannot hit: every request has new variables), then reads `/api/v1/runs/{{id}}/events` from the first event. *Through PromptLab, streaming start*: one `POST /api/v1/runs` with `Accept: text/event-stream`, whose answer is the run's event stream. The clock starts before the POST. Time to first token (TTFT) is the first text; completion is `[DONE]` / `succeeded` (sent once the run's final state is committed). Requests are sent at a fixed rate in windows of {seconds} s: {rounds} round(s) of one window per way, the order rotated each round, so the three ways share the machine's good and bad moments; percentiles are over all rounds. *Added* is the through figure minus the direct one at the same percentile. Goal: p99 added ≤ 1 ms.\n");
    let _ = writeln!(s, "| rate | path | n | errors | TTFT p50 | TTFT p99 | TTFT max | done p50 | done p99 | done max |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut notes = String::new();
    let mut goals = Vec::new();
    for &rate in rates {
        let mut got: [Samples; 3] = Default::default();
        for round in 0..rounds {
            for k in 0..WAYS.len() {
                let i = (k + round) % WAYS.len();
                let (h, f, b, t, p) = (
                    http.clone(),
                    fake.base.clone(),
                    server.base.clone(),
                    token.clone(),
                    prompt.clone(),
                );
                let way = WAYS[i].0;
                let window = at_rate(rate, seconds, move |n| {
                    let (h, f, b, t, p) = (h.clone(), f.clone(), b.clone(), t.clone(), p.clone());
                    async move {
                        match way {
                            Way::Direct => direct_once(&h, &f, model, n).await,
                            // Distinct variables per round: no run hits another's key.
                            Way::Through(path) => {
                                through_once(&h, &b, &t, &p, round * 1_000_000 + n, path).await
                            }
                        }
                    }
                })
                .await;
                got[i].add(window);
            }
        }
        let [direct, through @ ..] = &got;
        let (dt, dd) = (
            summarize(direct.ttft.clone()),
            summarize(direct.done.clone()),
        );
        let _ = writeln!(
            s,
            "| {rate}/s | direct | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            dd.n, direct.errors, dt.p50, dt.p99, dt.max, dd.p50, dd.p99, dd.max
        );
        for e in &direct.error_samples {
            let _ = writeln!(notes, "- error sample at {rate}/s, direct: {e}");
        }
        // The same client and fake, window to window: how far a p99 moves with nothing
        // changed, the scale against which the added figures are read.
        let direct_rounds: Vec<String> = direct
            .round_p99
            .iter()
            .map(|(t, d)| format!("{t:.2} / {d:.2}"))
            .collect();
        let _ = writeln!(
            notes,
            "- {rate}/s, direct: p99 (TTFT / completion) of each round's window: {}",
            direct_rounds.join("; ")
        );
        for (t, (_, label)) in through.iter().zip(&WAYS[1..]) {
            let (tt, td) = (summarize(t.ttft.clone()), summarize(t.done.clone()));
            let _ = writeln!(
                s,
                "| {rate}/s | {label} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                td.n, t.errors, tt.p50, tt.p99, tt.max, td.p50, td.p99, td.max
            );
            let (added_ttft, added_done) = (tt.p99 - dt.p99, td.p99 - dd.p99);
            let _ = writeln!(
                s,
                "| {rate}/s | **added**, {label} | | | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                tt.p50 - dt.p50,
                added_ttft,
                tt.max - dt.max,
                td.p50 - dd.p50,
                added_done,
                td.max - dd.max
            );
            for e in &t.error_samples {
                let _ = writeln!(notes, "- error sample at {rate}/s, {label}: {e}");
            }
            // Each round on its own, against that round's direct window: the spread
            // one window would have shown.
            let per_round: Vec<String> = t
                .round_p99
                .iter()
                .zip(&direct.round_p99)
                .map(|(a, d)| format!("{:+.2} / {:+.2}", a.0 - d.0, a.1 - d.1))
                .collect();
            let _ = writeln!(
                notes,
                "- {rate}/s, {label}: p99 added (TTFT / completion) in each round's windows alone: {}",
                per_round.join("; ")
            );
            goals.push(Goal::new(
                format!("p99 added ≤ 1 ms at {rate} runs/s, {label}"),
                format!("TTFT {added_ttft:+.2} ms, completion {added_done:+.2} ms"),
                added_ttft <= 1.0 && added_done <= 1.0 && t.errors == 0,
            ));
        }
    }
    let _ = writeln!(s, "\nAll times in ms.\n\n{notes}");
    Ok(Section { text: s, goals })
}
