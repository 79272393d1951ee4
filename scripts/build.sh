#!/usr/bin/env bash
# Builds the two Workers with worker-build, offline (wrangler runs this as the build command of
# both configs):
#   build/        dynauth, the edge: every route but the admin API, which it hands to ...
#   build-admin/  dynauth-admin: the same crate with the `admin` feature (everything).
# DYNAUTH_SKIP_BUILD=1 skips it when both builds exist (tests build once up front).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${DYNAUTH_SKIP_BUILD:-}" = 1 ] && [ -f build/index.js ] && [ -f build-admin/index.js ]; then
  log "build: skipped (DYNAUTH_SKIP_BUILD=1, build/ and build-admin/ exist)"
  exit 0
fi
# Skip the build when nothing it reads has changed since the last one (before asking for the
# toolchain: a current build needs none of it).
stamp_file="build/.inputs-sha256"
inputs="$(build_inputs_hash)"
if build_is_current; then
  log "build: up to date (sources unchanged since the last build)"
  exit 0
fi
rm -f "$stamp_file"
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen missing: run scripts/bootstrap.sh"

# build_worker DIR [worker-build args]: one Worker into DIR, its `name` section stripped.
build_worker() {
  local dir=$1
  shift
  log "build: worker-build --release --out-dir $dir $*"
  worker-build --release --out-dir "$dir" "$@"
  local wasm="$dir/index_bg.wasm"
  # worker-build keeps the wasm `name` section (about 180 KB of function names, used only for
  # symbolic stack traces); strip it and the producers section. The named copy stays in
  # .run/names/DIR/ for profiles (bench/profile.mjs) and size analysis.
  mkdir -p ".run/names/$dir"
  cp "$dir/index.js" "$wasm" ".run/names/$dir/"
  wasm-opt "$wasm" --strip-debug --strip-producers -o "$wasm"
  log "build: $dir: wasm $(stat -c %s "$wasm") bytes raw, $(gzip -9 -c "$wasm" | wc -c) gzip -9;" \
    "index.js $(stat -c %s "$dir/index.js") raw, $(gzip -9 -c "$dir/index.js" | wc -c) gzip -9"
}
build_worker build
build_worker build-admin --features admin
echo "$inputs" > "$stamp_file"
