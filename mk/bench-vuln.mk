# Vulnerability database benchmark: import of 100,000+ OSV records and a
# warm match of an image's packages.

.PHONY: bench-vuln

## bench-vuln: import an all.zip of 100,168 OSV records (the real testdata/osv records and renamed replicas) into a fresh database, reporting records/s, then match 1,247 real dpkg, npm and Go packages against it warm (goal: under 1 s per match); each runs in its own process, whose peak RSS is printed
bench-vuln:
	@d=$$(mktemp -d); \
	$(GO) test -c -o "$$d/vuln.test" ./internal/vuln/ && \
	cd internal/vuln && \
	RAMPART_BENCH_VULN_DB="$$d/vuln.db" /usr/bin/time -f 'import process: peak memory (kB): %M' \
		"$$d/vuln.test" -test.run='^$$' -test.bench=BenchmarkImport -test.benchtime=1x && \
	RAMPART_BENCH_VULN_DB="$$d/vuln.db" /usr/bin/time -f 'match process: peak memory (kB): %M' \
		"$$d/vuln.test" -test.run='^$$' -test.bench=BenchmarkMatch -test.benchtime=20x -test.benchmem; \
	rc=$$?; rm -rf "$$d"; exit $$rc

bench: bench-vuln
