#!/usr/bin/env bash
# The resident memory of mini-deploy's processes before and after what a
# hostile client can send: 1,000 requests with unique 64 KiB methods through
# a Service (they reach the data plane, which counts them in its metrics),
# then an exec whose command prints 1 GiB (through the control plane). Both
# processes are measured. Needs `make build images`; runs its own daemon in a
# temporary home and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
B=$PWD/bin/mini-deploy
H=$(mktemp -d)
trap '"$B" --home "$H" down >/dev/null 2>&1 || true; rm -rf "$H"' EXIT
out=$("$B" --home "$H" up -f examples/kubia/ 2>&1)
URL=$(printf '%s\n' "$out" | grep -o 'http://127.0.0.1:[0-9]*' | head -n 1)
PID=$(cat "$H/daemon.pid")
DP=$(basename "$(ls "$H"/dataplane/*.sock | head -n 1)" .sock)
rss1() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$1/status"; }
rss() { echo "control plane $(rss1 "$PID"), data plane $(rss1 "$DP")"; }
sleep 2
echo "RSS at rest: $(rss)"
python3 - "$URL" <<'PY'
import random, socket, string, sys
host, port = sys.argv[1].split("//")[1].split(":")
for i in range(1000):
    method = "X" + "".join(random.choice(string.ascii_uppercase) for _ in range(65535))
    s = socket.create_connection((host, int(port)))
    s.sendall((method + " / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").encode())
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
PY
sleep 1
echo "after 1,000 requests with unique 64 KiB methods: $(rss)"
POD=$("$B" --home "$H" get pods -o name | head -n 1)
bytes=$("$B" --home "$H" exec "${POD#pod/}" -- /kubia print 1073741824 | wc -c)
sleep 1
echo "after an exec that printed $bytes bytes: $(rss)"
