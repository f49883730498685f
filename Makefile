# ordersettle — run `make help` for the targets.

GO        ?= go
BIN       := bin
# Versions of the spec linters (run with npx; they need Node.js and the npm registry).
REDOCLY   := @redocly/cli@2.77.0
SPECTRAL  := @stoplight/spectral-cli@6.16.3

# The local PostgreSQL of make run, seed and migrate: .pgdata/ in this
# repository (the binaries' own default is per installation, see the README).
run seed migrate: export LOCAL_PG_DIR ?= $(CURDIR)/.pgdata

.DEFAULT_GOAL := help
.PHONY: help run build test generate verify-generated lint lint-spec vet staticcheck fmt-check bench seed migrate screenshot clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "; printf "Targets:\n"} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## Run the service on :8080 (a local PostgreSQL is started unless DATABASE_URL or DB_HOST is set)
	LOCAL_PG_DIR=$(CURDIR)/.pgdata ./$(BIN)/server

build: ## Build server, seed, migrate and settle into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

test: ## Run every test against a real PostgreSQL, with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

generate: ## Regenerate gen/ from api/openapi.yaml
	$(GO) generate ./gen/

verify-generated: generate ## Fail if gen/ differs from what 'make generate' produces
	@if [ -n "$$(git status --porcelain -- gen/)" ]; then \
		git --no-pager diff --stat -- gen/; git status --short -- gen/; \
		echo "gen/ is stale: run 'make generate' and commit the result"; exit 1; \
	fi

lint: fmt-check vet staticcheck lint-spec ## gofmt, go vet, staticcheck and the spec linters

fmt-check: ## Fail if gofmt would change a file
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

staticcheck: ## staticcheck ./... (the version pinned as a tool in go.mod)
	$(GO) tool staticcheck ./...

lint-spec: ## Lint api/openapi.yaml with Redocly and Spectral (needs Node.js and the npm registry)
	npx --yes $(REDOCLY) lint --format=stylish api/openapi.yaml
	npx --yes $(SPECTRAL) lint --fail-severity=hint --ruleset .spectral.yaml api/openapi.yaml

bench: ## Benchmarks with durability on: orders over HTTP vs the textbook transaction; settlement of 10M rows in both physical orders vs the raw-SQL floor (SETTLEMENT_BENCH_ROWS to change); settlement pages vs OFFSET
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./server/ ./settlement/

seed: build ## Load demo data (1,000,000 transactions) into the database 'make run' uses; flags: make seed ARGS='-n 10000000 -order shuffled'
	./$(BIN)/seed $(ARGS)

migrate: build ## Apply the schema migrations to the database 'make run' uses
	./$(BIN)/migrate up

screenshot: ## Retake docs/dashboard.png in headless Chromium (apt-get install chromium)
	$(GO) test -count=1 -run '^TestDashboardScreenshot$$' ./server/ -args -screenshot=$(CURDIR)/docs/dashboard.png

clean: ## Remove bin/ (the local database in .pgdata is kept; delete it by hand to start afresh)
	rm -rf $(BIN)
