# Rampart build, test, lint and benchmark targets.
GO        ?= go
BIN       ?= bin/rampart
PKGS      ?= ./...
GOLANGCI  ?= golangci-lint

.PHONY: all build test test-short testenv lint generate bench fuzz clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/rampart

## testenv: build the real kube-apiserver and etcd for integration tests (cached in .cache/testenv).
testenv:
	scripts/testenv.sh

## test: every test, with the race detector (the README's test command runs this).
## Integration tests run against a real kube-apiserver and etcd (see testenv).
test:
	@d="$${KUBEBUILDER_ASSETS:-$$(scripts/testenv.sh | tail -n1)}"; test -n "$$d" || { echo "scripts/testenv.sh failed"; exit 1; }; \
	KUBEBUILDER_ASSETS="$$d" $(GO) test -race -covermode=atomic -timeout 30m $(PKGS)

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
