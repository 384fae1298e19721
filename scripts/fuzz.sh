#!/usr/bin/env bash
# Fuzz smoke run: runs every Go fuzz target (func FuzzXxx in *_test.go) of the
# module for a short time each.
#
#   scripts/fuzz.sh [packages...]        (default ./...)
#   FUZZTIME=500000x scripts/fuzz.sh ./internal/vault/...
#
# FUZZTIME: executions per target, "Nx" (default 100000x). A count, not a
# duration: with Go 1.26 a duration-based -fuzztime can fail at its deadline
# with a spurious "context deadline exceeded" (golang/go#75804, fixed in
# Go 1.27); a count has no deadline to race. A crash found by the fuzzer is
# saved by Go under <pkg>/testdata/fuzz/FuzzXxx/ - commit that file with the
# fix, it becomes a regression test run by plain `go test`.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FUZZTIME="${FUZZTIME:-100000x}"
patterns=("$@")
((${#patterns[@]})) || patterns=(./...)

mapfile -t pkgs < <(go list -f '{{.ImportPath}} {{.Dir}}' "${patterns[@]}" 2>/dev/null)

ok=() bad=()
for line in "${pkgs[@]}"; do
	pkg="${line%% *}" dir="${line#* }"
	# Cheap pre-filter; `go test -list` below is authoritative.
	grep -qsE '^func Fuzz[A-Za-z0-9_]*\(' "$dir"/*_test.go || continue
	if ! list="$(go test -list '^Fuzz' "$pkg" 2>&1)"; then
		printf '%s\n' "$list"
		bad+=("$pkg (go test -list failed)")
		continue
	fi
	for name in $(printf '%s\n' "$list" | grep -E '^Fuzz[A-Za-z0-9_]*$'); do
		echo "--- fuzz $pkg $name ($FUZZTIME)"
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			ok+=("$pkg.$name")
		else
			bad+=("$pkg.$name")
		fi
	done
done

echo
echo "fuzz targets: ${#ok[@]} ok, ${#bad[@]} failing (FUZZTIME=$FUZZTIME each)"
for b in "${bad[@]}"; do echo "  FAIL $b"; done
((${#bad[@]} == 0))
