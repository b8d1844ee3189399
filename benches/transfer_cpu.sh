#!/usr/bin/env bash
# Server CPU per GB (10^9 bytes) of a 1 GiB RETR and STOR on loopback, on
# each driver, with the zero-copy path (sendfile/splice, Linux) and with
# the copy path (FTPWIRE_NO_ZERO_COPY=1) measured in the same run, and
# their ratio. CPU is the server process's utime+stime from /proc/PID/stat
# (every thread), read before and after one curl transfer; each figure is
# the median of RUNS transfers. A figure for humans: never an assertion.
#
#   cargo build --release --bin ftpwire && benches/transfer_cpu.sh
#
# Environment: FTPWIRE_BIN (default target/release/ftpwire), RUNS (3),
# SIZE_MIB (1024), DRIVERS ("std smol"), BENCH_DIR (a temporary directory
# for the 2 x SIZE_MIB of files).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${FTPWIRE_BIN:-target/release/ftpwire}
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
DRIVERS=${DRIVERS:-std smol}
[[ -x $BIN ]] || { echo "no $BIN: cargo build --release --bin ftpwire first" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/ftpwire-cpu.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/root"
head -c "${SIZE_MIB}M" /dev/urandom >"$work/root/big.bin"
cp "$work/root/big.bin" "$work/upload.bin"
bytes=$((SIZE_MIB * 1024 * 1024))
ticks=$(getconf CLK_TCK)

# utime + stime of process $1, in clock ticks (fields 14 and 15; the
# command name in field 2 is "(ftpwire)", without spaces).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Starts `ftpwire serve` on driver $1 (copy path if $2 = copy); sets
# server_pid and addr.
start_server() {
    local env=()
    [[ $2 == copy ]] && env=(FTPWIRE_NO_ZERO_COPY=1)
    # A coprocess: its `listening` line is read as it comes (no polling).
    coproc SERVER {
        exec env "${env[@]}" "$BIN" serve --driver "$1" --listen 127.0.0.1:0 \
            --root "$work/root" --user bench:bench 2>"$work/err"
    }
    server_pid=$SERVER_PID
    addr=
    local line
    while read -r -t 30 line <&"${SERVER[0]}"; do
        if [[ $line == "listening ftp://"* ]]; then
            addr=${line#listening ftp://}
            return
        fi
    done
    echo "the server did not start:" >&2
    cat "$work/err" >&2
    exit 1
}

stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# Seconds of server CPU per GB for one transfer ($1: RETR or STOR).
one_transfer() {
    local before after
    before=$(cpu_ticks "$server_pid")
    case $1 in
        RETR) curl -sS --user bench:bench -o /dev/null "ftp://$addr/big.bin" ;;
        STOR) curl -sS --user bench:bench -T "$work/upload.bin" "ftp://$addr/up.bin" ;;
    esac
    after=$(cpu_ticks "$server_pid")
    [[ $1 == STOR ]] && rm -f "$work/root/up.bin"
    awk -v t=$((after - before)) -v hz="$ticks" -v b="$bytes" \
        'BEGIN { printf "%.3f\n", t / hz / (b / 1e9) }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A result
for driver in $DRIVERS; do
    for path in copy zero-copy; do
        start_server "$driver" "$path"
        for op in RETR STOR; do
            runs=()
            for _ in $(seq "$RUNS"); do
                runs+=("$(one_transfer "$op")")
            done
            result[$driver,$op,$path]=$(printf '%s\n' "${runs[@]}" | median)
            echo "$driver $op $path: ${runs[*]} s/GB" >&2
        done
        stop_server
    done
done

printf '%-6s %-5s %12s %12s %8s\n' driver op "copy s/GB" "zero s/GB" ratio
for driver in $DRIVERS; do
    for op in RETR STOR; do
        copy=${result[$driver,$op,copy]}
        zero=${result[$driver,$op,zero-copy]}
        ratio=$(awk -v z="$zero" -v c="$copy" 'BEGIN { if (c > 0) printf "%.2f", z / c; else print "-" }')
        printf '%-6s %-5s %12s %12s %8s\n' "$driver" "$op" "$copy" "$zero" "$ratio"
    done
done
