#!/usr/bin/env bash
# User-space instructions a server process spends per operation, counted by
# callgrind: a NOOP round trip (one command in flight), and a LIST and an
# MLSD of 1,000 files (PASV, as Python's ftplib does them). A figure that the
# machine's noise does not move, where the CPU time of a round trip
# (benches/peers.rs) is nine-tenths the kernel's and moves by 10% between
# runs. Callgrind's instrumentation is switched on only while the operations
# run (after login), by callgrind_control, on a signal from the client. A
# figure for humans: never an assertion.
#
#   cargo build --release --bin ftpwire && benches/server_instructions.sh
#
# Environment: FTPWIRE_BIN (default target/release/ftpwire), NOOPS (20000),
# LISTINGS (20), DRIVERS ("smol std"), WORKLOADS ("NOOP LIST MLSD"), KEEP (a
# folder to keep the callgrind profiles in, for callgrind_annotate).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${FTPWIRE_BIN:-target/release/ftpwire}
NOOPS=${NOOPS:-20000}
LISTINGS=${LISTINGS:-20}
DRIVERS=${DRIVERS:-smol std}
WORKLOADS=${WORKLOADS:-NOOP LIST MLSD}
[[ -x $BIN ]] || { echo "no $BIN: cargo build --release --bin ftpwire first" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The client: logs in, says so on stdout, waits for a line on stdin, runs
# COUNT operations of WORKLOAD, says so, waits for a line again, then QUIT.
cat >"$work/client.py" <<'EOF'
import ftplib, sys
port, workload, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port)
ftp.login("alice", "secret")
print("logged in", flush=True); sys.stdin.readline()
for _ in range(count):
    if workload == "NOOP":
        assert ftp.voidcmd("NOOP").startswith("200")
    else:
        lines = []
        ftp.retrlines(workload, lines.append)
        assert len(lines) >= 1000, (workload, len(lines))
print("done", flush=True); sys.stdin.readline()
ftp.quit()
EOF

# What the listings list: 1,000 files of different sizes.
mkdir -p "$work/files"
for i in $(seq 1000); do
    head -c "$((i * 7))" /dev/zero >"$work/files/file-$i.dat"
done

for driver in $DRIVERS; do
    for workload in $WORKLOADS; do
        mkdir -p "$work/root-$driver"
        if [[ $workload == NOOP ]]; then
            root="$work/root-$driver" count=$NOOPS unit="NOOP round trip"
        else
            root="$work/files" count=$LISTINGS unit="$workload of 1,000 files"
        fi
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        out="$work/callgrind-$driver-$workload.out"
        log="$work/server-$driver-$workload.log"
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
            "$BIN" serve --driver "$driver" --listen "127.0.0.1:$port" \
            --user alice:secret --root "$root" >"$log" 2>&1 &
        server_pid=$!
        # Readiness: the server's log line saying it listens.
        for _ in $(seq 600); do
            grep -q "listening" "$log" && break
            kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
            sleep 0.1
        done
        coproc CLIENT { python3 "$work/client.py" "$port" "$workload" "$count"; }
        read -r _ <&"${CLIENT[0]}"
        callgrind_control -i on "$server_pid" >/dev/null 2>&1
        echo >&"${CLIENT[1]}"
        read -r _ <&"${CLIENT[0]}"
        callgrind_control -i off "$server_pid" >/dev/null 2>&1
        echo >&"${CLIENT[1]}"
        wait "$CLIENT_PID"
        kill -INT "$server_pid"
        wait "$server_pid" 2>/dev/null || true
        server_pid=
        total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen {gsub(",", "", $1); print $1; seen = 1}')
        echo "ftpwire-$driver: $(echo "$total / $count" | bc) user-space instructions per $unit ($count)"
        if [[ -n ${KEEP:-} ]]; then
            mkdir -p "$KEEP" && cp "$out" "$KEEP/"
        fi
    done
done
