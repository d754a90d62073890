#!/usr/bin/env bash
# What Leptos's islands would do to PromptLab's own first visit, measured on the app itself
# rather than on a probe. In a throwaway worktree of HEAD it builds three browser bundles,
# each as bench/run.sh builds the shipped one (release, split, wasm-opt):
# 1. HEAD as it is: the whole app hydrated, pages split by route (the comparison).
# 2. HEAD with bench/islands-app.patch, which
#    - turns on the `islands` features of leptos and leptos_i18n (whose context provider
#      becomes an island; the patch drops the provider's language-header option, which
#      its island form does not take) and hydrates with `hydrate_islands`;
#    - makes the interactive parts of the sign-in pages and the header islands (the
#      sign-in and sign-up forms, the language switch, the theme toggle), as a conversion
#      would;
#    - makes each page behind a lazy route today (the prompt list, a prompt's editor, a
#      version, the diff, the run list, a run) one lazy island (`#[island(lazy)]`) as it
#      stands, so its code goes into chunks of its own. Only the size is meant: those pages
#      still read the router on the client, which islands do not have, so this build does
#      not work in a browser beyond the sign-in pages.
# 3. The same with those six pages left server-only (`#[component]`): no code of theirs in
#    the wasm, which shows what their static data adds to the main module in 2.
# Prints what a first visit downloads (the main module, its JS glue and the split loader)
# and the main module's code and data sections, gzip -9. Needs the toolchain from
# scripts/setup.sh; about 30 min cold on a slow 2-core machine, 12 min with a warm target
# directory (ISLANDS_TARGET keeps one; the islands features change every Leptos crate's
# build, so it is not the project's own).
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
export CARGO_TARGET_DIR
CARGO_TARGET_DIR=$(realpath -m "${ISLANDS_TARGET:-$tmp/target}")
git worktree add -q --detach "$tmp/tree" HEAD
tree=$tmp/tree

# Build the worktree's browser bundle and keep a copy of it in $tmp/$1.
build() {
  (cd "$tree" && cargo leptos build --release --split --frontend-only >&2)
  [ -f "$tree/target/site/pkg/promptlab.wasm" ] || {
    echo "islands-app: the $1 build left no promptlab.wasm" >&2
    exit 1
  }
  cp -r "$tree/target/site/pkg" "$tmp/$1"
}

# gzip -9 bytes of a file (no name or time stored in the header).
gz() { gzip -9 -n -c "$1" | wc -c; }

# Raw and gzip bytes of what every page loads first.
first_visit() {
  local pkg=$1 raw=0 gzipped=0 f
  for f in "$pkg"/promptlab.wasm "$pkg"/promptlab.js "$pkg"/__wasm_split*.js; do
    [ -f "$f" ] || continue
    raw=$((raw + $(stat -c %s "$f")))
    gzipped=$((gzipped + $(gz "$f")))
  done
  printf '%s | %s' "$raw" "$gzipped"
}

# Per wasm file given: gzip -9 bytes of its code and data sections, and its data section's
# raw bytes.
wasm_sections() {
  python3 - "$@" <<'PY'
import gzip, sys
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    def leb(i):
        r = s = 0
        while True:
            x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
            if x < 0x80:
                return r, i
    i, gz, raw = 8, {10: 0, 11: 0}, 0
    while i < len(b):
        sid = b[i]; n, i = leb(i + 1)
        if sid in (10, 11):
            gz[sid] += len(gzip.compress(b[i:i + n], 9, mtime=0))
        if sid == 11:
            raw += n
        i += n
    print(gz[10], gz[11], raw)
PY
}

# The main module's code and data (gzip -9), and the raw static data of the lazy modules: a
# few bytes only when the splitter left all of it in the main module (frontend/src/lib.rs,
# SPLIT_DATA_SLACK).
row() {
  local label=$1 pkg=$2 code data lazy files=()
  read -r code data _ < <(wasm_sections "$pkg/promptlab.wasm")
  mapfile -d '' files < <(find "$pkg" -name '*.wasm' ! -name promptlab.wasm -print0)
  lazy=$(wasm_sections "${files[@]}" | awk '{ s += $3 } END { print s + 0 }')
  echo "| $label | $(first_visit "$pkg") | $code | $data | $lazy |"
}

build shipped
git -C "$tree" apply "$root/bench/islands-app.patch"
build islands
sed -i 's/^#\[island(lazy)\]$/#[component]/' "$tree"/app/src/routes/*.rs
build signin-only

echo "| build | first visit raw bytes | first visit gzip -9 bytes | main module code, gzip -9 | main module data, gzip -9 | lazy modules' data, raw |"
echo "|---|---:|---:|---:|---:|---:|"
row "HEAD as shipped: the whole app hydrated, pages split by route" "$tmp/shipped"
row "islands: sign-in parts, and the six other pages as lazy islands" "$tmp/islands"
row "islands: sign-in parts only (the six pages server-only)" "$tmp/signin-only"
chunks=$(find "$tmp/islands" -name '*.wasm' ! -name promptlab.wasm | wc -l)
echo
echo "The lazy islands' code is in $chunks more wasm files (chunks and split functions), not part of a first visit."
