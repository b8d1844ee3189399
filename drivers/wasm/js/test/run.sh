#!/usr/bin/env bash
# Runs every node test of the wasm driver (unit, shared fixtures, size budget,
# jail, and the Node host against curl on loopback). Needs the module built
# by drivers/wasm/build.sh, its npm packages (npm ci), curl, openssl and python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -f "$here/../../pkg/node/ftpwire_wasm_bg.wasm" ]; then
    echo "run.sh: the module is not built; run drivers/wasm/build.sh first" >&2
    exit 1
fi
if [ ! -d "$here/../../node_modules/smol-toml" ] || [ ! -d "$here/../../node_modules/@node-rs/argon2" ]; then
    echo "run.sh: the Node host's npm packages are missing; run npm ci in drivers/wasm" >&2
    exit 1
fi
exec node --test "$here"/*.test.mjs
