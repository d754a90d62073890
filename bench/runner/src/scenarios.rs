//! The benchmarks, run in order and written to `bench/RESULTS.md`: footprint, overhead,
//! throughput (with the raw SQLite ceiling), concurrency and the load test, with the goals
//! each measured in one table at the top.

use crate::concurrency::concurrency;
use crate::footprint::footprint;
use crate::overhead::overhead;
use crate::report::{goals_table, Goal, Section};
use crate::support::*;
use crate::throughput::throughput;
use crate::Args;
use std::fmt::Write as _;

pub async fn all(args: &Args) -> Res<()> {
    let mut out = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(out, "# PromptLab benchmark results\n");
    let _ = writeln!(
        out,
        "Written by `bench/run.sh` (`promptlab-bench all`) on {date}, at commit {}. Every line of this file comes from that run; what the figures mean against the goals, the profiles behind the misses and earlier rounds are in `bench/ANALYSIS.md`.\n",
        commit()
    );
    let _ = writeln!(out, "- Machine: {}", crate::procfs::machine());
    let _ = writeln!(out, "- Server: `{}` (release build), SQLite in a temp directory, fake provider process on loopback (`{}`).", args.server.display(), args.fake.display());
    let _ = writeln!(out, "- Client: this program, in its own process on the same machine (so it competes for the same cores).\n");

    let want = |name: &str| {
        args.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };
    let mut sections: Vec<Section> = Vec::new();
    if want("footprint") {
        eprintln!("footprint…");
        sections.push(footprint(args).await?);
    }
    if want("overhead") {
        eprintln!("overhead…");
        let (seconds, rounds) = if args.quick { (3, 1) } else { (10, 3) };
        sections.push(overhead(args, &[100, 500], seconds, rounds).await?);
    }
    if want("throughput") {
        eprintln!("throughput…");
        sections.push(throughput(args, if args.quick { 1000 } else { 5000 }).await?);
    }
    if want("concurrency") {
        eprintln!("concurrency…");
        sections.push(concurrency(args, if args.quick { 1000 } else { 10_000 }).await?);
    }
    if want("load") {
        eprintln!("load…");
        sections.push(load(args).await?);
    }
    let goals: Vec<Goal> = sections
        .iter_mut()
        .flat_map(|s| s.goals.drain(..))
        .collect();
    out.push_str(&goals_table(&goals));
    for s in &sections {
        out.push_str(&s.text);
    }
    if let Some(path) = &args.out {
        std::fs::write(path, &out).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    println!("{out}");
    Ok(())
}

/// The load test as a section of the report (`promptlab-bench load` runs it on its own).
async fn load(args: &Args) -> Res<Section> {
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
    let mut text = String::new();
    let _ = writeln!(text, "## Load test\n\nMixed traffic for {} s at {} requests/s (3 in 10 page loads of `/prompts/{{id}}` and `/runs`, 4 in 10 API reads, 3 in 10 run starts on the mock at 200 tokens/s), spread over 20 users, with {} clients subscribed to their user's run stream (SSE) throughout. Latency is per request, body included.\n", report.seconds, report.rps, report.subscribers);
    let _ = writeln!(text, "```\n{report}```\n");
    let goals = vec![Goal::new(
        format!(
            "load test ({} s, {} req/s, {} SSE subscribers): 0 errors, p99 reported",
            report.seconds, report.rps, report.subscribers
        ),
        format!(
            "{} errors in {} requests, {} stream errors; p99 {:.2} ms",
            report.errors, report.requests, report.sse_errors, report.all.p99
        ),
        report.errors == 0 && report.sse_errors == 0,
    )];
    Ok(Section { text, goals })
}

/// The commit the run measured, as git names it (with `+changes` when the tree is dirty).
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!(
                "`{rev}`{}",
                if dirty {
                    " (+ uncommitted changes)"
                } else {
                    ""
                }
            )
        }
        None => "(unknown: not a git checkout)".into(),
    }
}
