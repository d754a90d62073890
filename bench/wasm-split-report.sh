#!/usr/bin/env bash
# Why code and data are in the main module. Builds the browser bundle's wasm as
# `cargo leptos build --split` does (relocations kept; release by default, `--dev` for the
# debug profile), then runs it through a copy of the splitter cargo-leptos 0.3.11 uses
# (wasm_split_cli_support 0.2.3) with bench/wasm-split-report.patch, which prints:
# - `SEGMENT i: relaid N, input M` per data segment: the length the splitter's layout by
#   module needs against the length the linker wrote. Relaid longer than input means the
#   splitter gave up on that segment and left all of its data in the main module
#   (frontend/src/lib.rs, SPLIT_DATA_SLACK, keeps room for this);
# - `REPORT` lines: the main module's code bytes with and without wasm-bindgen's rule that
#   functions describing a cast stay in main, with whatever that rule moved there;
# - with WSPLIT_LIST=1 also `LIST` lines: every function, its module and its size.
# Output modules go to a temporary directory. About 2 min for the tool, plus the wasm build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
profile=wasm-release
[ "${1:-}" = --dev ] && profile=dev
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# The splitter's source, from crates.io through a throwaway package that depends on it.
mkdir -p "$tmp/fetch/src"
printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nwasm_split_cli_support = "=0.2.3"\n' > "$tmp/fetch/Cargo.toml"
touch "$tmp/fetch/src/lib.rs"
src=$(cd "$tmp/fetch" && cargo metadata --format-version 1 | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"] == "wasm_split_cli_support").rsplit("/", 1)[0])')
cp -r "$src" "$tmp/splitter"
chmod -R u+w "$tmp/splitter"
patch -d "$tmp/splitter" -p1 --quiet < "$root/bench/wasm-split-report.patch"
tool_target="${WSPLIT_TARGET:-$target_dir/wasm-split-report}"
(cd "$tmp/splitter" && cargo build --quiet --release --features build-binary --target-dir "$tool_target")

# The wasm as cargo-leptos builds it for splitting (same flags, so its dependencies are
# shared with cargo-leptos's own builds).
RUSTFLAGS="-Clink-args=--emit-relocs --cfg erase_components" cargo build --quiet --locked \
  -p promptlab-frontend --lib --target wasm32-unknown-unknown --no-default-features --profile "$profile"
dir=$profile
[ "$profile" = dev ] && dir=debug
mkdir -p "$tmp/out"
WSPLIT_REPORT=1 "$tool_target/release/wasm-split-cli" \
  "$target_dir/wasm32-unknown-unknown/$dir/promptlab_frontend.wasm" "$tmp/out" --out-name promptlab 2>&1 |
  grep -v '^\s*$'
