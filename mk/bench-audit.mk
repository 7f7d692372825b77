# Audit-log detection benchmarks (internal/auditlog).

.PHONY: bench-audit

## bench-audit: replay 1,000,000 audit events (generated from the real kube-apiserver events in internal/auditlog/testdata, with varied users, namespaces and names) through the decoder, every default rule, dedupe and a sink on one core, printing events/s (wall clock and per CPU-second), allocations per event, heap and RSS at start, 10% and end, and peak RSS; then overload the webhook receiver over loopback TLS (8 clients, 400-event EventLists, a 10,000-event queue, one worker) and print received, processed and dropped events, which must add up exactly
bench-audit:
	@d=$$(mktemp -d); \
	$(GO) test -c -o "$$d/auditlog.test" ./internal/auditlog/ && \
	cd internal/auditlog && \
	/usr/bin/time -f 'replay process: peak memory (kB): %M' \
		"$$d/auditlog.test" -test.run='^$$' -test.bench='^BenchmarkReplay$$' -test.benchtime=1x -test.timeout=30m && \
	"$$d/auditlog.test" -test.run='^$$' -test.bench='^BenchmarkServeOverload$$' -test.benchtime=1x -test.timeout=10m; \
	rc=$$?; rm -rf "$$d"; exit $$rc

bench: bench-audit
