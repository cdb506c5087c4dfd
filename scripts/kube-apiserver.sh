#!/usr/bin/env bash
# Builds a real kube-apiserver from the Go module proxy for the operator's envtest tests, once,
# and caches it by version outside the repository:
#   ${CAIRN_CACHE:-$HOME/.cache/cairn}/kube-apiserver/<version>/{kube-apiserver,etcd}
# etcd is a link to Debian's /usr/bin/etcd (etcd-server, installed by scripts/deps.sh).
# Prints the directory (envtest's BinaryAssetsDirectory / KUBEBUILDER_ASSETS) on stdout.
# No binary is downloaded from anywhere but the module proxy: nothing else is reachable.
set -euo pipefail

version="${KUBE_APISERVER_VERSION:-v1.35.4}"
# Every staging module is published on the proxy as v0.<minor>.<patch> of the same release.
staging="v0.${version#v1.}"
cache="${CAIRN_CACHE:-$HOME/.cache/cairn}"
dir="$cache/kube-apiserver/$version"
go="${GO:-go}"

die() { echo "scripts/kube-apiserver.sh: $*" >&2; exit 1; }

link_etcd() {
	local etcd
	etcd="$(command -v etcd || true)"
	[ -n "$etcd" ] || die "etcd not found on PATH (run scripts/deps.sh: Debian's etcd-server)"
	ln -sfn "$etcd" "$dir/etcd"
}

if [ -x "$dir/kube-apiserver" ]; then
	link_etcd
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
# One builder at a time: a second caller waits for the first instead of building again.
exec 9>"$dir/.lock"
flock 9
if [ -x "$dir/kube-apiserver" ]; then
	link_etcd
	echo "$dir"
	exit 0
fi

echo "scripts/kube-apiserver.sh: building kube-apiserver $version (a few minutes, once)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

modjson="$("$go" mod download -json "k8s.io/kubernetes@$version")" || die "cannot download k8s.io/kubernetes@$version from the module proxy"
gomod="$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -f "$gomod" ] || die "no go.mod for k8s.io/kubernetes@$version"
gover="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"

{
	echo "module cairn.local/kube-apiserver-build"
	echo
	echo "go ${gover}"
	echo
	echo "require k8s.io/kubernetes $version"
	echo
	echo "replace ("
	# The lines that point k8s.io modules at ./staging in kubernetes' own go.mod.
	sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*$#\t\1 => \1 '"$staging"'#p' "$gomod"
	echo ")"
} >"$work/go.mod"
grep -q 'k8s.io/api =>' "$work/go.mod" || die "found no staging replacements in k8s.io/kubernetes@$version's go.mod"

cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO

(
	cd "$work"
	GOFLAGS=-mod=mod "$go" mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }
	minor="${version#v1.}"
	minor="${minor%%.*}"
	CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath -o "$dir/kube-apiserver.tmp" \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
		k8s.io/kubernetes/cmd/kube-apiserver
) || die "building kube-apiserver $version failed"
mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
link_etcd
"$dir/kube-apiserver" --version >&2
echo "$dir"
