//! Throttles the routes that check credentials (register and login, REST and server
//! functions alike) per client IP with tower-governor; a throttled client gets 429 with
//! `Retry-After` and our JSON error.

use crate::api::error::error_response;
use axum::body::Body;
use axum::http::Response;
use promptlab::config::Config;
use promptlab::{Error, ErrorCode};
use std::sync::Arc;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

/// Wrap `router` (the credential routes) in the auth rate limit sized from the config.
pub fn limit_auth<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    config: &Config,
) -> axum::Router<S> {
    let mut builder = GovernorConfigBuilder::default();
    builder
        .period(config.auth_rate_period)
        .burst_size(config.auth_rate_burst.max(1))
        .key_extractor(PeerIpKeyExtractor);
    // The config only holds positive numbers, so `finish` succeeds; the default is a
    // belt-and-braces fallback that cannot fail either.
    let Some(governor) = builder
        .finish()
        .or_else(|| GovernorConfigBuilder::default().finish())
    else {
        return router;
    };
    let governor = Arc::new(governor);
    let limiter = governor.limiter().clone();
    // Forget idle clients now and then so the table stays small.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
    router.layer(GovernorLayer::new(governor).error_handler(too_many))
}

fn too_many(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut response = error_response(
                Error::new(ErrorCode::RateLimited, "too many attempts; try again later")
                    .with_details(serde_json::json!({ "retry_after_secs": wait_time })),
            );
            if let Some(headers) = headers {
                response.headers_mut().extend(headers);
            }
            response
        }
        other => {
            tracing::error!(error = ?other, "rate limiter could not key the request");
            error_response(Error::internal())
        }
    }
}
