#!/usr/bin/env bash
# `npm run faults`: the fault-injection suite (tests/e2e/faults.test.mjs) with a longer seeded
# random run than `npm test` makes: FAULT_REQUESTS (default 3000) requests, FAULT_RATE (0.2) of
# the DynamoDB requests faulted, FAULT_SEED (a new one each run unless given; it is printed, so
# a failing run can be replayed with the same seed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
install_and_build
export FAULT_REQUESTS="${FAULT_REQUESTS:-3000}"
export FAULT_SEED="${FAULT_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
log "faults: $FAULT_REQUESTS requests, rate ${FAULT_RATE:-0.2}, seed $FAULT_SEED"
exec scripts/with-servers.sh node --test --test-timeout=3600000 --test-reporter=spec tests/e2e/faults.test.mjs
