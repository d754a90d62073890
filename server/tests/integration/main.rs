//! Integration tests: the real server on port 0 over real SQLite and PostgreSQL databases,
//! driven over HTTP the way API clients and browsers (without JavaScript) drive it.

// Tests unwrap freely: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

mod accounts;
mod authorization;
mod crash;
mod islands;
mod pages;
mod prompts;
mod protection;
mod runs;
mod static_files;
mod wasm_bundle;
