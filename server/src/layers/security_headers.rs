//! Security headers on every response. Pages carry their own CSP with a per-request
//! nonce (set while rendering, see `promptlab_app::security`); everything else gets a
//! policy that allows nothing to run and nothing to frame it.

use axum::http::{header, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// The layers, applied only where a handler did not set the header itself.
pub fn layers() -> [SetResponseHeaderLayer<HeaderValue>; 5] {
    let h = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    [
        h(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
        h(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        h(header::X_FRAME_OPTIONS, "DENY"),
        // Same-origin requests keep the full URL: no-JS form errors travel back through it.
        h(header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        h(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ]
}
