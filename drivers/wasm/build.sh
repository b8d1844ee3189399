#!/usr/bin/env bash
# Builds the release WebAssembly modules and their JavaScript bindings:
#   pkg/node/         the server module, wasm-bindgen --target nodejs (CommonJS; the Node host uses it)
#   pkg/web/          the server module, --target web (ES module for browsers and edge runtimes)
#   pkg/node-proxy/   the server module with the PROXY protocol (the Node host with --proxy-protocol-from)
#   pkg/web-proxy/    the same, --target web
#   pkg/node-client/  the client module (js/client.mjs uses it), --target nodejs
#   pkg/web-client/   the client module, --target web
# The single build entry point for the wasm driver: CI runs it before the
# node tests (js/test/run.sh). Installs nothing; it needs what the README's
# set-up installs: the wasm32-unknown-unknown target, wasm-bindgen-cli at
# exactly the version of the wasm-bindgen crate in Cargo.lock, and wasm-opt
# (Debian's binaryen), which shrinks the module.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null; then
    echo "build.sh: wasm-bindgen not found; install it: cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
have=$(wasm-bindgen --version | awk '{ print $2 }')
if [ "$have" != "$want" ]; then
    echo "build.sh: wasm-bindgen $have found but Cargo.lock has $want; install it: cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
if ! command -v wasm-opt >/dev/null; then
    echo "build.sh: wasm-opt not found; install binaryen (Debian: apt-get install binaryen)" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "build.sh: the wasm32-unknown-unknown target is missing; install it: rustup target add wasm32-unknown-unknown" >&2
    exit 1
fi

# One module per kind of host, each with only the halves it needs (cargo
# features of ftpwire-wasm; README "Size"):
#   server:       `server`        pkg/node, pkg/web              (Session, ServerConfig, …)
#   server-proxy: `server,proxy`  pkg/node-proxy, pkg/web-proxy  (the same, and Balancers, ProxyHeaderReader)
#   client:       `client`        pkg/node-client, pkg/web-client (ClientSession)
release="$root/target/wasm32-unknown-unknown/wasm-release"
build_module() {
    local name=$1 features=$2 node_dir=$3 web_dir=$4
    cargo build -p ftpwire-wasm --no-default-features --features "$features" \
        --target wasm32-unknown-unknown --profile wasm-release
    # Cargo writes every feature set to the same file: keep this one (with
    # its time, which the wasm-opt skip below compares).
    mkdir -p "$release/$name" "$release/opt/$name"
    local module="$release/$name/ftpwire_wasm.wasm"
    cp -p "$release/ftpwire_wasm.wasm" "$module"

    # wasm-opt -Oz: binaryen's size passes take about a tenth off what rustc's
    # opt-level "z" left. It runs before wasm-bindgen: Debian 12's binaryen 108
    # misnumbers the tables of a module wasm-bindgen wrote (its externref table's
    # export comes out naming the funcref table). The features are those rustc's
    # wasm32-unknown-unknown target emits, which binaryen 108 does not read from
    # the module.
    # (Same file name in its own folder: wasm-bindgen names its output after it.)
    local optimized="$release/opt/$name/ftpwire_wasm.wasm"
    # (Skipped when its output is newer than the module and this script: it
    # takes a few seconds, and tests run build.sh once per process.)
    if [ ! "$optimized" -nt "$module" ] || [ ! "$optimized" -nt "$here/build.sh" ]; then
        # (--flatten --rereloop and two more -Oz rounds after the first:
        # binaryen rebuilds the control flow, and the second size pass
        # finds about 1% more to take off; README "Size".)
        wasm-opt -Oz --converge --flatten --rereloop -Oz -Oz --enable-bulk-memory --enable-multivalue --enable-mutable-globals \
            --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext \
            "$module" -o "$optimized"
    fi

    wasm-bindgen --remove-name-section --remove-producers-section --target nodejs --out-dir "$here/pkg/$node_dir" "$optimized"
    wasm-bindgen --remove-name-section --remove-producers-section --target web --out-dir "$here/pkg/$web_dir" "$optimized"
    # The nodejs bindings are CommonJS; package.json beside them says so, since
    # drivers/wasm/package.json makes .js files ES modules.
    echo '{ "type": "commonjs" }' > "$here/pkg/$node_dir/package.json"
    # The module's JS snippets (src/record.js: the record decoder) are ES
    # modules, which the nodejs bindings require(): the same functions as
    # CommonJS exports (Node 18 cannot require an ES module).
    if [ -d "$here/pkg/$node_dir/snippets" ]; then
        find "$here/pkg/$node_dir/snippets" -name '*.js' -print0 | while IFS= read -r -d '' snippet; do
            sed -i 's/^export function \([A-Za-z0-9_]*\)/exports.\1 = function \1/' "$snippet"
            if grep -q '^export ' "$snippet"; then
                echo "build.sh: $snippet exports something other than functions" >&2
                exit 1
            fi
        done
    fi
}

# One build at a time (two test runs at once, say): the second waits, then
# finds its outputs up to date. Only folders no module writes are removed
# (what an older build.sh left), so a build never deletes what another
# process is reading.
mkdir -p "$root/target" "$here/pkg"
exec 9>"$root/target/wasm-build.lock"
flock 9
for dir in "$here"/pkg/*/; do
    case "$(basename "$dir")" in
        node | web | node-proxy | web-proxy | node-client | web-client) ;;
        *) rm -rf "$dir" ;;
    esac
done
build_module server server node web
build_module server-proxy server,proxy node-proxy web-proxy
build_module client client node-client web-client

for wasm in "$here"/pkg/*/ftpwire_wasm_bg.wasm; do
    raw=$(wc -c < "$wasm")
    gz=$(gzip -9 -c "$wasm" | wc -c)
    echo "built ${wasm#"$root"/}: $raw bytes raw, $gz bytes gzip -9"
done
