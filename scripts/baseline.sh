#!/usr/bin/env bash
# Builds cairnd as it was at a commit of this repository, once, into
#   ${CAIRN_CACHE:-$HOME/.cache/cairn}/bin/<full commit>/cairnd
# and prints that path. The upgrade test (test/upgrade) runs it as the baseline that members
# are upgraded from. The source comes from the repository's own history (git archive), so no
# network is needed unless the clone lacks the commit (a shallow CI clone): then it is fetched
# from origin first. Concurrent runs wait for each other; a half-built binary is never left.
set -euo pipefail
commit=${1:?usage: scripts/baseline.sh <commit>}
cd "$(dirname "$0")/.."
GO=${GO:-go}

die() { echo "scripts/baseline.sh: $*" >&2; exit 1; }

if ! git cat-file -e "${commit}^{commit}" 2>/dev/null; then
	echo "scripts/baseline.sh: fetching $commit, missing from this clone" >&2
	git fetch --quiet origin "$commit" 2>/dev/null ||
		git fetch --quiet --unshallow origin 2>/dev/null ||
		git fetch --quiet origin 2>/dev/null || true
	git cat-file -e "${commit}^{commit}" 2>/dev/null || die "commit $commit is not in this repository's history"
fi
full=$(git rev-parse "${commit}^{commit}")
cache=${CAIRN_CACHE:-$HOME/.cache/cairn}
dest="$cache/bin/$full"
bin="$dest/cairnd"
mkdir -p "$dest"

exec 9>"$dest/.lock"
flock 9
if [ ! -x "$bin" ]; then
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive "$full" | tar -x -C "$src"
	echo "scripts/baseline.sh: building cairnd at $full" >&2
	(cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$dest/cairnd.tmp" ./cmd/cairnd) ||
		die "go build of $full failed"
	mv "$dest/cairnd.tmp" "$bin"
fi
echo "$bin"
