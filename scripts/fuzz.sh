#!/usr/bin/env bash
# Fuzzes every fuzz target of the module, one after the other.
#   FUZZTIME=30s   how long each target runs (go test -fuzztime syntax), or
#   FUZZBUDGET=100 seconds for all targets together, shared evenly (at least 1s each);
#                  `make test` uses it so CI spends a bounded time here.
# A failure stops the run; go test has written the failing input under the package's
# testdata/fuzz/<Target>/, where plain `go test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

targets=()
while IFS= read -r dir; do
	pkg="./$dir"
	while IFS= read -r name; do
		[[ $name == Fuzz* ]] && targets+=("$pkg $name")
	done < <("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
done < <({ git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go' -not -path './.git/*'; } | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sed 's,^./,,' | sort -u)

if [ ${#targets[@]} -eq 0 ]; then
	echo "scripts/fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

if [ -n "${FUZZBUDGET:-}" ]; then
	each=$(( ${FUZZBUDGET%s} / ${#targets[@]} ))
	[ "$each" -ge 1 ] || each=1
	per="${each}s"
else
	per=${FUZZTIME:-30s}
fi

echo "scripts/fuzz.sh: ${#targets[@]} targets, $per each"
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== fuzz $pkg $name ($per)"
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$per" "$pkg"
done
