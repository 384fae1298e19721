# Rempart. `make test` is the full test suite (scripts/test.sh), as in CI.
SHELL := /bin/bash
# Use the go on PATH, falling back to the standard /usr/local/go install.
export PATH := $(PATH):/usr/local/go/bin
export GOTOOLCHAIN ?= local

GO ?= go
BIN := bin/rempart
FUZZTIME ?= 100000x

.PHONY: all build build-go build-web test lint fuzz demo clean

all: build

# build: the rempart binary. The web UI build will be added as a prerequisite
# here (build-web) once web/ exists; the binary may then embed web/dist.
build: build-go

# CGO_ENABLED=0: one static binary that runs on any Linux of the same arch.
build-go:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/rempart

# Hook for the web UI (later): e.g. `cd web && npm ci && npm run build`,
# then make build depend on it: `build: build-web build-go`.
build-web:
	@echo "build-web: no web UI yet"

# test: the whole suite (vet, golangci-lint, build, unit tests with -race,
# e2e tests, fuzz smoke). Knobs: see the header of scripts/test.sh.
test:
	bash scripts/test.sh

# lint: go vet + golangci-lint (installs the pinned golangci-lint if needed).
lint:
	bash scripts/lint.sh

# fuzz: every fuzz target in the module, $(FUZZTIME) executions each.
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh ./...

demo: build
	./$(BIN) demo

clean:
	rm -rf bin/ coverage.out coverage.html *.coverprofile
