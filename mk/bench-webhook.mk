# Admission webhook latency benchmarks (internal/webhook).

.PHONY: bench-webhook

## bench-webhook: one AdmissionReview in process per object of the mix (ns/op, allocs/op), then the real server over loopback TLS with 50 and 500 keep-alive clients, saturated (rate=max) and at 2,000 requests/s (p50, p95, p99 latency and requests/s over 10,000 requests per run)
bench-webhook:
	$(GO) test -run='^$$' -bench='ServeHTTP' -benchmem -benchtime=2s ./internal/webhook/
	$(GO) test -run='^$$' -bench='Loopback' -benchtime=1x -timeout 10m ./internal/webhook/

bench: bench-webhook

.PHONY: generate-webhook

WEBHOOK_IMAGE ?= ghcr.io/rampart-dev/rampart@sha256:0000000000000000000000000000000000000000000000000000000000000000

## generate-webhook: regenerate deploy/webhook/webhook-cert-manager.yaml with rampart webhook install --cert-manager (a test in test/webhook fails when it is stale)
generate-webhook:
	$(GO) run ./cmd/rampart webhook install --cert-manager --image $(WEBHOOK_IMAGE) > deploy/webhook/webhook-cert-manager.yaml

generate: generate-webhook
