#!/usr/bin/env bash
# What Leptos's islands would do to PromptLab's own first visit, measured on the app itself
# rather than on a probe. bench/islands-app.patch, applied to a throwaway worktree of HEAD:
# - turns on the `islands` features of leptos and leptos_i18n (whose context provider
#   becomes an island) and hydrates with `hydrate_islands`;
# - makes the sign-in pages' and the header's interactive parts islands (the sign-in and
#   sign-up forms, the language switch, the theme toggle), as a conversion would;
# - makes each of the six other pages one lazy island (`#[island(lazy)]`) as it stands, so
#   its code goes into chunks of its own, as the lazy routes' does today. Only the size is
#   meant: those pages still read the router on the client, which islands do not have, so
#   this build does not work in a browser beyond the sign-in pages.
# Builds the browser bundle as bench/run.sh does (release, split, wasm-opt) and prints what
# a first visit downloads, next to the shipped build's when target/site holds one, with
# the main module's code and data sections. Needs the toolchain from scripts/setup.sh;
# about 15 min cold on 2 cores (its own target directory: ISLANDS_TARGET to keep one).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
tmp=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$tmp/tree" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add -q --detach "$tmp/tree" HEAD
git -C "$tmp/tree" apply "$root/bench/islands-app.patch"
# Its own target directory unless one is given (ISLANDS_TARGET): the islands features
# change the build of every Leptos crate.
export CARGO_TARGET_DIR="${ISLANDS_TARGET:-$tmp/target}"
(cd "$tmp/tree" && cargo leptos build --release --split --frontend-only >&2)

first_visit() {
  # The main module, its JS glue and the split loader: what every page loads first.
  local pkg=$1 raw=0 gz=0 f
  for f in "$pkg"/promptlab.wasm "$pkg"/promptlab.js "$pkg"/__wasm_split*.js; do
    [ -f "$f" ] || continue
    raw=$((raw + $(stat -c %s "$f")))
    gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
  done
  printf '%s | %s' "$raw" "$gz"
}
sections() {
  # gzip -9 bytes of a module's code and data sections (data segments are not split by
  # route: every chunk's static data stays in the main module).
  python3 - "$1" <<'PY'
import gzip, sys
b = open(sys.argv[1], "rb").read()
def leb(i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80:
            return r, i
i, out = 8, {}
while i < len(b):
    sid = b[i]; n, i = leb(i + 1)
    if sid in (10, 11):
        out[sid] = len(gzip.compress(b[i:i + n], 9))
    i += n
print(f"{out.get(10, 0)} | {out.get(11, 0)}", end="")
PY
}
echo "| build | first visit raw bytes | first visit gzip -9 bytes | main module code, gzip -9 | main module data, gzip -9 |"
echo "|---|---:|---:|---:|---:|"
if [ -f target/site/pkg/promptlab.wasm ]; then
  echo "| shipped (target/site/pkg: the whole app hydrated, pages split by route) | $(first_visit target/site/pkg) | $(sections target/site/pkg/promptlab.wasm) |"
fi
pkg="$tmp/tree/target/site/pkg"
echo "| islands (bench/islands-app.patch) | $(first_visit "$pkg") | $(sections "$pkg/promptlab.wasm") |"
echo
chunks=$(ls "$pkg" | grep -c '^chunk_.*\.wasm$\|^split_.*\.wasm$' || true)
echo "The islands build has $chunks chunk files for its lazy islands (not part of a first visit)."
