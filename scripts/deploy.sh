#!/usr/bin/env bash
# `npm run deploy`: both Workers, in order: dynauth-admin first (the edge binds to it), then the
# dynauth edge. Extra arguments go to both `wrangler deploy` calls; `--dry-run` bundles both into
# DEPLOY_OUTDIR/{admin,edge} without uploading.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if build_is_current; then
  # The Workers are built from these very sources: wrangler is all a deploy needs.
  log "deploy: build/ and build-admin/ are current; installing only the npm packages"
  bash scripts/bootstrap.sh --npm-only
else
  bash scripts/bootstrap.sh
  bash scripts/build.sh
fi
if [[ " $* " == *" --dry-run "* ]]; then
  # A dry run bundles both Workers into DEPLOY_OUTDIR/{admin,edge} (default .run/deploy) and
  # lists their bindings, offline: nothing is uploaded.
  out="${DEPLOY_OUTDIR:-$ROOT/.run/deploy}"
  wrangler deploy -c wrangler.admin.toml --outdir "$out/admin" "$@"
  wrangler deploy -c wrangler.toml --outdir "$out/edge" "$@"
else
  wrangler deploy -c wrangler.admin.toml "$@"
  wrangler deploy -c wrangler.toml "$@"
fi
