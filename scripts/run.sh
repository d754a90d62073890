#!/usr/bin/env bash
# Installs what is missing, builds PromptLab in release mode and serves it at
# http://127.0.0.1:3000 on SQLite (data/promptlab.db), migrating it on start and creating
# a demo account (demo@promptlab.local / promptlab-demo) with example prompts the first time.
# Pass --dev for a faster, unoptimised build. Environment variables: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
profile=release
build_flag=--release
if [ "${1:-}" = "--dev" ]; then profile=debug; build_flag=""; fi

# --split: the lazy islands' code goes into chunks of its own; every build needs it.
cargo leptos build --split $build_flag
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ "$profile" = release ]; then export LEPTOS_ENV="${LEPTOS_ENV:-PROD}"; fi
# The first start creates a demo account with example prompts (idempotent).
"$target_dir/$profile/promptlab-server" seed
echo "PromptLab: http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
exec "$target_dir/$profile/promptlab-server" serve
