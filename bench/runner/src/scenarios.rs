//! The benchmarks: footprint, overhead, throughput (with the raw SQLite ceiling),
//! concurrency, and the load test, written to `bench/RESULTS.md`.

use crate::overhead::overhead;
use crate::support::*;
use crate::Args;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub async fn all(args: &Args) -> Res<()> {
    let mut out = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(out, "# PromptLab benchmark results\n");
    let _ = writeln!(
        out,
        "Written by `bench/run.sh` (`promptlab-bench all`) on {date}.\n"
    );
    let _ = writeln!(out, "- Machine: {}", machine());
    let _ = writeln!(out, "- Server: `{}` (release build), SQLite in a temp directory, fake provider process on loopback (`{}`).", args.server.display(), args.fake.display());
    let _ = writeln!(out, "- Client: this program, in its own process on the same machine (so it competes for the same cores).\n");

    let want = |name: &str| {
        args.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };
    if want("footprint") {
        eprintln!("footprint…");
        out.push_str(&footprint(args).await?);
    }
    if want("overhead") {
        eprintln!("overhead…");
        let seconds = if args.quick { 3 } else { 10 };
        out.push_str(&overhead(args, &[100, 500], seconds).await?);
    }
    if want("throughput") {
        eprintln!("throughput…");
        out.push_str(&throughput(args, if args.quick { 1000 } else { 5000 }).await?);
    }
    if want("concurrency") {
        eprintln!("concurrency…");
        out.push_str(&concurrency(args, if args.quick { 1000 } else { 10_000 }).await?);
    }
    if want("load") {
        eprintln!("load…");
        let load_args = Args {
            seconds: if args.quick { 10 } else { 60 },
            server: args.server.clone(),
            fake: args.fake.clone(),
            site: args.site.clone(),
            out: None,
            only: None,
            quick: args.quick,
            rps: args.rps,
            subscribers: args.subscribers,
        };
        let report = crate::load::measure(&load_args).await?;
        let _ = writeln!(out, "## Load test\n\nMixed traffic for {} s at {} requests/s (3 in 10 page loads of `/prompts/{{id}}` and `/runs`, 4 in 10 API reads, 3 in 10 run starts on the mock at 200 tokens/s), spread over 20 users, with {} clients subscribed to their user's run stream (SSE) throughout. Latency is per request, body included.\n", report.seconds, report.rps, report.subscribers);
        let _ = writeln!(out, "```\n{report}```\n");
    }
    if let Some(path) = &args.out {
        std::fs::write(path, &out).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    println!("{out}");
    Ok(())
}

fn gzip_len(path: &std::path::Path) -> u64 {
    std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

async fn footprint(args: &Args) -> Res<String> {
    let mut ready = Vec::new();
    let mut idle_rss = 0;
    for i in 0..5 {
        let (server, took) = start_server(&args.server, &args.site, &[]).await?;
        ready.push(took);
        if i == 4 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            idle_rss = server.rss_kb().0;
        }
    }
    let r = summarize(ready);
    let mut s = String::from("## Footprint\n\n");
    let _ = writeln!(s, "Start-up: process spawn to the first `200` from `/health/ready` on a new, empty SQLite database (migrations included), 5 starts: median {:.0} ms, max {:.0} ms (goal ≤ 300 ms).\n", r.p50, r.max);
    let _ = writeln!(
        s,
        "Idle RSS 2 s after start: {:.1} MB (goal ≤ 25 MB).\n",
        idle_rss as f64 / 1024.0
    );
    s.push_str(&wasm_sizes(&args.site.join("pkg")));
    Ok(s)
}

/// The shipped wasm and JS: every file, and what a first visit to each kind of page
/// downloads. The bundle is split by route (`cargo leptos build --split`): every page needs
/// the main module, its JS glue and the split loader; a lazy route also needs the chunks the
/// splitter's manifest lists for its view.
fn wasm_sizes(pkg: &std::path::Path) -> String {
    // File name -> (raw, gzip -9) bytes, for the wasm and JS files.
    let sizes: std::collections::BTreeMap<String, (u64, u64)> = std::fs::read_dir(pkg)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("wasm" | "js")))
        .map(|f| {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            (name, (len, gzip_len(&f)))
        })
        .collect();
    let kb = |b: u64| b as f64 / 1000.0;
    let sum = |names: &mut dyn Iterator<Item = &str>| {
        names.fold((0, 0, 0), |(n, r, g), name| {
            let (len, gz) = sizes.get(name).copied().unwrap_or((0, 0));
            (n + 1, r + len, g + gz)
        })
    };
    let (_, raw, gz) = sum(&mut sizes.keys().map(String::as_str));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Shipped wasm + JS (`{}`): {} files, {:.1} kB raw, {:.1} kB gzip -9 in all.\n",
        pkg.display(),
        sizes.len(),
        kb(raw),
        kb(gz)
    );
    let main: Vec<&str> = sizes
        .keys()
        .map(String::as_str)
        .filter(|n| *n == "promptlab.wasm" || *n == "promptlab.js" || n.starts_with("__wasm_split"))
        .collect();
    let manifest: serde_json::Map<String, serde_json::Value> =
        std::fs::read_to_string(pkg.join("__wasm_split_manifest.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
    let _ = writeln!(
        s,
        "What a first visit downloads (goal ≤ 250 kB gzip), from the splitter's manifest:\n\n| page | files | raw | gzip -9 |\n|---|---:|---:|---:|"
    );
    let (n, r, g) = sum(&mut main.iter().copied());
    let _ = writeln!(
        s,
        "| sign-in, register, home (main bundle: {}) | {n} | {:.1} kB | {:.1} kB |",
        main.join(", "),
        kb(r),
        kb(g)
    );
    // One entry per lazy function; here those are the lazy routes' views.
    for (key, chunks) in &manifest {
        let chunks: Vec<String> = chunks
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str())
                    .map(|c| format!("{c}.wasm"))
                    .collect()
            })
            .unwrap_or_default();
        let (n, r, g) = sum(&mut main
            .iter()
            .copied()
            .chain(chunks.iter().map(String::as_str)));
        let page = key
            .trim_start_matches('_')
            .split("_view_")
            .next()
            .unwrap_or(key);
        let _ = writeln!(
            s,
            "| `{page}` (main + {} chunks) | {n} | {:.1} kB | {:.1} kB |",
            chunks.len(),
            kb(r),
            kb(g)
        );
    }
    if manifest.is_empty() {
        let _ = writeln!(s, "| (no split manifest: built without `--split`) | | | |");
    }
    s.push('\n');
    s
}

async fn throughput(args: &Args, runs: usize) -> Res<String> {
    let env = [
        ("MOCK_TOKENS_PER_SECOND", "0".to_owned()),
        ("RUN_CONCURRENCY", "256".to_owned()),
        ("RUN_CACHE_TTL_SECS", "0".to_owned()),
    ];
    let (server, _) = start_server(&args.server, &args.site, &env).await?;
    let (token, prompt) = setup_user(&server.base, "mock", "mock-1").await?;
    let http = client();
    let t0 = Instant::now();
    let errors = start_many(&http, &server.base, &token, &prompt, runs, 64, "t").await;
    let submitted = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = count(&http, &server.base, &token, "succeeded").await?
            + count(&http, &server.base, &token, "failed").await?;
        if done as usize >= runs - errors || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t0.elapsed();
    let succeeded = count(&http, &server.base, &token, "succeeded").await?;
    let rate = succeeded as f64 / elapsed.as_secs_f64();
    let raw_pool = raw_sqlite(runs, RawDriver::Pool).await?;
    let raw = raw_sqlite(runs, RawDriver::Writer).await?;
    let mut s = String::from("## Throughput\n\n");
    let _ = writeln!(s, "{runs} runs on the built-in mock at zero latency (`MOCK_TOKENS_PER_SECOND=0`, 60 words each), started by 64 concurrent HTTP clients through `POST /api/v1/runs`; the clock stops when all are `succeeded` (polled through the API). Submission took {:.2} s.\n", submitted.as_secs_f64());
    let _ = writeln!(s, "- Through PromptLab: **{rate:.0} runs/s** ({succeeded} succeeded, {errors} failed to start) in {:.2} s. Goal ≥ 2,000 runs/s.", elapsed.as_secs_f64());
    let _ = writeln!(s, "- Raw SQLite ceiling: one insert and two updates per run from 64 concurrent tasks, in this process, on the store's settings (WAL, synchronous=NORMAL). Through the run path's own driver (`store::sqlite_writer`: one connection on a thread of its own, group commit): **{raw:.0} runs/s**. One statement at a time through sea-orm and sqlx's pool of 8, as the rest of the store writes: {raw_pool:.0} runs/s.");
    let _ = writeln!(
        s,
        "- Ratio: PromptLab reaches **{:.0}%** of the raw write ceiling through its own driver.\n",
        100.0 * rate / raw.max(1.0)
    );
    Ok(s)
}

/// How the raw ceiling's writes reach SQLite.
#[derive(Clone, Copy)]
enum RawDriver {
    /// One statement at a time through sea-orm and sqlx's pool (the store's settings).
    Pool,
    /// Through the writer thread the run path writes with (`store::sqlite_writer`: one
    /// connection of its own, same settings, group commit).
    Writer,
}

/// Insert + two updates per run, from 64 concurrent tasks, through `driver`.
async fn raw_sqlite(runs: usize, driver: RawDriver) -> Res<f64> {
    use promptlab::store::runs as r;
    use sea_orm::sea_query::Expr;
    use sea_orm::{
        ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Set,
    };
    let dir = temp_dir("raw");
    let file = dir.0.join("raw.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let vars: std::collections::HashMap<String, String> =
        [("DATABASE_URL".to_owned(), url.clone())].into();
    let config = promptlab::config::Config::from_vars(&vars).map_err(|e| e.to_string())?;
    let engine = promptlab::engine::Engine::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let signed = engine
        .register(promptlab::accounts::RegisterRequest {
            email: "raw@example.com".into(),
            name: "Raw".into(),
            password: "correct-horse-battery".into(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let who = engine
        .authenticate(&signed.token)
        .await
        .map_err(|e| e.to_string())?;
    let prompt = promptlab::prompts::service::create(
        engine.db(),
        &who,
        promptlab::prompts::NewPrompt {
            project_id: None,
            name: "raw".into(),
            description: String::new(),
            tags: vec![],
            content: None,
            note: String::new(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let writer = match driver {
        RawDriver::Pool => None,
        RawDriver::Writer => Some(std::sync::Arc::new(
            promptlab::store::sqlite_writer::Writer::open(&file)
                .await
                .map_err(|e| e.to_string())?,
        )),
    };
    let t0 = Instant::now();
    let workers = 64;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let db = engine.db().clone();
        let writer = writer.clone();
        let (project, pid, user) = (prompt.project_id, prompt.id, who.user.id);
        let write = move |stmt: sea_orm::Statement| {
            let (db, writer) = (db.clone(), writer.clone());
            async move {
                match writer {
                    Some(w) => w.write(stmt).await.map(drop),
                    None => db.execute_raw(stmt).await.map(drop),
                }
                .map_err(|e| e.to_string())
            }
        };
        set.spawn(async move {
            for n in (w..runs).step_by(workers) {
                let now = chrono::Utc::now();
                let id = uuid::Uuid::new_v4();
                let row = r::ActiveModel {
                    id: Set(id),
                    project_id: Set(project),
                    prompt_id: Set(pid),
                    version_number: Set(1),
                    created_by: Set(user),
                    status: Set("queued".into()),
                    provider: Set("mock".into()),
                    model: Set("mock-1".into()),
                    params: Set("{}".into()),
                    variables: Set(format!("{{\"n\":\"{n}\"}}")),
                    messages: Set("[]".into()),
                    run_key: Set(format!("{n:064}")),
                    cached: Set(false),
                    idempotency_key: Set(None),
                    output: Set(String::new()),
                    error_code: Set(None),
                    error_message: Set(None),
                    attempts: Set(0),
                    input_tokens: Set(None),
                    output_tokens: Set(None),
                    cost_usd: Set(None),
                    provider_model: Set(None),
                    latency_ms: Set(None),
                    ttft_ms: Set(None),
                    queued_at: Set(now),
                    started_at: Set(None),
                    finished_at: Set(None),
                    lease_owner: Set(None),
                    lease_expires_at: Set(None),
                    cancel_requested: Set(false),
                };
                // With RETURNING, as the run path's insert (and sea-orm's own) has it.
                let mut insert = r::Entity::insert(row).into_query();
                insert.returning_all();
                write(DbBackend::Sqlite.build(&insert)).await?;
                write(
                    r::Entity::update_many()
                        .col_expr(r::Column::Status, Expr::value("running"))
                        .col_expr(r::Column::StartedAt, Expr::value(now))
                        .filter(r::Column::Id.eq(id))
                        .build(DbBackend::Sqlite),
                )
                .await?;
                write(
                    r::Entity::update_many()
                        .col_expr(r::Column::Status, Expr::value("succeeded"))
                        .col_expr(
                            r::Column::Output,
                            Expr::value("the prompt asks for a clear answer ".repeat(10)),
                        )
                        .col_expr(r::Column::FinishedAt, Expr::value(chrono::Utc::now()))
                        .filter(r::Column::Id.eq(id))
                        .build(DbBackend::Sqlite),
                )
                .await?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    let rate = runs as f64 / t0.elapsed().as_secs_f64();
    engine.close().await;
    Ok(rate)
}

async fn concurrency(args: &Args, runs: usize) -> Res<String> {
    let fake = start_fake(&args.fake).await?;
    let env = [
        ("OPENAI_COMPAT_BASE_URL", format!("{}/v1", fake.base)),
        ("RUN_CONCURRENCY", (runs + 100).to_string()),
        ("RUN_CACHE_TTL_SECS", "0".to_owned()),
        ("RUN_LEASE_MS", "60000".to_owned()),
    ];
    let (server, _) = start_server(&args.server, &args.site, &env).await?;
    // 10 words, one per second: a 10-second stream.
    let (token, prompt) =
        setup_user(&server.base, "openai_compat", "long:tokens=10,delay=1000").await?;
    let http = client();
    let t0 = Instant::now();
    let start_errors = start_many(&http, &server.base, &token, &prompt, runs, 128, "c").await;
    let submitted = t0.elapsed();
    let mut max_running = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let (mut succeeded, mut failed);
    loop {
        let running = count(&http, &server.base, &token, "running").await?;
        max_running = max_running.max(running);
        succeeded = count(&http, &server.base, &token, "succeeded").await?;
        failed = count(&http, &server.base, &token, "failed").await?;
        if (succeeded + failed) as usize >= runs - start_errors || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, peak) = server.rss_kb();
    let (_, fake_peak) = fake.rss_kb();
    let mut s = String::from("## Concurrency\n\n");
    let _ = writeln!(s, "{runs} runs started as fast as 128 HTTP clients can (took {:.1} s), each a 10-second stream (10 words, one per second) from the fake provider, with `RUN_CONCURRENCY={}`.\n", submitted.as_secs_f64(), runs + 100);
    let _ = writeln!(
        s,
        "- Most runs in flight at once (status `running`, sampled every 250 ms): **{max_running}**"
    );
    let _ = writeln!(s, "- Completed: **{succeeded}** succeeded, {failed} failed, {start_errors} failed to start, in {:.1} s from the first start. Goal: all complete, 0 errors.", t0.elapsed().as_secs_f64());
    let _ = writeln!(s, "- Server peak RSS (VmHWM): **{:.1} MB** (goal ≤ 256 MB). The fake provider's own peak, for scale: {:.1} MB.\n", peak as f64 / 1024.0, fake_peak as f64 / 1024.0);
    Ok(s)
}
