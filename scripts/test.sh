#!/usr/bin/env bash
# Rempart: the whole test suite, the one command to run (`make test` calls it,
# CI runs it through .ci/run).
#
#   scripts/test.sh
#
# Steps: tools -> services -> go vet -> golangci-lint -> go build ->
# unit tests -> e2e tests -> fuzz smoke. Every step runs even if an earlier one
# failed; a summary is printed at the end and the exit code is non-zero if any
# step failed.
#
# Race detector policy (2-core machines, 90 min CI budget):
#   TEST_RACE=unit (default)  unit tests (every package except ./e2e/...) run
#                             with -race; e2e tests run without it (they drive
#                             the rempart binary as a subprocess, so -race on
#                             the test process would find little). Each test
#                             runs once.
#   TEST_RACE=all             -race everywhere.
#   TEST_RACE=none            no -race (fastest).
#
# Other knobs (environment):
#   FUZZTIME=100000x     executions per fuzz target, a count (see scripts/fuzz.sh
#                        for why not a duration); 0 or SKIP_FUZZ=1 skips fuzzing
#   SKIP_LINT=1          skip golangci-lint (go vet still runs)
#   UNIT_TIMEOUT=30m     go test -timeout for unit tests
#   E2E_TIMEOUT=20m      go test -timeout for e2e tests
#   TOOLS_BIN=dir        where tools are installed (default $(go env GOPATH)/bin)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEST_RACE="${TEST_RACE:-unit}"
FUZZTIME="${FUZZTIME:-100000x}"
UNIT_TIMEOUT="${UNIT_TIMEOUT:-30m}"
E2E_TIMEOUT="${E2E_TIMEOUT:-20m}"

START=$SECONDS
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/rempart-test.XXXXXX")"
STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
TESTS_PASSED=0 TESTS_FAILED=0 TESTS_SKIPPED=0

# Cleanup hooks (e.g. stopping services) run on exit, in reverse order.
CLEANUP=()
on_exit() {
	local i
	for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" || true; done
	rm -rf "$LOGDIR"
}
trap on_exit EXIT

# step NAME CMD...: runs CMD, records PASS/FAIL and duration.
step() {
	local name="$1"; shift
	log "$name"
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	STEP_NAMES+=("$name") STEP_TIMES+=($((SECONDS - t0)))
	if ((rc == 0)); then STEP_RESULTS+=(PASS); else STEP_RESULTS+=("FAIL (exit $rc)"); fi
	return 0
}
skip_step() {
	log "$1: skipped ($2)"
	STEP_NAMES+=("$1") STEP_TIMES+=(0) STEP_RESULTS+=("SKIP ($2)")
}

# go_test LABEL [go test args...]: go test -json piped through
# scripts/testreport.go (plain go test output + counts).
go_test() {
	local label="$1"; shift
	local counts="$LOGDIR/$label.counts" rc
	go test -json "$@" | "$TESTREPORT" -counts "$counts"
	rc=("${PIPESTATUS[@]}")
	if [[ -s "$counts" ]]; then
		local p f s
		read -r p f s <"$counts"
		TESTS_PASSED=$((TESTS_PASSED + p)) TESTS_FAILED=$((TESTS_FAILED + f)) TESTS_SKIPPED=$((TESTS_SKIPPED + s))
	else
		TESTS_FAILED=$((TESTS_FAILED + 1))
	fi
	((rc[0] == 0 && rc[1] == 0))
}

# Test output filter/counter (see scripts/testreport.go).
TESTREPORT="$LOGDIR/testreport"
go build -o "$TESTREPORT" scripts/testreport.go || die "cannot build scripts/testreport.go"

echo "Rempart test suite: $(go version), $(nproc) cores, CI=${CI:-false}, TEST_RACE=$TEST_RACE, FUZZTIME=$FUZZTIME"

# ---------------------------------------------------------------------------
# Tools the checks need (installed from the Go module proxy, cached).
# ---------------------------------------------------------------------------
if [[ "${SKIP_LINT:-0}" == 1 ]]; then
	skip_step "install golangci-lint" "SKIP_LINT=1"
else
	step "install golangci-lint $GOLANGCI_LINT_VERSION" install_golangci_lint
fi

# ---------------------------------------------------------------------------
# Services/tools the tests need.
# Add here, one block each, what tests need at run time, e.g.:
#   - PostgreSQL: scripts/ensure-apt.sh postgresql; start a throwaway cluster
#     on a free 127.0.0.1 port in $LOGDIR; export its DSN (e.g.
#     REMPART_TEST_PG_DSN); CLEANUP+=("pg_ctl -D ... stop -m immediate").
#   - Chromium (web UI tests): scripts/ensure-apt.sh chromium; export its path.
# Debian packages should also be listed in .ci/run (APT_PACKAGES) so CI
# installs them up front; ensure-apt.sh is a no-op when they are installed.
# Services must listen on loopback only and be stopped via CLEANUP.
# Tests needing a service that is not configured should t.Skip, not fail
# (except the S3 Object Lock tests, below).
# ---------------------------------------------------------------------------
# PostgreSQL: the server store tests start their own throwaway cluster on
# 127.0.0.1 from the Debian binaries (or use REMPART_TEST_PG_DSN if set).
step "install postgresql" bash scripts/ensure-apt.sh postgresql
# pdftotext (poppler-utils): the runbook tests read the text of the PDF.
step "install poppler-utils" bash scripts/ensure-apt.sh poppler-utils
# S3 with Object Lock: the storage tests start their own versitygw on
# 127.0.0.1 (internal/server/storage/s3test) and FAIL, not skip, without it:
# the Object Lock tests must never silently stop running. Installed from the
# Go module proxy, pinned in lib.sh (VERSITYGW_VERSION), cached in TOOLS_BIN.
step "install versitygw $VERSITYGW_VERSION" install_versitygw

# ---------------------------------------------------------------------------
# Checks and tests.
# ---------------------------------------------------------------------------
mapfile -t ALL_PKGS < <(go list ./... 2>/dev/null)
mapfile -t E2E_PKGS < <(printf '%s\n' "${ALL_PKGS[@]}" | grep -E '/e2e(/|$)')
mapfile -t UNIT_PKGS < <(printf '%s\n' "${ALL_PKGS[@]}" | grep -vE '/e2e(/|$)' | grep .)

if ((${#ALL_PKGS[@]} == 0)); then
	# Surface the real error (e.g. a broken go.mod) rather than skipping.
	step "go list ./..." go list ./...
fi

step "web app (npm ci, typecheck, vitest, build)" bash scripts/web.sh

step "go vet" go vet ./...

if [[ "${SKIP_LINT:-0}" != 1 ]]; then
	step "golangci-lint" golangci-lint run ./...
fi

step "go build" go build ./...

race_unit=() race_e2e=()
case "$TEST_RACE" in
	unit) race_unit=(-race) ;;
	all) race_unit=(-race) race_e2e=(-race) ;;
	none) ;;
	*) die "TEST_RACE must be unit, all or none (got '$TEST_RACE')" ;;
esac

if ((${#UNIT_PKGS[@]})); then
	step "unit tests ${race_unit[*]}" go_test unit "${race_unit[@]}" -count=1 -timeout "$UNIT_TIMEOUT" "${UNIT_PKGS[@]}"
else
	skip_step "unit tests" "no packages"
fi
if ((${#E2E_PKGS[@]})); then
	step "e2e tests ${race_e2e[*]}" go_test e2e "${race_e2e[@]}" -count=1 -timeout "$E2E_TIMEOUT" "${E2E_PKGS[@]}"
else
	skip_step "e2e tests" "no ./e2e packages yet"
fi
step "browser e2e (chromium)" bash scripts/browser-e2e.sh

if [[ "${SKIP_FUZZ:-0}" == 1 || "$FUZZTIME" == 0 || "$FUZZTIME" == 0s || "$FUZZTIME" == 0x ]]; then
	skip_step "fuzz smoke" "disabled"
else
	step "fuzz smoke (FUZZTIME=$FUZZTIME per target)" env FUZZTIME="$FUZZTIME" bash scripts/fuzz.sh ./...
fi

# ---------------------------------------------------------------------------
# Summary.
# ---------------------------------------------------------------------------
failed=0
echo
echo "================================ SUMMARY ================================"
for i in "${!STEP_NAMES[@]}"; do
	printf '  %-42s %-30s %5ss\n' "${STEP_NAMES[i]}" "${STEP_RESULTS[i]}" "${STEP_TIMES[i]}"
	[[ "${STEP_RESULTS[i]}" == FAIL* ]] && failed=1
done
echo "  total time: $((SECONDS - START))s"
if ((failed)); then
	echo "RESULT: FAILED"
else
	echo "RESULT: OK"
fi
echo "Tests: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
exit "$failed"
