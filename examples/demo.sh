#!/usr/bin/env bash
# The interim demo: run one luksa/kubia:v2 container on a mini-deploy network,
# ask it who it is, stop it, remove everything. The real demo (a Deployment
# rolled from v1 to v2 under a curl loop) replaces this script.
set -euo pipefail

DOCKER=${DOCKER:-docker}
LABEL=mini-deploy.io/managed=true
NETWORK=mini-deploy-demo
POD=kubia-v2-demo1

cleanup() {
	# Only what carries the label: never a container or network we did not make.
	local ids
	ids=$("$DOCKER" ps -aq --filter "label=$LABEL" --filter "name=^${POD}\$")
	if [ -n "$ids" ]; then "$DOCKER" rm -f $ids >/dev/null; fi
	ids=$("$DOCKER" network ls -q --filter "label=$LABEL" --filter "name=^${NETWORK}\$")
	if [ -n "$ids" ]; then "$DOCKER" network rm $ids >/dev/null; fi
}
trap cleanup EXIT
cleanup

"$DOCKER" network create --driver bridge --label "$LABEL" "$NETWORK" >/dev/null
"$DOCKER" run -d --name "$POD" --hostname "$POD" --label "$LABEL" --label app=kubia \
	--network "$NETWORK" luksa/kubia:v2 >/dev/null
ip=$("$DOCKER" inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$POD")
echo "pod $POD is up at $ip on network $NETWORK"

answer=""
for _ in $(seq 50); do
	if answer=$(curl -fsS --max-time 2 "http://$ip:8080/" 2>/dev/null); then break; fi
	sleep 0.1
done
if [ -z "$answer" ]; then
	echo "no answer from http://$ip:8080/" >&2
	"$DOCKER" logs "$POD" >&2 || true
	exit 1
fi
echo "\$ curl http://$ip:8080/"
echo "$answer"

start=$(date +%s%N)
"$DOCKER" stop -t 10 "$POD" >/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "stopped on SIGTERM in ${ms} ms, exit code $("$DOCKER" inspect -f '{{.State.ExitCode}}' "$POD")"
