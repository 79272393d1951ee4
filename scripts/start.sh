#!/usr/bin/env bash
# `npm start`: dynauth running locally. Installs what is missing, builds the Worker, starts
# DynamoDB Local, creates the table, and runs `wrangler dev` on 127.0.0.1:8787. Ctrl-C stops
# everything it started.
# Ports: DYNAUTH_PORT (default 8787), DYNAUTH_DDB_PORT (default: a free port).
# `npm start -- --persist`: keep DynamoDB Local's data in .run/dynamodb-data/ across runs (by
# default it lives in memory and is gone at Ctrl-C). `npm start -- --reset`: new admin token,
# TOKEN_SECRET and JWT_MASTER_KEY (otherwise those in .dev.vars are kept, so tokens and sessions survive a restart),
# and with --persist an empty database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/scripts/servers.sh"
cd "$ROOT"
trap stop_servers EXIT
trap 'exit 130' INT TERM

persist=false
reset=false
for arg in "$@"; do
  case "$arg" in
    --persist) persist=true ;;
    --reset) reset=true ;;
    *) die "unknown option $arg (npm start -- [--persist] [--reset])" ;;
  esac
done

bash scripts/bootstrap.sh
bash scripts/build.sh
cargo build --quiet --bin dynauth

port="${DYNAUTH_PORT:-8787}"
ddb_port="${DYNAUTH_DDB_PORT:-$(free_port)}"
data_dir="$ROOT/.run/dynamodb-data"
if $persist; then
  if $reset; then rm -rf "$data_dir"; fi
  start_dynamodb_local "$ddb_port" "$data_dir"
  storage="in $data_dir (kept across runs; npm start -- --persist --reset empties it)"
else
  start_dynamodb_local "$ddb_port"
  storage="in memory: everything is gone at Ctrl-C (npm start -- --persist keeps it)"
fi

# Local-only settings: obviously fake credentials (DynamoDB Local does not check them), and an
# admin token, TOKEN_SECRET and JWT_MASTER_KEY kept from the last run's .dev.vars (new ones on the first run or
# with --reset). wrangler dev reads .dev.vars (both Workers: their configs are beside it); it is
# git-ignored.
previous() { if [ -f .dev.vars ]; then sed -n "s/^$1=//p" .dev.vars | head -1; fi; }
admin_token="$($reset || previous ADMIN_TOKEN)"
token_secret="$($reset || previous TOKEN_SECRET)"
jwt_master_key="$($reset || previous JWT_MASTER_KEY)"
[ -n "$admin_token" ] || admin_token="dev-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[ -n "$token_secret" ] || token_secret="dev-token-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[ -n "$jwt_master_key" ] || jwt_master_key="dev-jwt-master-key-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > .dev.vars <<VARS
# Written by npm start for local development only. Never use these values anywhere else.
AWS_ACCESS_KEY_ID=AKIDLOCALDEV
AWS_SECRET_ACCESS_KEY=local-dev-secret-not-real
ADMIN_TOKEN=$admin_token
TOKEN_SECRET=$token_secret
JWT_MASTER_KEY=$jwt_master_key
DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
# Plain http on localhost cannot carry the Secure __Host- cookie: use the local one here only.
INSECURE_LOCAL_COOKIES=true
# No webhook locally: login codes are returned by /v1/login/start and logged (never in production).
DEV_MODE=true
# Tenant origins and webhooks may be local servers (http://localhost:3000 ...).
ALLOW_LOCAL_TARGETS=true
# Domain verification of local hosts fetches them on this port.
DOMAIN_CHECK_PORT=$port
VARS

export AWS_REGION=us-east-1 DYNAMODB_TABLE=dynauth DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export AWS_ACCESS_KEY_ID=AKIDLOCALDEV AWS_SECRET_ACCESS_KEY=local-dev-secret-not-real
./target/debug/dynauth table create >/dev/null
# The demo tenant, serving localhost and 127.0.0.1.
./target/debug/dynauth tenant put demo --name "Demo" \
  --allowed-origin "http://localhost:$port" --allowed-origin "http://127.0.0.1:$port" >/dev/null
./target/debug/dynauth domain claim demo localhost --status ready >/dev/null
./target/debug/dynauth domain claim demo 127.0.0.1 --status ready >/dev/null

cat >&2 <<INFO

  dynauth is starting on http://127.0.0.1:$port  (DynamoDB Local on 127.0.0.1:$ddb_port)
  Data: $storage

    curl http://127.0.0.1:$port/health
    curl http://127.0.0.1:$port/v1/tenant          # the demo tenant (localhost and 127.0.0.1)
    curl -H 'Authorization: Bearer $admin_token' http://127.0.0.1:$port/v1/admin/health
    curl -H 'Authorization: Bearer $admin_token' http://127.0.0.1:$port/v1/admin/tenants

  Sign in with the hosted page: http://localhost:$port/login?return_to=/v1/session
  (DEV_MODE: the code is printed in the log line of /v1/login/start, as "dev_login_code").

  Or with curl, as a server-side client (the code also comes back in the answer, and the login
  binding, which only the client that started the login holds and the verify must present):
    curl -X POST http://127.0.0.1:$port/v1/login/start -H 'content-type: application/json' \\
         -d '{"email":"you@example.com","deliver":"body"}'
    curl -i -X POST http://127.0.0.1:$port/v1/login/verify -H 'content-type: application/json' \\
         -d '{"login_id":"<login_id>","code":"<code>","binding":"<binding>","deliver":"body"}'
    curl -H 'Authorization: Bearer <token>' http://127.0.0.1:$port/v1/session

  Admin token (kept in .dev.vars across runs; npm start -- --reset makes a new one): $admin_token
  Ctrl-C stops dynauth and DynamoDB Local.

INFO
# Both Workers: the edge (wrangler.toml, on the port) and the admin Worker it hands /v1/admin/* to.
DYNAUTH_SKIP_BUILD=1 wrangler dev -c wrangler.toml -c wrangler.admin.toml --ip 127.0.0.1 --port "$port" \
  --show-interactive-dev-session=false &
SERVER_PIDS+=("$!")
wait "$!"
