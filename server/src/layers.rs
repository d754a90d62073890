//! HTTP middleware of the server, outermost first in [`crate::router`]: tracing, security
//! headers, compression, timeouts, body limits, cross-site request rejection and the auth
//! rate limit.

pub mod body_limit;
pub mod origin;
pub mod rate_limit;
pub mod security_headers;
pub mod server_fn_status;
pub mod trace;
