//! Server functions: the browser's door to the engine. Each one authenticates, calls the
//! engine and maps the error; business rules live in the engine.

pub mod auth;
#[cfg(feature = "ssr")]
pub mod context;
pub mod prompts;
pub mod runs;
pub mod strict;
