# End-to-end supply-chain benchmark: one `rampart image --vulns` process on
# the bench-image layout against the bench-vuln database.

.PHONY: bench-image-vulns

## bench-image-vulns: builds the OCI layout of bench-image (1,089 packages across dpkg, npm, Go and PyPI, from real metadata) and the 100,168-record database of bench-vuln (import rate printed), then times the whole `rampart image --vulns -o json` command on them, cold once and warm 5 times (goal: SBOM + match under 1 s warm), with the peak RSS of each run
bench-image-vulns:
	@d=$$(mktemp -d); \
	$(GO) build -o "$$d/rampart" ./cmd/rampart && \
	RAMPART_BENCH_IMAGE_KEEP="$$d/oci" $(GO) test -run='^$$' -bench=SBOM -benchtime=1x ./internal/image/ >/dev/null && \
	RAMPART_BENCH_VULN_DB="$$d/vuln.db" $(GO) test -run='^$$' -bench=BenchmarkImport -benchtime=1x ./internal/vuln/ | grep -E 'records/s|^ok|FAIL' && \
	for i in 0 1 2 3 4 5; do \
		/usr/bin/time -f "run $$i: %e s wall, %U s user, peak memory (kB): %M" \
			"$$d/rampart" image --vulns --db "$$d/vuln.db" -o json --output "$$d/report.json" "$$d/oci"; \
		[ $$? -le 1 ] || { rm -rf "$$d"; exit 1; }; \
	done; \
	printf 'findings: %s\n' "$$(grep -c '"control": "image-' "$$d/report.json")"; \
	rm -rf "$$d"

bench: bench-image-vulns
