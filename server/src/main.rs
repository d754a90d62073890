//! `promptlab-server [serve|seed]`: read the configuration, start the engine (connect and
//! migrate), then serve until signalled, or create the demo account and prompts and exit.
//! (`render-worker`, the server's own use of this binary, renders templates instead.)

use promptlab::config::Config;
use promptlab::engine::Engine;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A template worker (`promptlab::template::sandbox`) is this binary too: it renders
    // on stdin and stdout, with no runtime, configuration or database of its own.
    if std::env::args().nth(1).as_deref() == Some(promptlab::template::sandbox::WORKER_ARG) {
        return match promptlab::template::sandbox::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    serve_or_seed()
}

#[tokio::main]
async fn serve_or_seed() -> ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    if !matches!(command.as_str(), "serve" | "seed") {
        eprintln!("usage: promptlab-server [serve|seed]");
        return ExitCode::from(2);
    }
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("promptlab: {e}");
            return ExitCode::FAILURE;
        }
    };
    promptlab_server::layers::trace::init(config.log_format);
    // `/proc/self/exe` is this process's binary even after an upgrade replaces the file.
    config.template_worker = Some(std::path::PathBuf::from("/proc/self/exe"))
        .filter(|p| p.exists())
        .or_else(|| std::env::current_exe().ok());
    if config.jwt_secret_generated {
        tracing::warn!("JWT_SECRET is not set: using a generated secret, so sessions end when the server restarts");
    }
    let leptos_options = match promptlab_server::leptos_options() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = leptos_options.site_addr;
    if let Some(problem) = promptlab_server::site_problem(&leptos_options) {
        tracing::warn!("{problem}");
    }
    tracing::info!(database = %promptlab::config::redact_url(&config.database_url), "starting");
    let engine = match Engine::start(config).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "could not open the database");
            return ExitCode::FAILURE;
        }
    };
    if command == "seed" {
        let result = promptlab::seed::seed(&engine).await;
        engine.close().await;
        return match result {
            Ok(promptlab::seed::Seeded::Created { prompts }) => {
                println!(
                    "Demo account created: {} / {} ({prompts} example prompts)",
                    promptlab::seed::DEMO_EMAIL,
                    promptlab::seed::DEMO_PASSWORD
                );
                ExitCode::SUCCESS
            }
            Ok(promptlab::seed::Seeded::AlreadyThere) => {
                println!(
                    "Demo account: {} / {}",
                    promptlab::seed::DEMO_EMAIL,
                    promptlab::seed::DEMO_PASSWORD
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "seeding failed");
                ExitCode::FAILURE
            }
        };
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "could not listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{addr}");
    let router = promptlab_server::router(engine.clone(), leptos_options);
    let workers = engine.start_workers();
    let runtime = engine.runtime_arc();
    let shutdown = async move {
        promptlab_server::shutdown_signal().await;
        // Event streams never end on their own; end them so the server can drain.
        runtime.bus.close_streams();
    };
    let result = promptlab_server::serve(listener, router, shutdown).await;
    // In-flight runs get their grace period; the rest go back to the queue.
    workers.shutdown().await;
    engine.close().await;
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
