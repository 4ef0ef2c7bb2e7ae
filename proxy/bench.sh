#!/usr/bin/env bash
# Benchmark of the Service proxy (make bench). Starts 3 kubia pods on a Docker
# bridge network of its own, and nginx and HAProxy (Debian's packages,
# installed if missing; one worker, one thread) on 127.0.0.1, then runs
# benchcmd, which measures, interleaved: one pod directly, the mini-deploy
# proxy, nginx and HAProxy.
# Everything it starts is removed on exit. Extra arguments go to benchcmd run
# (-duration, -rounds, -conns, -rate, -procs N: the proxy's GOMAXPROCS, 1 as the data
# plane runs it, -other-procs N: the same proxy with another GOMAXPROCS too, 0 for
# all CPUs, -cpuprofile FILE).
#
#   BASELINE     a commit: its proxy is built and measured in the same rounds
#                (make bench BASELINE=HEAD~3), to tell a change from noise
#
#   KUBIA_IMAGE  image of the pods (default luksa/kubia:v1, from make images)
set -euo pipefail

cd "$(dirname "$0")/.."
image=${KUBIA_IMAGE:-luksa/kubia:v1}
session=bench
net=mini-deploy-bench-$$
tmp=$(mktemp -d /tmp/mini-deploy-bench.XXXXXX)
containers=()
nginx_pid=
haproxy_pid=

cleanup() {
	set +e
	for pid in $nginx_pid $haproxy_pid; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	if ((${#containers[@]})); then
		docker rm -f "${containers[@]}" >/dev/null
	fi
	docker network rm "$net" >/dev/null 2>&1
	rm -rf "$tmp"
	git worktree prune 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! docker image inspect "$image" >/dev/null 2>&1; then
	echo "bench: image $image not found: run make images first (or set KUBIA_IMAGE)" >&2
	exit 1
fi
if ! command -v nginx >/dev/null; then
	echo "bench: installing nginx-light from Debian's packages" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

if ! command -v haproxy >/dev/null; then
	echo "bench: installing haproxy from Debian's packages" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

go build -o "$tmp/benchcmd" ./proxy/internal/benchcmd
baseline=()
if [[ -n ${BASELINE:-} ]]; then
	rev=$(git rev-parse --verify "$BASELINE^{commit}")
	git worktree add -q --detach "$tmp/baseline-src" "$rev"
	# Its proxy, driven by this benchcmd's serve (the proxy package's API is
	# the same); then the worktree goes.
	cp proxy/internal/benchcmd/*.go "$tmp/baseline-src/proxy/internal/benchcmd/"
	(cd "$tmp/baseline-src" && go build -o "$tmp/benchcmd-baseline" ./proxy/internal/benchcmd)
	git worktree remove --force "$tmp/baseline-src"
	baseline=(-baseline "$tmp/benchcmd-baseline")
	echo "baseline: $BASELINE ($rev)"
fi

labels=(--label mini-deploy.io/managed=true --label mini-deploy.io/session=$session)
docker network create "${labels[@]}" "$net" >/dev/null
backends=()
for i in 1 2 3; do
	id=$(docker run -d --network "$net" "${labels[@]}" --hostname "kubia-bench-$i" "$image")
	containers+=("$id")
	ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$id")
	backends+=("$ip:8080")
done

for b in "${backends[@]}"; do # wait until each pod accepts connections
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/${b%:*}/${b#*:}") 2>/dev/null; then continue 2; fi
		sleep 0.1
	done
	echo "bench: pod $b never listened" >&2
	exit 1
done

port=$("$tmp/benchcmd" freeport)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	upstream kubia {
$(for b in "${backends[@]}"; do echo "		server $b;"; done)
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$port;
		location / {
			proxy_pass http://kubia;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done

hport=$("$tmp/benchcmd" freeport)
# HAProxy as its documentation tunes a reverse proxy: one thread, least
# connections, server connections kept and shared (http-reuse always).
cat >"$tmp/haproxy.cfg" <<CONF
global
	nbthread 1
	maxconn 4096
	log stderr format short local0 err
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	http-reuse always
frontend bench
	bind 127.0.0.1:$hport
	default_backend kubia
backend kubia
	balance leastconn
$(i=0; for b in "${backends[@]}"; do i=$((i + 1)); echo "	server kubia-$i $b"; done)
CONF
haproxy -db -f "$tmp/haproxy.cfg" &
haproxy_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null; then break; fi
	sleep 0.1
done

echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), HAProxy $(haproxy -v | head -1 | awk '{print $3}'), image $image, $(nproc) CPUs"
"$tmp/benchcmd" run -backends "$(IFS=,; echo "${backends[*]}")" \
	-nginx "127.0.0.1:$port" -nginx-pid "$nginx_pid" \
	-haproxy "127.0.0.1:$hport" -haproxy-pid "$haproxy_pid" "${baseline[@]}" "$@"
