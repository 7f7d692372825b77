# rampart node benchmark: the full CIS audit of a fixture host tree.

.PHONY: bench-node

## bench-node: BenchmarkNodeAudit on internal/node/testdata/hosts/kubeadm; prints checks/s, time and allocations per audit, and the peak RSS of the benchmark binary
bench-node:
	@d=$$(mktemp -d); \
	$(GO) test -c -o "$$d/node.test" ./internal/node/ && \
	( cd internal/node && /usr/bin/time -v "$$d/node.test" -test.run='^$$' -test.bench=NodeAudit -test.benchtime=3s -test.benchmem 2>"$$d/time" ); \
	grep -E 'Maximum resident set size' "$$d/time" | sed -E 's/^\s*Maximum resident set size \(kbytes\): /peak memory (kB): /'; \
	rm -rf "$$d"

bench: bench-node
