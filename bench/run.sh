#!/usr/bin/env bash
# Every benchmark in one command: builds PromptLab in release mode (server and the
# optimised wasm), the fake provider and the bench runner, then runs footprint, overhead,
# throughput (with the raw SQLite ceiling), concurrency and the 60 s load test against the
# real server over HTTP, and writes bench/RESULTS.md (machine, date, method, figures).
# `bench/run.sh --quick` runs shorter versions of each, for a smoke check.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

cargo leptos build --release --split
# With the flag cargo-leptos gives release builds (always-erase-components in Cargo.toml),
# so the dependencies these share with the server are not built a second time.
RUSTFLAGS="--cfg erase_components" cargo build --release --locked -p promptlab-fake-provider -p promptlab-bench
# 10,000 streams in flight need file descriptors on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$target_dir/release/promptlab-bench" all \
  --server "$target_dir/release/promptlab-server" \
  --fake "$target_dir/release/promptlab-fake-provider" \
  --site target/site \
  --out bench/RESULTS.md "$@"

{
  echo "## Appendix: what the template engine adds to the wasm"
  echo
  echo "\`bench/wasm-size.sh\`: one exported function built with and without minijinja (same profile, wasm-opt -Oz)."
  echo
  SKIP_SITE_BUILD=1 bench/wasm-size.sh
} >> bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md"
