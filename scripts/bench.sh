#!/usr/bin/env bash
# `npm run bench`: the Worker's size, and lookup latency under wrangler dev against DynamoDB
# Local (bench/lookup.mjs). Numbers are local (workerd and DynamoDB Local on one machine), useful
# to compare changes, not edge latencies.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/build.sh
cargo build --quiet --bin dynauth
wasm="build/index_bg.wasm"
log "bench: $wasm $(stat -c %s "$wasm") bytes raw, $(gzip -9 -c "$wasm" | wc -c) gzip -9; build/index.js $(stat -c %s build/index.js) bytes"
scripts/with-servers.sh node bench/lookup.mjs
