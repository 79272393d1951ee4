#!/usr/bin/env bash
# `npm run fuzz`: the fuzz targets of tests/fuzz.rs (hosts, Authorization and cookies, JSON
# bodies, cursors, DynamoDB answers), each for FUZZ_SECS seconds (default 30), optimised, from a
# new seed each run (FUZZ_SEED to replay one; it is printed). An input that breaks a property is
# saved under tests/fixtures/fuzz/<target>/ and fails the run; `npm test` replays every saved one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
exec cargo test --release --test fuzz -- --ignored --nocapture fuzz_for_a_while
