#!/usr/bin/env bash
# `npm run deploy`: both Workers, in order: dynauth-admin first (the edge binds to it), then the
# dynauth edge. Extra arguments go to both `wrangler deploy` calls (e.g. --dry-run --outdir DIR).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
bash scripts/build.sh
wrangler deploy -c wrangler.admin.toml "$@"
wrangler deploy -c wrangler.toml "$@"
