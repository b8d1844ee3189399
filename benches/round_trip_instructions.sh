#!/usr/bin/env bash
# User-space instructions a server process spends per NOOP round trip (one
# command in flight), counted by callgrind: a figure that the machine's
# noise does not move, where the CPU time of a round trip (benches/peers.rs)
# is nine-tenths the kernel's and moves by 10% between runs. Callgrind's
# instrumentation is switched on only while the NOOPs run (after login),
# by callgrind_control, on a signal from the client. A figure for humans:
# never an assertion.
#
#   cargo build --release --bin ftpwire && benches/round_trip_instructions.sh
#
# Environment: FTPWIRE_BIN (default target/release/ftpwire), NOOPS (20000),
# DRIVERS ("smol std").
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${FTPWIRE_BIN:-target/release/ftpwire}
NOOPS=${NOOPS:-20000}
DRIVERS=${DRIVERS:-smol std}
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
# the NOOPs, says so, waits for a line again, then QUIT.
cat >"$work/client.py" <<'EOF'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
control = socket.create_connection(("127.0.0.1", port))
replies = control.makefile("rb")
def reply():
    line = replies.readline()
    if line[3:4] == b"-":
        while not (line[:3].isdigit() and line[3:4] == b" "):
            line = replies.readline()
    return line
def command(line, code):
    control.sendall(line + b"\r\n")
    got = reply()
    assert got.startswith(code), (line, got)
assert reply().startswith(b"220")
command(b"USER alice", b"331")
command(b"PASS secret", b"230")
print("logged in", flush=True); sys.stdin.readline()
for _ in range(count):
    command(b"NOOP", b"200")
print("done", flush=True); sys.stdin.readline()
command(b"QUIT", b"221")
EOF

for driver in $DRIVERS; do
    mkdir -p "$work/root-$driver"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    out="$work/callgrind-$driver.out"
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$BIN" serve --driver "$driver" --listen "127.0.0.1:$port" \
        --user alice:secret --root "$work/root-$driver" >"$work/server-$driver.log" 2>&1 &
    server_pid=$!
    # Readiness: the server's log line saying it listens.
    for _ in $(seq 600); do
        grep -q "listening" "$work/server-$driver.log" && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$driver.log" >&2; exit 1; }
        sleep 0.1
    done
    coproc CLIENT { python3 "$work/client.py" "$port" "$NOOPS"; }
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
    echo "ftpwire-$driver: $(echo "scale=1; $total / $NOOPS" | bc) user-space instructions per NOOP round trip ($NOOPS round trips)"
done
