//! PromptLab engine.
//!
//! Always compiled (and shared with the browser): [`error`] codes, [`accounts`] and
//! [`projects`] domain types. With the `ssr` feature, the server side: [`config`],
//! [`store`] (the only SQL), [`auth`] (passwords, tokens, authorization) and the
//! [`engine::Engine`] handle that ties them together. Nothing in the default build does I/O.

pub mod accounts;
pub mod error;
pub mod labels;
pub mod nul;
pub mod paging;
pub mod pricing;
pub mod projects;
pub mod prompts;
pub mod runs;
pub mod template;
pub mod versions;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod providers;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(all(feature = "ssr", any(test, feature = "test-support")))]
pub mod test_support;

pub use error::{Error, ErrorCode, Result};
