//! The throughput benchmark: completed runs per second on a zero-latency provider, and in
//! the same run the raw SQLite ceiling for the same writes through the same driver.

use crate::report::{Goal, Section};
use crate::support::*;
use crate::Args;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub async fn throughput(args: &Args, runs: usize) -> Res<Section> {
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
    let ratio = 100.0 * rate / raw.max(1.0);
    let _ = writeln!(
        s,
        "- Ratio: PromptLab reaches **{ratio:.0}%** of the raw write ceiling through its own driver.\n"
    );
    let goals = vec![Goal::new(
        "throughput ≥ 2,000 runs/s (zero-latency provider, SQLite)",
        format!(
            "{rate:.0} runs/s, {ratio:.0}% of the raw ceiling ({raw:.0}); {errors} failed to start"
        ),
        rate >= 2000.0 && errors == 0 && succeeded as usize == runs,
    )];
    Ok(Section { text: s, goals })
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
                // Time-ordered, as the server's run ids are.
                let id = uuid::Uuid::now_v7();
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
