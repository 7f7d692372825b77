# Rampart build, test, lint and benchmark targets.
GO        ?= go
BIN       ?= bin/rampart
PKGS      ?= ./...
GOLANGCI  ?= golangci-lint

.PHONY: all build test test-short lint generate bench fuzz clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/rampart

## test: every test, with the race detector (the README's test command runs this).
test:
	$(GO) test -race -covermode=atomic -timeout 30m $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GOLANGCI) run $(PKGS)

## generate: regenerate docs/controls.md from the control catalogue.
generate:
	$(GO) run ./cmd/rampart controls --format markdown > docs/controls.md

clean:
	rm -rf bin

-include mk/*.mk
