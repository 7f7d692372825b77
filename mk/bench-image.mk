# Image SBOM benchmark: an OCI layout built from real package metadata.

.PHONY: bench-image

## bench-image: BenchmarkSBOM (open an OCI layout of 4 layers, stream and squash them, detect 1,089 packages: 703 dpkg, 370 npm, Go modules of 4 binaries, PyPI); prints time and allocations per image, then the wall time and peak RSS of `rampart image -o cyclonedx` on the same layout (goal: well under 1 s)
bench-image:
	@d=$$(mktemp -d); \
	$(GO) build -o "$$d/rampart" ./cmd/rampart && \
	RAMPART_BENCH_IMAGE_KEEP="$$d/oci" $(GO) test -run='^$$' -bench=SBOM -benchtime=20x -benchmem ./internal/image/ && \
	"$$d/rampart" image -o cyclonedx "$$d/oci" >/dev/null && \
	/usr/bin/time -f 'rampart image -o cyclonedx (warm): %e s wall, peak memory (kB): %M' "$$d/rampart" image -o cyclonedx --output "$$d/sbom.json" "$$d/oci"; \
	rm -rf "$$d"

bench: bench-image
