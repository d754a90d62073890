//! HTTP middleware of the server, outermost first in [`crate::router`]: tracing, security
//! headers, compression, timeouts, body limits, cross-site request rejection, text with a NUL
//! character and the auth rate limit; innermost, each request's own reactive owner.

pub mod body_limit;
pub mod nul_text;
pub mod origin;
pub mod owner_scope;
pub mod rate_limit;
pub mod security_headers;
pub mod server_fn_status;
pub mod trace;
