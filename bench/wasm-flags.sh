#!/usr/bin/env bash
# What the compiler's size options that stable Rust does not offer would save on the
# browser bundle, measured rather than guessed (bench/RESULTS.md, "Wasm: the unstable size
# options"). Builds the whole frontend (unsplit, so variants compare like for like) with the
# wasm-release profile, runs wasm-bindgen and wasm-opt -Oz as a release build does, and
# prints raw and gzip -9 sizes per variant:
#
#   base      what ships today: --cfg erase_components, opt-level "z", fat LTO, panic=abort
#   optsize   the same with opt-level "s" (stable)
#   flags     + -Zlocation-detail=none -Zfmt-debug=none (no panic locations, empty Debug)
#   std       + -Zbuild-std with -Cpanic=immediate-abort (std rebuilt for size, no panic
#             machinery at all)
#
# The unstable variants use the pinned stable compiler with RUSTC_BOOTSTRAP=1, only here,
# and need the rust-src component (added below). Each variant has its own target directory
# under $WASM_FLAGS_DIR (default ~/.cache/promptlab/wasm-flags): about 10 min per variant
# cold on 2 cores, 30 min for `std`. Usage: bench/wasm-flags.sh [variant...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
dir=${WASM_FLAGS_DIR:-$HOME/.cache/promptlab/wasm-flags}
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(base optsize flags std)

base_flags="--cfg erase_components"
size_flags="-Zlocation-detail=none -Zfmt-debug=none"

echo "| variant | raw bytes | gzip -9 bytes |"
echo "|---|---:|---:|"
for v in "${variants[@]}"; do
  envs=(RUSTFLAGS="$base_flags")
  args=()
  case "$v" in
    base) ;;
    optsize) envs+=(CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=s) ;;
    flags) envs=(RUSTC_BOOTSTRAP=1 RUSTFLAGS="$base_flags $size_flags") ;;
    std)
      rustup component add rust-src --toolchain "$toolchain" >/dev/null 2>&1
      envs=(RUSTC_BOOTSTRAP=1 RUSTFLAGS="$base_flags $size_flags -Zunstable-options -Cpanic=immediate-abort")
      args=(-Zbuild-std=std,panic_abort)
      ;;
    *) echo "unknown variant: $v" >&2; exit 2 ;;
  esac
  target="$dir/$v"
  env "${envs[@]}" CARGO_TARGET_DIR="$target" cargo "+$toolchain" build --quiet --locked \
    -p promptlab-frontend --target wasm32-unknown-unknown --profile wasm-release "${args[@]}"
  out="$target/out"
  rm -rf "$out" && mkdir -p "$out"
  wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name promptlab \
    "$target/wasm32-unknown-unknown/wasm-release/promptlab_frontend.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/promptlab_bg.wasm" -o "$out/opt.wasm"
  printf '| %s | %s | %s |\n' "$v" "$(stat -c %s "$out/opt.wasm")" "$(gzip -9 -c "$out/opt.wasm" | wc -c)"
done
