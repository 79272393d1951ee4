# Local servers for development and tests, started in the background and stopped by PID.
# Source after lib.sh. Each start_* records its PID; stop_servers (run it from an EXIT trap)
# stops exactly those processes, and nothing else.
SERVER_PIDS=()

# start_dynamodb_local PORT [DIR]: Amazon's DynamoDB Local 3.3.1, in memory (or, with DIR, in a
# database file under DIR that outlives it), one shared database, telemetry off, listening on
# 127.0.0.1:PORT only (through scripts/DynamoDBLocalLoopback.java; without javac it falls back to
# the jar's own main, which listens on every interface).
start_dynamodb_local() {
  local port=$1 dir=${2:-} logfile="$RUN_DIR/dynamodb-local-$1.log"
  mkdir -p "$RUN_DIR"
  local storage=(-inMemory)
  if [ -n "$dir" ]; then
    mkdir -p "$dir"
    storage=(-dbPath "$dir")
  fi
  local args=("${storage[@]}" -sharedDb -disableTelemetry -port "$port")
  if command -v javac >/dev/null 2>&1; then
    java -Djava.library.path="$DDB_LOCAL_DIR/DynamoDBLocal_lib" \
      -cp "$DDB_LOCAL_DIR/DynamoDBLocal.jar:$DDB_LOCAL_DIR/DynamoDBLocal_lib/*" \
      "$ROOT/scripts/DynamoDBLocalLoopback.java" "${args[@]}" >"$logfile" 2>&1 &
  else
    log "javac not found: DynamoDB Local will listen on all interfaces (it has no host option)"
    java -Djava.library.path="$DDB_LOCAL_DIR/DynamoDBLocal_lib" -jar "$DDB_LOCAL_DIR/DynamoDBLocal.jar" \
      "${args[@]}" >"$logfile" 2>&1 &
  fi
  local pid=$!
  SERVER_PIDS+=("$pid")
  if ! wait_for_port "$port" 60 "$pid"; then
    cat "$logfile" >&2
    die "DynamoDB Local did not start on port $port"
  fi
  log "DynamoDB Local 3.3.1 on http://127.0.0.1:$port (pid $pid, log $logfile)"
}

# start_moto PORT: moto_server in IAM-auth mode. The first three requests are free: they create
# an IAM user, its access key and an allow-all policy. From then on every request must carry a
# valid SigV4 signature of that key. Writes the key to $RUN_DIR/moto-$PORT.env.
start_moto() {
  local port=$1 logfile="$RUN_DIR/moto-$1.log"
  mkdir -p "$RUN_DIR"
  INITIAL_NO_AUTH_ACTION_COUNT=3 MOTO_ALLOW_NONEXISTENT_REGION=false \
    "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  if ! wait_for_port "$port" 30 "$pid"; then
    cat "$logfile" >&2
    die "moto_server did not start on port $port"
  fi
  "$TOOLS/venv/bin/python" "$ROOT/scripts/moto-setup.py" "http://127.0.0.1:$port" >"$RUN_DIR/moto-$port.env" \
    || die "could not create the IAM user on moto"
  log "moto_server (IAM auth) on http://127.0.0.1:$port (pid $pid, key in $RUN_DIR/moto-$port.env)"
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
