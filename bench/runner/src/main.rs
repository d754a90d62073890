//! `promptlab-bench`: benchmarks of the real release server over HTTP, against the fake
//! provider process on loopback, and the bounded load test.
//!
//! ```text
//! promptlab-bench all  --server BIN --fake BIN --site DIR --out bench/RESULTS.md [--quick]
//!                      [--only footprint,overhead,throughput,concurrency,load]
//! promptlab-bench load --server BIN --fake BIN --site DIR [--seconds 60] [--rps 300] [--subscribers 200]
//! promptlab-bench profile --server BIN --fake BIN --site DIR --seconds 20 --rps 20
//! promptlab-bench wasm-data --site DIR
//! ```
//! `bench/run.sh` builds everything in release mode and runs `all`; `scripts/test.sh` runs
//! `load` against the release build and `wasm-data` on the browser bundle it tests;
//! `bench/profile.sh` runs `profile` with the server under callgrind. See
//! `bench/RESULTS.md` for the figures and `bench/ANALYSIS.md` for what they mean.

mod concurrency;
mod footprint;
mod load;
mod overhead;
mod procfs;
mod profile;
mod report;
mod scenarios;
mod support;
mod throughput;
mod wasm_data;

use std::path::PathBuf;
use std::process::ExitCode;

pub struct Args {
    pub server: PathBuf,
    pub fake: PathBuf,
    pub site: PathBuf,
    pub out: Option<PathBuf>,
    /// Run only these scenarios (comma-separated); all when absent.
    pub only: Option<String>,
    pub quick: bool,
    pub seconds: u64,
    pub rps: u32,
    pub subscribers: usize,
}

fn parse() -> Result<(String, Args), String> {
    let mut it = std::env::args().skip(1);
    let cmd = it
        .next()
        .ok_or("usage: promptlab-bench all|load|profile --server BIN --fake BIN --site DIR")?;
    let mut a = Args {
        server: "target/release/promptlab-server".into(),
        fake: "target/release/promptlab-fake-provider".into(),
        site: "target/site".into(),
        out: None,
        only: None,
        quick: false,
        seconds: 60,
        rps: 300,
        subscribers: 200,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => a.server = val()?.into(),
            "--fake" => a.fake = val()?.into(),
            "--site" => a.site = val()?.into(),
            "--out" => a.out = Some(val()?.into()),
            "--only" => a.only = Some(val()?),
            "--quick" => a.quick = true,
            "--seconds" => a.seconds = val()?.parse().map_err(|_| "--seconds: a number")?,
            "--rps" => a.rps = val()?.parse().map_err(|_| "--rps: a number")?,
            "--subscribers" => {
                a.subscribers = val()?.parse().map_err(|_| "--subscribers: a number")?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((cmd, a))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (cmd, args) = match parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "all" => scenarios::all(&args).await,
        "load" => load::run(&args).await.map(|report| {
            println!("{report}");
        }),
        "profile" => profile::run(&args).await,
        // Fails when the splitter left every lazy page's static data in the main module.
        "wasm-data" => wasm_data::data_split(&args.site.join("pkg")).and_then(|d| {
            println!("{}", d.describe());
            if d.split() {
                Ok(())
            } else {
                Err("the main module holds all of the bundle's static data".into())
            }
        }),
        other => Err(format!("unknown command {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("promptlab-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
