#!/usr/bin/env bash
# Runs every check and test of PromptLab: formatting, clippy for both builds (server `ssr`
# and browser `hydrate` on wasm32), unit and integration tests on SQLite and PostgreSQL
# (including the wasm dependency check and the kill -9 crash test), then the browser bundle
# built by cargo-leptos and the tests' server binary under Playwright in Chromium, with and
# without JavaScript, and the bounded load test against the release server (0 errors
# required; p99 latency printed).
#
# Needs PostgreSQL at 127.0.0.1:5432 with trust auth (PROMPTLAB_TEST_PG_URL overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# The native packages, linted and tested as one set: separate calls would unify features
# differently and check or build the dependencies they share again.
native=(-p promptlab -p promptlab-app -p promptlab-server -p promptlab-fake-provider -p promptlab-bench --features promptlab/ssr,promptlab-app/ssr)

step() { printf '\n\033[1m== %s\033[0m (%s)\n' "$*" "$(date +%T)"; }

step "format"
cargo fmt --all -- --check

step "clippy: server (ssr) with tests"
# The workspace members these depend on (app, migrations) are linted too.
cargo clippy "${native[@]}" --all-targets --locked -- -D warnings

step "clippy: browser (hydrate, wasm32)"
cargo clippy -p promptlab-frontend --target wasm32-unknown-unknown --locked -- -D warnings

step "unit and integration tests (SQLite and PostgreSQL)"
# With the flag cargo-leptos gives the server (always-erase-components in Cargo.toml): the
# tests run the code that ships, and the server binary they build renders the same markup
# as the browser bundle below hydrates (without the flag, hydration fails).
RUSTFLAGS="--cfg erase_components" cargo nextest run "${native[@]}" --locked --no-fail-fast

step "build the site (cargo-leptos, browser bundle only)"
# The server under test is the debug binary the tests above built with the same flags (the
# crash test runs it too); cargo-leptos would only build it again.
cargo leptos build --split --frontend-only

step "browser tests (Playwright, Chromium)"
e2e_dir=$(mktemp -d)
trap 'rm -rf "$e2e_dir"' EXIT
export PROMPTLAB_SERVER_BIN="$target_dir/debug/promptlab-server"
export PROMPTLAB_E2E_DB="sqlite://$e2e_dir/e2e.db?mode=rwc"
export PROMPTLAB_ROOT="$root"
(cd end2end && npx playwright test)

step "load test (60 s of mixed traffic with 200 SSE subscribers, release build)"
# Release: the test measures the product, and a debug build cannot serve this rate. With
# the flag `cargo leptos build --release` gives the server (always-erase-components in
# Cargo.toml), so the server's code is built as it ships. One call for the three: the
# dependencies they share are built once (bench/run.sh builds the server through
# cargo-leptos instead, alone, whose features unify differently, so it does not reuse
# this build).
RUSTFLAGS="--cfg erase_components" cargo build --release --locked -p promptlab-server -p promptlab-fake-provider -p promptlab-bench
# The bundle under test must have its static data split by page like its code: when the
# splitter finds no room for that, every lazy page's data lands in the main module
# (frontend/src/lib.rs, SPLIT_DATA_SLACK).
"$target_dir/release/promptlab-bench" wasm-data --site target/site
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$target_dir/release/promptlab-bench" load \
  --server "$target_dir/release/promptlab-server" \
  --fake "$target_dir/release/promptlab-fake-provider" \
  --site target/site --seconds "${LOAD_SECONDS:-60}" --rps "${LOAD_RPS:-300}" --subscribers 200
