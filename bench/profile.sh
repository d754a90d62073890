#!/usr/bin/env bash
# Where the server's CPU goes for each run, counted by callgrind (instructions: the same
# for the same binary and traffic, whatever else the machine is doing).
#
# The release server runs under `valgrind --tool=callgrind` twice: once with start-up, one
# sign-up, one warm-up run and shutdown, and once with N more runs of the overhead
# benchmark's kind (streaming start, 10 words 5 ms apart from the fake provider, at 20
# runs/s). The difference, divided by N, is what one run costs, listed by crate and by function (each
# function's own instructions). Then the same traffic without valgrind, at 100 runs/s,
# gives the server's CPU time per run from /proc, in the process and in the kernel.
#
#   bench/profile.sh            # 400 runs (about 3 minutes after the build)
#   PROFILE_RUNS=1000 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v valgrind > /dev/null; then
  echo "profile: installing valgrind (Debian)"
  apt-get install -y -qq valgrind > /dev/null
fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
RUSTFLAGS="--cfg erase_components" cargo build --release --locked -p promptlab-server -p promptlab-fake-provider -p promptlab-bench

runs=${PROFILE_RUNS:-400}
rate=20
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
site=target/site
[ -d "$site" ] || site="$out/site"
mkdir -p "$site"
bench() {
  "$target_dir/release/promptlab-bench" profile \
    --server "$target_dir/release/promptlab-server" \
    --fake "$target_dir/release/promptlab-fake-provider" \
    --site "$site" "$@"
}
for n in 0 "$runs"; do
  echo "profile: $n runs under callgrind"
  BENCH_SERVER_WRAP="valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.$n" \
    bench --rps "$rate" --seconds $((n / rate))
  callgrind_annotate --threshold=100 "$out/callgrind.$n" > "$out/annotate.$n"
done

python3 - "$out/annotate.0" "$out/annotate.$runs" "$runs" <<'PY'
import re, sys
base_file, runs_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*?)\s*$")
def read(path):
    total, funcs = 0, {}
    for line in open(path, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = count
            continue
        obj = ""
        mo = re.search(r"\s*\[([^\]]*)\]$", name)
        if mo:
            obj = mo.group(1); name = name[:mo.start()]
        name = name.split(":", 1)[1] if ":" in name.split(" ")[0] else name
        key = (name, obj.rsplit("/", 1)[-1])
        funcs[key] = funcs.get(key, 0) + count
    return total, funcs
def group(name, obj):
    if re.match(r"^(malloc|free|calloc|realloc|cfree)(@.*)?$", name):
        return "libc: malloc and free"
    if name.startswith("ring_core"):
        return "ring"
    if obj.startswith("libc"):
        if re.search(r"mem(cpy|move|set|cmp)|str", name): return "libc: memcpy, memset, memcmp"
        if re.search(r"malloc|free|realloc|arena|chunk|consolidate|tcache", name): return "libc: malloc and free"
        if "pthread" in name or "futex" in name or "lll_" in name: return "libc: locks"
        return "libc: other"
    if obj.startswith("ld-linux") or obj.startswith("vgpreload"): return "loader, valgrind"
    if re.match(r"(sqlite3|yy_|wal|pager|btree|vdbe)", name, re.I) or re.match(r"^[a-z][A-Za-z0-9]*$", name) and obj.startswith("promptlab-server"):
        return "SQLite (C)"
    n = name.lstrip("<&*").replace("dyn ", "").replace("mut ", "")
    # "<T as tower::Service>::call": a generic type's impl, named by its trait.
    generic = re.match(r"^(?:[A-Z]\w*|\(.*?\)) as (.*)$", n)
    if generic:
        n = generic.group(1)
    crate = re.split(r"::|<| |\(|\[", n, 1)[0]
    return crate or name
t0, f0 = read(base_file); t1, f1 = read(runs_file)
per_run = (t1 - t0) / runs
print(f"instructions, whole server: {t0:,} with no runs, {t1:,} with {runs} runs; per run: {per_run:,.0f}\n")
diff = {k: (f1.get(k, 0) - f0.get(k, 0)) / runs for k in set(f1) | set(f0)}
groups = {}
for (name, obj), c in diff.items():
    g = group(name, obj); groups[g] = groups.get(g, 0) + c
print("| where (own instructions, by crate) | per run | share |\n|---|---:|---:|")
for g, c in sorted(groups.items(), key=lambda x: -x[1])[:20]:
    print(f"| {g} | {c:,.0f} | {100*c/per_run:.1f}% |")
print("\n| function (own instructions) | per run | share |\n|---|---:|---:|")
for (name, obj), c in sorted(diff.items(), key=lambda x: -x[1])[:30]:
    short = name if len(name) < 120 else name[:117] + "..."
    print(f"| `{short}` | {c:,.0f} | {100*c/per_run:.1f}% |")
PY

echo
echo "profile: the same traffic without valgrind, 100 runs/s for 20 s"
bench --rps 100 --seconds 20
