#!/usr/bin/env bash
# Runs a command with DynamoDB Local (twice: a home region and a replica region) and moto (IAM
# auth) started on free loopback ports, and stops them all by PID afterwards, whatever happens.
# The command sees:
#   DYNAUTH_TEST_DYNAMODB   http://127.0.0.1:PORT of DynamoDB Local (home)
#   DYNAUTH_TEST_DYNAMODB_REPLICA   http://127.0.0.1:PORT of a second DynamoDB Local (a replica
#                           region, for the multi-region tests)
#   DYNAUTH_TEST_MOTO       http://127.0.0.1:PORT of moto_server
#   MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY   the key moto accepts
# Ports can be fixed with DYNAUTH_DDB_PORT / DYNAUTH_MOTO_PORT.
# Example: scripts/with-servers.sh cargo test --test dynamodb_local
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$ROOT/scripts/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

ddb_port="${DYNAUTH_DDB_PORT:-$(free_port)}"
moto_port="${DYNAUTH_MOTO_PORT:-$(free_port)}"
start_dynamodb_local "$ddb_port"
replica_port="$(free_port)" # once home listens, so the two cannot be given the same port
start_dynamodb_local "$replica_port"
start_moto "$moto_port"
set -a
source "$RUN_DIR/moto-$moto_port.env"
set +a
export DYNAUTH_TEST_DYNAMODB="http://127.0.0.1:$ddb_port"
export DYNAUTH_TEST_DYNAMODB_REPLICA="http://127.0.0.1:$replica_port"
export DYNAUTH_TEST_MOTO="http://127.0.0.1:$moto_port"
"$@"
