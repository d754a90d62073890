//! The concurrency benchmark: ten thousand ten-second streams in flight at once.

use crate::report::{Goal, Section};
use crate::support::*;
use crate::Args;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub async fn concurrency(args: &Args, runs: usize) -> Res<Section> {
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
    let peak_mb = peak as f64 / 1024.0;
    let _ = writeln!(s, "- Server peak RSS (VmHWM): **{peak_mb:.1} MB** (goal ≤ 256 MB). The fake provider's own peak, for scale: {:.1} MB.\n", fake_peak as f64 / 1024.0);
    let goals = vec![
        Goal::new(
            format!("{runs} ten-second runs in flight: peak RSS ≤ 256 MB"),
            format!("{peak_mb:.1} MB, {max_running} running at once at most"),
            peak_mb <= 256.0,
        ),
        Goal::new(
            format!("{runs} ten-second runs in flight: 0 errors, every run completes"),
            format!("{succeeded} succeeded, {failed} failed, {start_errors} failed to start"),
            succeeded as usize == runs && failed == 0 && start_errors == 0,
        ),
    ];
    Ok(Section { text: s, goals })
}
