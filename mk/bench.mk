# Benchmarks. Included by the top-level Makefile (include mk/*.mk).

GO ?= go
BENCH_CORPUS ?= testdata/corpus
BENCH_SCALES ?= 1,10,100
BENCH_REPS ?= 3

.PHONY: bench bench-go

## bench: scan the real-world corpus at 1x, 10x and 100x (replicated in memory) and report objects/s, peak RSS and scan ÷ decode
bench:
	$(GO) build -o bin/rampart-bench ./hack/bench
	./bin/rampart-bench -corpus $(BENCH_CORPUS) -scales $(BENCH_SCALES) -reps $(BENCH_REPS)

## bench-go: run the Go benchmarks of the engine (BenchmarkScanCorpus, BenchmarkDecodeCorpus)
bench-go:
	$(GO) test -run='^$$' -bench=Corpus -benchmem ./internal/engine/
