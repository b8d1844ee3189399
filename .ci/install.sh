# Installs what ftpwire's tests (and CI) need on Debian, skipping whatever is
# already there. Sourced, not run: `./test` calls install_for_tests, `.ci/run`
# calls install_packages ci and install_rust_tools ci, so the list of tools
# lives here once. Non-interactive (no stdin): apt as root or through
# password-less sudo; Rust pieces through rustup and cargo (Rust itself must
# come from rustup). Versions that matter are pinned.
#
# A new tool a test needs goes into install_packages (apt) or
# install_rust_tools (rustup, cargo install) here, with its pinned version.

# Pinned so the fuzz smoke does not change under us; installs from crates.io.
CARGO_FUZZ_VERSION=0.13.1
# tests/s3_garage.rs: the S3-compatible object store the S3 back-end is
# tested against (its build takes about 13 minutes on 2 cores).
GARAGE_VERSION=2.5.0
# The Node host supports Node 18.3 and later (drivers/wasm/README.md).
NODE_MIN_VERSION=18.3

export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

# The wasm-bindgen CLI must be exactly the `wasm-bindgen` crate's version in
# Cargo.lock (pinned with `=` in Cargo.toml); drivers/wasm/build.sh checks it.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

# as_root COMMAND...: runs COMMAND as root: directly, or through sudo
# without a password (never a prompt: there is no stdin).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@" </dev/null
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n env DEBIAN_FRONTEND=noninteractive "$@" </dev/null
    else
        echo "install: root is needed to run: $*" >&2
        echo "install: run this script as root, give this user password-less sudo, or run that command yourself first" >&2
        return 1
    fi
}

# install_packages [ci]: the Debian packages whose commands are missing.
# `ci` adds what only CI's stages need (a C++ compiler for libFuzzer).
install_packages() {
    # command:package pairs.
    local wanted=(
        curl:curl lftp:lftp python3:python3
        # The WebAssembly driver's reference host and its FTPS test certificates.
        node:nodejs openssl:openssl
        # drivers/wasm/build.sh shrinks the module with wasm-opt.
        wasm-opt:binaryen
        # setpriv drops CAP_NET_BIND_SERVICE in a test run as root (Essential on Debian).
        setpriv:util-linux
        # Rust links with the system C compiler.
        cc:gcc
        # tests/doctor_nat.rs: network namespaces, veth pairs and a NAT router
        # with the kernel's FTP helper (nftables `ct helper`).
        ip:iproute2 nft:nftables
        # tests/scale_out.rs: HAProxy in front of two instances.
        haproxy:haproxy
        # tests/embedded_qemu.rs: the Cortex-M4 firmware boots in QEMU's
        # mps2-an386; its sizes come from the ARM binutils.
        qemu-system-arm:qemu-system-arm arm-none-eabi-size:binutils-arm-none-eabi
    )
    if [ "${1:-}" = ci ]; then
        # libfuzzer-sys compiles libFuzzer's C++ sources.
        wanted+=(c++:g++)
    fi
    local pair missing=() have=()
    for pair in "${wanted[@]}"; do
        if command -v "${pair%%:*}" >/dev/null; then
            have+=("${pair%%:*}")
        else
            missing+=("${pair#*:}")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if ! command -v apt-get >/dev/null; then
            echo "install: not a Debian system; install these packages (or their equivalents) first: ${missing[*]}" >&2
            return 1
        fi
        echo "install: apt packages ${missing[*]}"
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "install: already installed: ${have[*]}"
    fi
    local node
    node=$(node --version)
    node=${node#v}
    if [ "$(printf '%s\n%s\n' "$NODE_MIN_VERSION" "$node" | sort -V | head -n 1)" != "$NODE_MIN_VERSION" ]; then
        echo "install: node $node is older than $NODE_MIN_VERSION, which the Node host needs; install a newer nodejs" >&2
        return 1
    fi
    install_python_packages
    install_node_packages
}

# install_node_packages: the Node host's npm dependencies (smol-toml for
# --config, @node-rs/argon2 for password_hash), exactly as
# drivers/wasm/package-lock.json pins them; npm from apt if missing.
install_node_packages() {
    local wasm
    wasm="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/drivers/wasm"
    if ! command -v npm >/dev/null; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends npm
    fi
    if npm ls --prefix "$wasm" --depth=0 >/dev/null 2>&1 && [ -d "$wasm/node_modules" ]; then
        echo "install: already installed: the Node host's npm packages"
        return 0
    fi
    echo "install: the Node host's npm packages (npm ci in drivers/wasm)"
    npm ci --prefix "$wasm" --no-audit --no-fund </dev/null
}

# Pinned: tests/interop.rs runs aioftp, which starts TLS on a data connection
# before its transfer command.
AIOFTP_VERSION=0.22.3

# install_python_packages: the PyPI packages the tests import, through pip
# (python3-pip from apt if pip is missing); Debian's own Python needs
# --break-system-packages to take them.
install_python_packages() {
    if python3 -c "import aioftp, sys; sys.exit(aioftp.__version__ != '$AIOFTP_VERSION')" 2>/dev/null; then
        echo "install: already installed: aioftp $AIOFTP_VERSION"
        return 0
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends python3-pip
    fi
    echo "install: aioftp $AIOFTP_VERSION from PyPI"
    python3 -m pip install "aioftp==$AIOFTP_VERSION" </dev/null ||
        python3 -m pip install --break-system-packages "aioftp==$AIOFTP_VERSION" </dev/null
}

# install_rust_tools [ci]: the rustup targets and cargo tools the tests need
# (wasm32-unknown-unknown, wasm-bindgen-cli, thumbv7em-none-eabihf for
# tests/embedded_qemu.rs's firmware, garage for tests/s3_garage.rs); `ci` adds rustfmt, clippy, nightly and
# cargo-fuzz.
install_rust_tools() {
    if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
        echo "install: cargo and rustup are needed; install Rust with rustup (https://rustup.rs), then run this again" >&2
        return 1
    fi
    local targets=(wasm32-unknown-unknown thumbv7em-none-eabihf) components=() target component
    if [ "${1:-}" = ci ]; then
        components+=(rustfmt clippy)
    fi
    local installed
    installed=$(rustup target list --installed)
    for target in "${targets[@]}"; do
        grep -qx "$target" <<<"$installed" || rustup target add "$target"
    done
    installed=$(rustup component list --installed)
    for component in "${components[@]}"; do
        grep -q "^$component-" <<<"$installed" || rustup component add "$component"
    done
    local want
    want=$(wasm_bindgen_version)
    if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $want" ]; then
        # No --locked: its lock file can be newer than the registry mirror.
        cargo install wasm-bindgen-cli --version "$want"
    fi
    # (.ci/run builds it in the background meanwhile and says so here.)
    if [ -z "${FTPWIRE_GARAGE_BUILDING:-}" ]; then
        install_garage
    fi
    if [ "${1:-}" = ci ]; then
        if ! rustup run nightly rustc --version >/dev/null 2>&1; then
            rustup toolchain install nightly --profile minimal
        fi
        if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
            cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION"
        fi
    fi
    echo "install: $(rustc --version), $(wasm-bindgen --version), $(garage --version 2>/dev/null | cut -d' ' -f1-2 || true)${FTPWIRE_GARAGE_BUILDING:+garage being built}, targets: $(rustup target list --installed | tr '\n' ' ')"
}

# garage_installed: whether `garage` is Garage $GARAGE_VERSION (cargo
# install's build says `garage cargo:2.5.0 [features: ...]`) with SQLite,
# the db_engine tests/common/garage.rs configures (a build that lists its
# features without sqlite is built again).
garage_installed() {
    local version
    version=$(garage --version 2>/dev/null || true)
    case "$version" in
    *":$GARAGE_VERSION "* | *" v$GARAGE_VERSION"*) ;;
    *) return 1 ;;
    esac
    case "$version" in
    *"[features:"*) [[ "$version" == *sqlite* ]] ;;
    *) return 0 ;;
    esac
}

# install_garage: Garage for tests/s3_garage.rs, unless that version is
# there. Built with only what the tests use (SQLite, bundled C libraries;
# no LMDB, metrics or K2V): 271 crates instead of the default's 293, and
# the whole S3 suite passes on it.
install_garage() {
    if garage_installed; then
        return 0
    fi
    cargo install garage --version "$GARAGE_VERSION" --no-default-features --features bundled-libs,sqlite
}

# install_peer_lists: benches/peers.rs --fetch-peers runs `apt-get download
# vsftpd pure-ftpd libwrap0` and unpacks them under target/peers (never
# installed: they conflict as packages); that needs apt's package lists.
install_peer_lists() {
    if apt-cache show vsftpd pure-ftpd libwrap0 >/dev/null 2>&1; then
        echo "install: apt has vsftpd, pure-ftpd and libwrap0 to download"
        return 0
    fi
    as_root apt-get update
}

# Everything `cargo test --workspace` needs.
install_for_tests() {
    install_packages
    install_rust_tools
}
