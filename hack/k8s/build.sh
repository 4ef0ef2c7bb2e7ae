#!/usr/bin/env bash
# build.sh builds the real Kubernetes control plane that k8stest runs beside
# mini-deploy: etcd, kube-apiserver and kube-controller-manager (no test needs
# kubectl: client-go talks to the API server), at the
# versions pinned in this directory's go.mod/go.sum. Binaries go to
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mini-deploy/k8s-v1.37.2/
# (override with MINI_DEPLOY_K8S_BIN) and are reused when present, so only the
# first run is slow: a cold build takes about 20-30 minutes on 2 cores
# (see README "Moving to a cluster"); a warm one takes a second.
set -euo pipefail

K8S_VERSION=v1.37.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${MINI_DEPLOY_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/mini-deploy/k8s-${K8S_VERSION}}"
mkdir -p "$out"

# name=package, built in this order (etcd first: smallest, needed first).
targets=(
	"etcd=./etcd"
	"kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver"
	"kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager"
)

# A stamp ties the cached binaries to the exact go.sum that built them.
stamp="$(sha256sum "$here/go.sum" "$here/go.mod" | sha256sum | cut -c1-16)"
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" != "$stamp" ]]; then
	echo "k8s: go.mod/go.sum changed since the cached build; rebuilding in $out"
	rm -f "$out/.stamp"
	for t in "${targets[@]}"; do rm -f "$out/${t%%=*}"; done
fi

start=$(date +%s)
built=0
cd "$here"
for t in "${targets[@]}"; do
	name="${t%%=*}"
	pkg="${t#*=}"
	if [[ -x "$out/$name" ]]; then
		echo "k8s: $name present in $out (reused)"
		continue
	fi
	t0=$(date +%s)
	echo "k8s: building $name from $pkg (cold builds are slow; this is cached afterwards) ..."
	# -trimpath and no VCS stamping keep the build reproducible from go.sum alone.
	CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" \
		-o "$out/$name.tmp" "$pkg"
	mv "$out/$name.tmp" "$out/$name"
	built=$((built + 1))
	echo "k8s: built $name in $(( $(date +%s) - t0 ))s"
done
echo "$stamp" >"$out/.stamp"
if ((built > 0)); then
	echo "k8s: built $built binaries in $(( $(date +%s) - start ))s into $out"
else
	echo "k8s: all binaries present in $out"
fi
