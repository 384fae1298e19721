#!/usr/bin/env bash
# Static checks: go vet + golangci-lint (config: .golangci.yml).
# Installs the pinned golangci-lint first if needed (see scripts/lib.sh).
#   scripts/lint.sh [golangci-lint run args...]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_golangci_lint
log "go vet ./..."
go vet ./...
log "golangci-lint run"
golangci-lint run "$@" ./...
echo "lint: ok"
