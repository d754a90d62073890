#!/usr/bin/env bash
# Wasm size: the shipped bundle (release build by cargo-leptos, after wasm-opt) and what
# the template engine alone adds, measured with a probe module built with and without it.
# Prints a Markdown table. Needs the toolchain from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
size() { printf '%s | %s' "$(stat -c %s "$1")" "$(gzip -9 -c "$1" | wc -c)"; }

if [ "${SKIP_SITE_BUILD:-0}" != 1 ]; then cargo leptos build --release --split >/dev/null; fi
echo "| artefact | raw bytes | gzip -9 bytes |"
echo "|---|---|---|"
echo "| site wasm (promptlab.wasm) | $(size target/site/pkg/promptlab.wasm) |"
echo "| site JS (promptlab.js) | $(size target/site/pkg/promptlab.js) |"

probe=bench/wasm-probe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
for variant in without with; do
  flags=""
  [ "$variant" = with ] && flags="--features engine"
  (cd "$probe" && cargo "+$toolchain" build --quiet --release --target wasm32-unknown-unknown --target-dir "$tmp/target" $flags)
  wasm-opt -Oz --enable-bulk-memory "$tmp/target/wasm32-unknown-unknown/release/wasm_probe.wasm" -o "$tmp/$variant.wasm"
  echo "| probe $variant minijinja | $(size "$tmp/$variant.wasm") |"
done
