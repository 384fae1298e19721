# Rempart. `make test` is the full test suite (scripts/test.sh), as in CI.
SHELL := /bin/bash
# Use the go on PATH, falling back to the standard /usr/local/go install.
export PATH := $(PATH):/usr/local/go/bin
export GOTOOLCHAIN ?= local

GO ?= go
BIN := bin/rempart
FUZZTIME ?= 100000x

.PHONY: all build build-go build-web test lint fuzz demo demo-server clean

all: build

# build: the crisis room web app (web/dist, embedded with go:embed), then the
# rempart binary.
build: build-web build-go

# CGO_ENABLED=0: one static binary that runs on any Linux of the same arch.
build-go:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/rempart

# build-web: the crisis room web app (TypeScript + Vite) into web/dist. Needs
# Node.js >= 20.19 and npm. Without it, `go build` still works and embeds an
# empty app (web/dist/.gitkeep only).
build-web:
	cd web && npm ci --no-audit --no-fund && npm run build

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

# demo-server: the whole product in the browser: a server on embedded
# defaults with two towns, at https://127.0.0.1:8443/console/ (Ctrl-C stops).
demo-server: build
	./$(BIN) demo --server

clean:
	rm -rf bin/ coverage.out coverage.html *.coverprofile
