# sluice — see `make help`.
SHELL := /bin/bash
GO ?= go
PREFIX ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/sluicehq/sluice/pkg/daemon.Version=$(VERSION) -X main.version=$(VERSION)

.PHONY: help build generate generate-check test test-unit lint demo bench install uninstall deps clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/sluiced and bin/sluice
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluiced ./cmd/sluiced
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluice ./cmd/sluice

generate: ## regenerate the BPF object and its Go bindings (needs clang-16)
	$(GO) generate ./pkg/intercept

generate-check: generate ## regenerate and fail if the committed BPF object differs
	@git diff --exit-code --stat -- pkg/intercept || { echo "generated BPF files differ from the committed ones: run 'make generate' and commit"; exit 1; }

deps: ## install what builds and tests need (Debian; run as root)
	./scripts/install-deps.sh

test: deps ## all tests, privileged ones included (run as root)
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 15m ./...

test-unit: ## tests that need no root (privileged ones skip)
	$(GO) test -count=1 ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: deps build ## local PostgreSQL, sluiced, and a legacy job going through it
	./scripts/demo.sh

bench: deps build ## measure and write docs/benchmarks.md (run as root)
	$(GO) run ./scripts/bench -out docs/benchmarks.md

install: build ## install binaries, systemd unit and default config
	install -D -m 0755 bin/sluiced $(DESTDIR)$(PREFIX)/bin/sluiced
	install -D -m 0755 bin/sluice $(DESTDIR)$(PREFIX)/bin/sluice
	install -D -m 0644 systemd/sluiced.service $(DESTDIR)/etc/systemd/system/sluiced.service
	@if [ ! -e $(DESTDIR)/etc/sluice/sluice.yaml ]; then install -D -m 0600 systemd/sluice.yaml $(DESTDIR)/etc/sluice/sluice.yaml; fi
	install -d -m 0755 $(DESTDIR)/etc/sluice/policies
	@echo "installed; start with: systemctl daemon-reload && systemctl enable --now sluiced"

uninstall: ## remove what install put in place (run 'sluice detach' first)
	rm -f $(DESTDIR)$(PREFIX)/bin/sluiced $(DESTDIR)$(PREFIX)/bin/sluice $(DESTDIR)/etc/systemd/system/sluiced.service

clean: ## remove build output
	rm -rf bin
