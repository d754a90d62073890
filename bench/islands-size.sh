#!/usr/bin/env bash
# What Leptos's islands would do to the first visit's wasm: bench/islands-probe (three
# parts shaped like the sign-in page's interactive ones) built as islands and as an
# ordinary fully hydrated page, with the site's release settings (opt-level z, fat LTO,
# panic=abort, erased components), wasm-bindgen, wasm-opt -Oz. Prints a Markdown table.
# Needs the toolchain from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/islands-probe"
export PATH="$HOME/.cargo/bin:$PATH"
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' ../../rust-toolchain.toml)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
size() { printf '%s | %s' "$(stat -c %s "$1")" "$(gzip -9 -c "$1" | wc -c)"; }
echo "| variant | wasm raw | wasm gzip -9 | JS raw | JS gzip -9 |"
echo "|---|---:|---:|---:|---:|"
for variant in islands full; do
  features=hydrate
  [ "$variant" = islands ] && features=hydrate,islands
  RUSTFLAGS="--cfg erase_components" cargo "+$toolchain" build --quiet --locked --release \
    --target wasm32-unknown-unknown --features "$features" --target-dir "${PROBE_TARGET:-$tmp/target}"
  out="$tmp/$variant"
  wasm-bindgen --target web --no-typescript --out-dir "$out" \
    "${PROBE_TARGET:-$tmp/target}/wasm32-unknown-unknown/release/islands_probe.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$out/islands_probe_bg.wasm" -o "$out/opt.wasm"
  label="three islands (hydrate_islands)"
  [ "$variant" = full ] && label="the same as a fully hydrated page (hydrate_body)"
  echo "| $label | $(size "$out/opt.wasm") | $(size "$out/islands_probe.js") |"
done
