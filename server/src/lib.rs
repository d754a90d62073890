//! PromptLab server: the axum router (Leptos pages and server functions, REST under
//! `/api/v1`, health, preferences), its middleware, and start/stop. `main.rs` only reads
//! the configuration and calls [`run`]; integration tests call [`router`] and [`serve`] on
//! port 0.
// Deeply nested Leptos view types need more than the default.
#![recursion_limit = "512"]

pub mod api;
pub mod health;
pub mod layers;
pub mod prefs;
pub mod state;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos::server_fn::ServerFn;
use leptos_axum::{
    generate_route_list_with_exclusions, handle_server_fns_with_context, LeptosRoutes,
};
use promptlab::engine::Engine;
use promptlab_app::functions::auth::{SignIn, SignUp};
use promptlab_app::{shell, App};
use state::AppState;
use std::net::SocketAddr;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// The whole HTTP surface of PromptLab.
pub fn router(engine: Engine, leptos_options: LeptosOptions) -> Router {
    let config = engine.config().clone();
    let state = AppState {
        engine: engine.clone(),
        leptos_options: leptos_options.clone(),
    };

    // The credential-checking server functions are routed here, behind the rate limit,
    // instead of by leptos_axum.
    let credential_fns = [SignIn::PATH, SignUp::PATH];
    let routes = generate_route_list_with_exclusions(
        App,
        Some(credential_fns.iter().map(|p| p.to_string()).collect()),
    );
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.engine.clone());
            provide_context(state.clone());
        }
    };
    let server_fn = {
        let context = context.clone();
        move |req: Request<Body>| handle_server_fns_with_context(context.clone(), req)
    };
    let mut credentials = Router::new();
    for path in credential_fns {
        credentials = credentials.route(path, post(server_fn.clone()));
    }
    let credentials = layers::rate_limit::limit_auth(
        credentials.nest("/api/v1", api::credential_router()),
        &config,
    );

    let mut router = Router::new()
        .route("/health", get(health::alive))
        .route("/health/ready", get(health::ready))
        .route("/prefs/locale/{locale}", get(prefs::locale))
        .route("/prefs/theme/{theme}", get(prefs::theme))
        .merge(credentials)
        .nest("/api/v1", api::router())
        .leptos_routes_with_context(&state, routes, context, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // Files under the site root, else the app's 404 page. Files are not left to
        // leptos_axum's file handler: it builds their response inside a fresh reactive owner
        // that can find another request's `ResponseOptions` and copy its headers (seen: one
        // visitor's locale cookie set on another's stylesheet; `layers::owner_scope` now
        // stops that leak for every request, and ServeDir stays the simpler file server).
        //
        // Revalidated on every use (`no-cache`; ServeDir answers `If-Modified-Since` with
        // 304): the wasm is split into chunks named by build order, not content, so a main
        // module and chunks from different builds must never meet in a browser's cache.
        .fallback_service(
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::if_not_present(
                    axum::http::header::CACHE_CONTROL,
                    axum::http::HeaderValue::from_static("no-cache"),
                ))
                .service(
                    ServeDir::new(leptos_options.site_root.as_ref())
                        .append_index_html_on_directories(false)
                        .not_found_service(
                            leptos_axum::file_and_error_handler::<AppState, _>(shell)
                                .with_state(state.clone()),
                        ),
                ),
        )
        .layer(axum::middleware::from_fn(layers::owner_scope::own_owner))
        .layer(axum::middleware::from_fn(
            layers::server_fn_status::fix_status,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            layers::nul_text::refuse_nul,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            layers::origin::reject_cross_site,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            layers::body_limit::limit_body,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(CompressionLayer::new());
    for header in layers::security_headers::layers() {
        router = router.layer(header);
    }
    router.layer(layers::trace::layer()).with_state(state)
}

/// Serve until `shutdown` resolves, then finish in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Event streams are many small writes: send each at once instead of holding it back
    // until the previous one is acknowledged (Nagle).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// Leptos runtime settings: `Leptos.toml` in the working directory (or the file named by
/// `LEPTOS_CONFIG`), overridden by `LEPTOS_*` variables; without a file, the variables
/// cargo-leptos sets.
pub fn leptos_options() -> Result<LeptosOptions, String> {
    let file = std::env::var("LEPTOS_CONFIG").unwrap_or_else(|_| "Leptos.toml".to_owned());
    let path = std::path::Path::new(&file)
        .exists()
        .then_some(file.as_str());
    leptos::config::get_configuration(path)
        .map(|c| c.leptos_options)
        .map_err(|e| format!("could not read the Leptos settings: {e}"))
}

/// What is wrong with the built site under the site root, if anything the browser would
/// notice. The wasm is split (`cargo leptos build --split`; the lazy islands' code goes
/// into chunks): a bundle built without `--split` imports a loader module that does not
/// exist, so pages render but their islands never hydrate. Returns `None` when no site is built at all (API-only use) or it is fine.
pub fn site_problem(options: &LeptosOptions) -> Option<String> {
    let pkg = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let wasm = pkg.join(format!("{}.wasm", options.output_name));
    let manifest = pkg.join("__wasm_split_manifest.json");
    (wasm.exists() && !manifest.exists()).then(|| {
        format!(
            "{} was built without --split: pages will render but not hydrate; rebuild with `cargo leptos build --split` (scripts/run.sh does)",
            wasm.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_built_without_split_is_reported() {
        let root = std::env::temp_dir().join(format!("promptlab-site-{}", std::process::id()));
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let options = LeptosOptions::builder()
            .output_name("promptlab")
            .site_root(root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build();
        assert_eq!(
            site_problem(&options),
            None,
            "no site built: nothing to say"
        );
        std::fs::write(pkg.join("promptlab.wasm"), b"\0asm").unwrap();
        let problem = site_problem(&options).expect("an unsplit bundle is reported");
        assert!(problem.contains("--split"), "{problem}");
        std::fs::write(pkg.join("__wasm_split_manifest.json"), b"{}").unwrap();
        assert_eq!(site_problem(&options), None, "a split bundle is fine");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
