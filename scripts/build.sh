#!/usr/bin/env bash
# Builds the Worker (build/index.js + wasm) with worker-build, offline. wrangler runs this as its
# build command. DYNAUTH_SKIP_BUILD=1 skips it when a build exists (tests build once up front).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${DYNAUTH_SKIP_BUILD:-}" = 1 ] && [ -f build/index.js ]; then
  log "build: skipped (DYNAUTH_SKIP_BUILD=1, build/index.js exists)"
  exit 0
fi
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen missing: run scripts/bootstrap.sh"
# Skip the build when nothing it reads has changed since the last one.
stamp_file="build/.inputs-sha256"
inputs="$(find src -type f | LC_ALL=C sort | xargs cat Cargo.toml Cargo.lock rust-toolchain.toml | sha256sum | cut -d' ' -f1)"
if [ -f build/index.js ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$inputs" ]; then
  log "build: up to date (sources unchanged since the last build)"
  exit 0
fi
log "build: worker-build --release"
rm -f "$stamp_file"
worker-build --release
wasm="$(ls build/*.wasm 2>/dev/null | head -1 || true)"
if [ -n "$wasm" ]; then
  # worker-build keeps the wasm `name` section (about 150 KB of function names, used only for
  # symbolic stack traces); strip it and the producers section. The named copy stays in
  # .run/build-names/ for profiles (bench/profile.mjs).
  mkdir -p .run/build-names
  cp build/index.js "$wasm" .run/build-names/
  wasm-opt "$wasm" --strip-debug --strip-producers -o "$wasm"
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  js=$(stat -c %s build/index.js)
  log "build: $wasm $raw bytes raw, $gz bytes gzip -9; build/index.js $js bytes"
fi
echo "$inputs" > "$stamp_file"
