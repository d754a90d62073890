//! The footprint benchmark: start-up time and idle memory of the release server, and the
//! size of the shipped wasm and JS (all files, and what a first visit downloads).

use crate::report::{Goal, Section};
use crate::support::*;
use crate::Args;
use std::fmt::Write as _;
use std::time::Duration;

fn gzip_len(path: &std::path::Path) -> u64 {
    std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

pub async fn footprint(args: &Args) -> Res<Section> {
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
    let (after_signups, signup_peak) = after_signups(args).await?;
    let mut s = String::from("## Footprint\n\n");
    let _ = writeln!(s, "Start-up: process spawn to the first `200` from `/health/ready` on a new, empty SQLite database (migrations included), 5 starts: median {:.0} ms, max {:.0} ms (goal ≤ 300 ms).\n", r.p50, r.max);
    let _ = writeln!(
        s,
        "Idle RSS 2 s after start: {:.1} MB (goal ≤ 25 MB).\n",
        idle_rss as f64 / 1024.0
    );
    let _ = writeln!(
        s,
        "RSS after {SIGNUPS} sign-ups (each an argon2id hash of 19 MiB), 2 s later: {:.1} MB; peak during them: {:.1} MB.\n",
        after_signups as f64 / 1024.0,
        signup_peak as f64 / 1024.0
    );
    let (wasm, first_visit) = wasm_sizes(&args.site.join("pkg"));
    s.push_str(&wasm);
    let mut goals = vec![
        Goal::new(
            "start-up to `/health/ready` ≤ 300 ms",
            format!("median {:.0} ms, max {:.0} ms", r.p50, r.max),
            r.max <= 300.0,
        ),
        Goal::new(
            "idle RSS ≤ 25 MB",
            format!("{:.1} MB", idle_rss as f64 / 1024.0),
            idle_rss as f64 / 1024.0 <= 25.0,
        ),
    ];
    goals.push(match first_visit {
        Some(kb) => Goal::new(
            "wasm + JS of a first visit ≤ 250 kB gzip",
            format!("{kb:.1} kB (the sign-in page)"),
            kb <= 250.0,
        ),
        None => Goal::new(
            "wasm + JS of a first visit ≤ 250 kB gzip",
            format!("no wasm in `{}`", args.site.join("pkg").display()),
            false,
        ),
    });
    Ok(Section { text: s, goals })
}

/// Accounts registered by [`after_signups`].
const SIGNUPS: usize = 20;

/// What the server keeps after people sign up: (RSS, peak RSS) in kB, 2 s after
/// [`SIGNUPS`] registrations one after another, as the load test starts with.
async fn after_signups(args: &Args) -> Res<(u64, u64)> {
    let (server, _) = start_server(&args.server, &args.site, &[]).await?;
    for _ in 0..SIGNUPS {
        setup_user(&server.base, "mock", "mock-1").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(server.rss_kb())
}

/// The shipped wasm and JS: every file, and what a first visit to each kind of page
/// downloads. The app runs as islands and its bundle is split (`cargo leptos build
/// --split`): every page needs the main module, its JS glue and the split loader; a page
/// with a lazy island (the editor, a live run, the live run list) also needs the chunks the
/// splitter's manifest lists for the island's loader. A first visit lands on the sign-in
/// page (`/` sends a signed-out visitor there), whose form is a lazy island. Returns the
/// text and the gzip kB of that page's download (the main module alone in a bundle without
/// that island), `None` when there is no wasm.
fn wasm_sizes(pkg: &std::path::Path) -> (String, Option<f64>) {
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
    let mut first_visit = main.contains(&"promptlab.wasm").then(|| kb(g));
    let _ = writeln!(
        s,
        "| every page; all of it for home, a version, a diff (main module: {}) | {n} | {:.1} kB | {:.1} kB |",
        main.join(", "),
        kb(r),
        kb(g)
    );
    // One entry per lazy function; here those are the lazy islands' loaders.
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
        let island = key.split("_loader_").next().unwrap_or(key);
        if island == "sign_in_form" && first_visit.is_some() {
            first_visit = Some(kb(g));
        }
        let _ = writeln!(
            s,
            "| a page with the `{island}` island (main + {} chunks) | {n} | {:.1} kB | {:.1} kB |",
            chunks.len(),
            kb(r),
            kb(g)
        );
    }
    if manifest.is_empty() {
        let _ = writeln!(s, "| (no split manifest: built without `--split`) | | | |");
    }
    s.push('\n');
    match crate::wasm_data::data_split(pkg) {
        Ok(d) => {
            let _ = writeln!(s, "{}\n", d.describe());
        }
        Err(e) => {
            let _ = writeln!(s, "Static data: not read ({e}).\n");
        }
    }
    (s, first_visit)
}
