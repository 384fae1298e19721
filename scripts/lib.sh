# shellcheck shell=bash
# Common helpers for Rempart scripts. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# After sourcing: cwd is the repository root, Go is on PATH, GOTOOLCHAIN is
# pinned to the installed Go, TOOLS_BIN is on PATH.

# Pinned tool versions. golangci-lint is built from source through the Go
# module proxy with the local Go, so it always understands our Go version.
GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:-v2.15.0}"
# versitygw: the S3 server with Object Lock that the S3 storage tests start
# (internal/server/storage/s3test, which names the same version).
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 1

if [[ -t 1 ]]; then
	log() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
	log() { printf '\n==> %s\n' "$*"; }
fi
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Go: use the one on PATH, else the standard /usr/local/go install.
if ! command -v go >/dev/null 2>&1; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found on PATH nor in /usr/local/go/bin"
# Never download another toolchain: the machine's Go is the one we test with.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# Where helper tools are installed. Default: $(go env GOPATH)/bin, which
# survives fresh clones on the same machine (CI re-runs skip the ~5 min
# golangci-lint build). Override e.g. TOOLS_BIN=$PWD/.tools/bin.
TOOLS_BIN="${TOOLS_BIN:-$(go env GOPATH)/bin}"
mkdir -p "$TOOLS_BIN"
export PATH="$TOOLS_BIN:$PATH"

# install_golangci_lint: installs golangci-lint $GOLANGCI_LINT_VERSION into
# $TOOLS_BIN unless that exact version, built with the current Go, is there.
install_golangci_lint() {
	local bin="$TOOLS_BIN/golangci-lint" want gover
	want="version ${GOLANGCI_LINT_VERSION#v} built with $(go env GOVERSION) "
	if [[ -x "$bin" ]] && "$bin" version 2>/dev/null | grep -qF "$want"; then
		echo "golangci-lint ${GOLANGCI_LINT_VERSION} already installed at $bin"
		return 0
	fi
	gover="$(go env GOVERSION)"
	echo "installing golangci-lint ${GOLANGCI_LINT_VERSION} with ${gover} into $TOOLS_BIN (takes ~5 min on 2 cores)..."
	local start=$SECONDS
	# Run outside the repo so our go.mod plays no part.
	(cd / && GOBIN="$TOOLS_BIN" GOFLAGS=-buildvcs=false \
		go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}") || return 1
	"$bin" version || return 1
	echo "golangci-lint installed in $((SECONDS - start))s"
}

# install_versitygw: installs versitygw $VERSITYGW_VERSION into $TOOLS_BIN
# unless that version is there. Its binary prints no version, so the module
# version recorded in it by the Go toolchain is what is compared.
install_versitygw() {
	local bin="$TOOLS_BIN/versitygw"
	if [[ -x "$bin" ]] && go version -m "$bin" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+${VERSITYGW_VERSION}([[:space:]]|$)"; then
		echo "versitygw ${VERSITYGW_VERSION} already installed at $bin"
		return 0
	fi
	echo "installing versitygw ${VERSITYGW_VERSION} into $TOOLS_BIN (takes ~2 min on 2 cores)..."
	local start=$SECONDS
	# Run outside the repo so our go.mod plays no part.
	(cd / && GOBIN="$TOOLS_BIN" GOFLAGS=-buildvcs=false \
		go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}") || return 1
	echo "versitygw installed in $((SECONDS - start))s"
}
