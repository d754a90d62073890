#!/usr/bin/env bash
# Installs what PromptLab needs to build (and, with --test, to test), only what is
# missing, at pinned versions. Safe and fast to rerun. Nothing here downloads from GitHub:
# cargo-leptos finds wasm-bindgen and wasm-opt on PATH instead of fetching them.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_VERSION=132.0.0
WITH_TESTS=0
[ "${1:-}" = "--test" ] && WITH_TESTS=1

say() { printf '\033[1msetup:\033[0m %s (%s)\n' "$*" "$(date +%T)"; }

export PATH="$HOME/.cargo/bin:$PATH"

# 1. The pinned Rust toolchain with the wasm target (rust-toolchain.toml).
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1 \
   || ! rustup target list --toolchain "$toolchain" --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  say "installing Rust $toolchain with wasm32-unknown-unknown"
  rustup toolchain install "$toolchain" --profile minimal \
    --component clippy --component rustfmt --target wasm32-unknown-unknown
fi

# 2. cargo-leptos.
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION"
  # Built unoptimised: at full optimisation (its own profile, fat LTO) this was the longest
  # step of a cold CI, 23.5 min of 85 on 2 cores (2026-11-27; without the LTO, 22.9). The
  # tool only orchestrates cargo, wasm-bindgen and wasm-opt, so its own speed is not felt
  # (splitting the release wasm: about 1 s). Unoptimised it installs in 3.2 min on a
  # machine that builds about 2.4 times as fast as that one (bench/ANALYSIS.md).
  CARGO_PROFILE_DEV_DEBUG=false \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --debug
fi

# 3. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wb_version" ]; then
  echo "setup: could not find wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$\| $wb_version "; then
  say "installing wasm-bindgen-cli $wb_version"
  # --locked fails on a missing index entry for some versions; the lock is not needed here.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

# 4. wasm-opt (release builds) from npm's binaryen.
if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
  npm install --global --no-fund --no-audit "binaryen@$BINARYEN_VERSION" >/dev/null
fi

# 5. For tests: Debian's Chromium and the pinned Playwright packages (no browser download).
if [ "$WITH_TESTS" = 1 ]; then
  if [ ! -x /usr/bin/chromium ]; then
    say "installing chromium (Debian)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing Playwright (npm ci, no browser download)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-fund --no-audit >/dev/null)
  fi
fi
say "ready"
