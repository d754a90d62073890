//! `promptlab-bench profile`: a fixed amount of run traffic against one server, for a
//! profiler the server runs under (`BENCH_SERVER_WRAP`, see `bench/profile.sh`). The runs
//! are the overhead benchmark's streaming starts (10 words, 5 ms apart, from the fake
//! provider), at a steady rate, after one run to warm up; then the server is stopped with
//! SIGTERM so that the profiler writes its output.

use crate::overhead::{at_rate, through_once, Path};
use crate::procfs::{context_switches, cpu_seconds};
use crate::support::*;
use crate::Args;
use std::time::Duration;

pub async fn run(args: &Args) -> Res<()> {
    let fake = start_fake(&args.fake).await?;
    let env = [
        ("OPENAI_COMPAT_BASE_URL", format!("{}/v1", fake.base)),
        ("RUN_CACHE_TTL_SECS", "0".to_owned()),
    ];
    let (server, ready) = start_server(&args.server, &args.site, &env).await?;
    let (token, prompt) =
        setup_user(&server.base, "openai_compat", "bench:tokens=10,delay=5").await?;
    let http = client();
    // One run first, in both profiles: what the first run does once (clock calibration,
    // caches filled) is not counted against the runs that follow.
    through_once(
        &http,
        &server.base,
        &token,
        &prompt,
        usize::MAX,
        Path::StreamingStart,
    )
    .await?;
    let cpu_before = cpu_seconds(server.pid());
    let switches_before = context_switches(server.pid());
    let (b, t, p) = (server.base.clone(), token.clone(), prompt.clone());
    let (ttft, done, errors, samples) = at_rate(args.rps, args.seconds, move |n| {
        let (h, b, t, p) = (http.clone(), b.clone(), t.clone(), p.clone());
        async move { through_once(&h, &b, &t, &p, n, Path::StreamingStart).await }
    })
    .await;
    let cpu_after = cpu_seconds(server.pid());
    let switches_after = context_switches(server.pid());
    let (user, system) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    server.terminate(Duration::from_secs(300)).await?;
    let (tt, td) = (summarize(ttft), summarize(done));
    let wrapped = server_wrap().is_some();
    println!(
        "profile: ready after {:.1} s; {} runs at {}/s for {} s, {errors} errors; TTFT p50 {:.1} ms, completion p50 {:.1} ms{}",
        ready.as_secs_f64(),
        td.n,
        args.rps,
        args.seconds,
        tt.p50,
        td.p50,
        if wrapped {
            " (slowed by the profiler)"
        } else {
            ""
        }
    );
    // Under a profiler the process's CPU time is the profiler's.
    if td.n > 0 && !wrapped {
        let per_run = |s: f64| s * 1e6 / td.n as f64;
        println!(
            "server CPU time during the runs: {:.0} ms, {:.0} µs per run ({:.0} in the process, {:.0} in the kernel)",
            (user + system) * 1000.0,
            per_run(user + system),
            per_run(user),
            per_run(system)
        );
        let n = td.n as f64;
        println!(
            "server context switches per run: {:.1} voluntary (a thread went to sleep and was woken later), {:.1} involuntary",
            (switches_after.0 - switches_before.0) as f64 / n,
            (switches_after.1 - switches_before.1) as f64 / n
        );
    }
    for e in samples {
        println!("error sample: {e}");
    }
    if errors > 0 {
        return Err(format!("{errors} runs failed"));
    }
    Ok(())
}
