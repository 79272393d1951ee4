#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every check and test; exits non-zero on the
# first failure. Servers it starts are stopped by PID on exit, pass or fail.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS
phase() { log "test: $* (at ${SECONDS}s)"; }

bash scripts/bootstrap.sh

phase "cargo fmt --check"
cargo fmt --all --check

phase "clippy, native (all targets)"
cargo clippy --all-targets --quiet -- -D warnings
phase "clippy, wasm32 (the edge Worker, and the admin Worker)"
cargo clippy --lib --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features admin --quiet -- -D warnings

phase "signing fixture still matches botocore"
"$TOOLS/venv/bin/python" tests/fixtures/sigv4/generate.py --check

phase "layers: every crate:: path points down, no import cycle"
node scripts/layers.mjs

phase "links: every relative link in README.md and docs/ resolves"
node scripts/links.mjs

phase "docs/openapi.json matches docs/openapi.yaml"
node scripts/openapi.mjs --check

phase "JS client: unit tests and type declarations (clients/js)"
node --test clients/js/test/unit.test.mjs
tsc -p clients/js/test/tsconfig.json

phase "build the Workers and the CLI"
bash scripts/build.sh
cargo build --quiet --bin dynauth

phase "infra/ matches the code"
"$TOOLS/venv/bin/python" tests/infra_check.py target/debug/dynauth

phase "unit, integration and end-to-end tests against DynamoDB Local and moto"
scripts/with-servers.sh bash -c '
  set -euo pipefail
  cargo test --quiet
  node --test --test-timeout=300000 --test-reporter=spec tests/e2e/*.test.mjs
'
log "test: all passed in $((SECONDS - started))s"
