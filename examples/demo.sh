#!/usr/bin/env bash
# make demo: the seed's story in under a minute.
#
# A Deployment of three kubia v1 pods behind a Service; the seed's curl loop
# (`while true; do curl URL; done`) in the background, every answer and every
# failure written down with its time; the image changed to v2, the control
# plane rolling it out on its own; then the count: requests, failed: 0, and a
# per-second timeline in which the v1 answers turn into v2 answers.
#
# It runs its own daemon in .build/demo-home, so it never touches a daemon you
# run yourself. KEEP=1 leaves everything running afterwards. It prints the
# web dashboard's URL before the rollout and, on a terminal, waits DEMO_WAIT
# seconds (default 5) so that a person can open it and watch.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/mini-deploy}
KEEP=${KEEP:-0}
export MINI_DEPLOY_HOME=${MINI_DEPLOY_HOME:-$PWD/.build/demo-home}
LOG_DIR=.build/demo
LOOP_LOG=$LOG_DIR/curl.log
STOP=$LOG_DIR/stop
MAX_LOOP_SECONDS=120 # the loop is bounded even if this script is killed

command -v curl >/dev/null || { echo "error: curl is needed for the demo (apt-get install curl)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "error: $BIN is missing: run make build" >&2; exit 1; }

mkdir -p "$LOG_DIR"
rm -f "$LOOP_LOG" "$STOP"
loop_pid=""

finish() {
	local rc=$?
	touch "$STOP"
	if [ -n "$loop_pid" ]; then wait "$loop_pid" 2>/dev/null || true; fi
	if [ "$KEEP" = 1 ]; then
		echo
		echo "KEEP=1: still running. Try: MINI_DEPLOY_HOME=$MINI_DEPLOY_HOME $BIN get all"
		echo "Remove it all with: MINI_DEPLOY_HOME=$MINI_DEPLOY_HOME $BIN down"
	else
		"$BIN" down >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap finish EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ mini-deploy %s\n' "$*"; "$BIN" "$@"; }

step "1. A Deployment of 3 kubia v1 pods behind a Service"
run up -f examples/kubia/ | tee "$LOG_DIR/up.out"
URL=$(grep -o 'http://[0-9.:]*' "$LOG_DIR/up.out" | head -n 1)
[ -n "$URL" ] || { echo "error: up printed no Service URL" >&2; exit 1; }
run get pods

step "1b. Watch it in the browser"
run dashboard
if [ -t 1 ]; then
	echo "Open the URL above to watch the rollout live; it starts in ${DEMO_WAIT:-5} seconds."
	sleep "${DEMO_WAIT:-5}"
fi

step "2. The seed's curl loop, in the background: while true; do curl $URL; done"
# One line per request: unix time, HTTP code (000 when curl got no answer),
# and the answer.
(
	deadline=$((SECONDS + MAX_LOOP_SECONDS))
	while [ ! -e "$STOP" ] && [ "$SECONDS" -lt "$deadline" ]; do
		out=$(curl -s --max-time 2 -w '\n%{http_code}' "$URL" 2>/dev/null) || true
		code=${out##*$'\n'}
		body=${out%$'\n'*}
		[ "$body" = "$code" ] && body=""
		body=${body//$'\n'/ }
		body=${body% }
		printf '%s %s %s\n' "$(date +%s.%N)" "${code:-000}" "${body:-<no answer>}"
	done
) >"$LOOP_LOG" &
loop_pid=$!
sleep 2
echo "answers so far: $(wc -l <"$LOOP_LOG"), e.g. \"$(tail -n 1 "$LOOP_LOG" | cut -d' ' -f3-)\""

step "3. Change only the image; the control plane does the rest"
run set image deployment/kubia nodejs=luksa/kubia:v2 --record
run rollout status deployment/kubia --timeout=90s
sleep 2
touch "$STOP"
wait "$loop_pid" || true
loop_pid=""

step "4. What the curl loop saw"
awk '
	{
		sec = int($1); if (!first) first = sec
		t = sec - first
		if ($2 != "200") { err[t]++; failed++ }
		else if ($0 ~ /This is v1/) v1[t]++
		else if ($0 ~ /This is v2/) v2[t]++
		else other[t]++
		total++; if (t > last) last = t
		if ($2 == "200") lastline = $0
	}
	function bar(n,   s, i) { s = ""; for (i = 0; i < n / 4 && i < 30; i++) s = s "#"; return s }
	END {
		printf "%-6s %5s %5s %5s  %s\n", "second", "v1", "v2", "error", "v1 = #, v2 = =, errors = !"
		for (t = 0; t <= last; t++) {
			b = bar(v1[t]); c = bar(v2[t]); gsub(/#/, "=", c); e = ""
			for (i = 0; i < err[t] + 0; i++) e = e "!"
			printf "t+%-4d %5d %5d %5d  %s%s%s\n", t, v1[t], v2[t], err[t], b, c, e
		}
		sub(/^[^ ]+ [^ ]+ /, "", lastline)
		printf "\nrequests: %d\nfailed: %d\nlast answer: %s\n", total, failed + 0, lastline
	}' "$LOOP_LOG" | tee "$LOG_DIR/summary.txt"

run get pods
run rollout history deployment/kubia

failed=$(awk '/^failed:/ {print $2}' "$LOG_DIR/summary.txt")
if [ "$failed" != 0 ]; then
	echo "error: the curl loop saw $failed failed requests; see $LOOP_LOG" >&2
	exit 1
fi
if ! grep -q '^last answer: This is v2' "$LOG_DIR/summary.txt"; then
	echo "error: the last answer is not from v2" >&2
	exit 1
fi
echo
echo "Rolled out v1 -> v2 with the curl loop running: every request answered."
