#!/usr/bin/env bash
# Builds Cairn's container images FROM scratch out of static binaries compiled on the host
# (CGO_ENABLED=0): no base image is pulled and nothing is compiled inside Docker.
#   scripts/image.sh cairn     -> cairn:<version>           (cairnd, cairn-k8s-init)
#   scripts/image.sh operator  -> cairn-operator:<version>  (cairn-operator)
# Each is also tagged :latest, the tag deploy/docker-compose.yml runs by default.
# <version> is $VERSION, or `git describe --tags --always --dirty`. Prints the image reference.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
what="${1:-cairn}"
go="${GO:-go}"
version="${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
certs="${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}"

die() { echo "scripts/image.sh: $*" >&2; exit 1; }
command -v docker >/dev/null 2>&1 || die "docker is not installed"
[ -f "$certs" ] || die "no CA certificates at $certs (Debian: ca-certificates; or set CA_CERTIFICATES)"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$certs" "$ctx/ca-certificates.crt"
build() { # dir pkg out
	(cd "$1" && CGO_ENABLED=0 GOOS=linux "$go" build -trimpath -ldflags "-s -w" -o "$ctx/$3" "$2")
}
case "$what" in
cairn)
	image="cairn:$version"
	build "$root" ./cmd/cairnd cairnd
	build "$root/operator" ./cmd/cairn-k8s-init cairn-k8s-init
	mkdir "$ctx/data"
	dockerfile="$root/Dockerfile"
	;;
operator)
	image="cairn-operator:$version"
	build "$root/operator" ./cmd/cairn-operator cairn-operator
	dockerfile="$root/Dockerfile.operator"
	;;
*) die "usage: $0 cairn|operator" ;;
esac
docker build -q -f "$dockerfile" -t "$image" -t "${image%%:*}:latest" "$ctx" >/dev/null || die "docker build of $image failed"
echo "$image"
