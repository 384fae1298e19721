#!/usr/bin/env bash
# Browser end-to-end tests of the crisis room (e2e/browser): Debian's
# chromium, driven by playwright-core (pinned in e2e/browser/package.json),
# against a real `rempart server` on 127.0.0.1 that the tests start.
#
#   scripts/browser-e2e.sh
#
# Installs Debian's chromium if missing, `npm ci` in e2e/browser, builds the
# web app (only when web/dist is missing or older than its sources) and
# bin/rempart (which embeds it), then runs `node --test` on the suite within
# a time bound (about 1 min when built). Knobs (environment):
#   BROWSER_E2E_TIMEOUT=600      seconds for the whole suite (then it is killed)
#   BROWSER_E2E_ARTIFACTS=DIR    where the server log, screenshots and console
#                                logs go (default: a new temporary folder,
#                                printed; removed when everything passed)
#   BROWSER_E2E_KEEP=1           keep that folder even when everything passed
#   BROWSER_E2E_SHOTS=1          also screenshot key screens there (waiting,
#                                pending, chat, removed, altered export)
#   REMPART_BIN=path             test this binary instead of building bin/rempart
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIMEOUT="${BROWSER_E2E_TIMEOUT:-600}"

# Debian's chromium (the suite never downloads a browser of its own).
bash scripts/ensure-apt.sh chromium || die "cannot install Debian's chromium (apt-get install chromium)"
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing after installing the chromium package"
echo "browser: $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"

command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20.11 or newer (with npm)"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm with Node.js"
node -e '
const [a, b] = process.versions.node.split(".").map(Number);
if (a < 20 || (a === 20 && b < 11)) { console.error(`node ${process.versions.node} is too old: the suite needs 20.11 or newer`); process.exit(1); }' ||
	die "Node.js too old"

echo "== npm ci in e2e/browser (node $(node --version))"
(cd e2e/browser && npm ci --no-audit --no-fund) || die "npm ci in e2e/browser failed"

# The web app, embedded in the binary: rebuilt only when missing or stale
# (scripts/test.sh builds it in its "web app" step just before).
if [[ -z "${REMPART_BIN:-}" ]]; then
	stale=""
	if [[ ! -f web/dist/index.html || ! -f web/dist/console/index.html ]]; then
		stale="web/dist/index.html or web/dist/console/index.html is missing"
	else
		newer="$(find web/src web/index.html web/console web/package.json web/package-lock.json web/vite.config.ts -newer web/dist/index.html -print -quit 2>/dev/null || true)"
		[[ -n "$newer" ]] && stale="$newer is newer than web/dist"
	fi
	if [[ -n "$stale" ]]; then
		echo "== building the web app ($stale)"
		make build-web || die "the web app does not build (make build-web)"
	else
		echo "== web app: web/dist is up to date"
	fi
	# The same flags as the Go e2e tests' build (e2e/main_test.go) and `go
	# build ./...`, so that Go's build cache serves it (make build-go's
	# CGO_ENABLED=0 -trimpath would compile everything again).
	echo "== building bin/rempart"
	go build -o bin/rempart ./cmd/rempart || die "bin/rempart does not build (go build ./cmd/rempart)"
	export REMPART_BIN="$REPO_ROOT/bin/rempart"
fi
[[ -x "$REMPART_BIN" ]] || die "$REMPART_BIN is not an executable"

# The helper that alters a stored entry (package main, in this module).
TAMPER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/rempart-tamper.XXXXXX")"
trap 'rm -rf "$TAMPER_DIR"' EXIT
go build -o "$TAMPER_DIR/tamper" ./e2e/browser/tamper || die "e2e/browser/tamper does not build"
export REMPART_TAMPER_BIN="$TAMPER_DIR/tamper"

if [[ -z "${BROWSER_E2E_ARTIFACTS:-}" ]]; then
	BROWSER_E2E_ARTIFACTS="$(mktemp -d "${TMPDIR:-/tmp}/rempart-browser-e2e.XXXXXX")"
fi
export BROWSER_E2E_ARTIFACTS
echo "== browser e2e: server log, screenshots and console logs of failures go to $BROWSER_E2E_ARTIFACTS"

cd e2e/browser
rc=0
# Each step bounds itself (see step() in the test file); the whole run is
# bounded here. --kill-after: chromium and the server are children of node.
timeout --kill-after=20 "$TIMEOUT" \
	node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs || rc=$?
if ((rc == 124 || rc == 137)); then
	echo "ERROR: the browser e2e suite did not finish within ${TIMEOUT}s (killed); see $BROWSER_E2E_ARTIFACTS" >&2
elif ((rc != 0)); then
	echo "ERROR: browser e2e tests failed (exit $rc); screenshots, console logs and the server log: $BROWSER_E2E_ARTIFACTS" >&2
else
	echo "browser e2e: all passed"
fi
exit "$rc"
