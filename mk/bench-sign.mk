# Signature verification benchmark against an in-process registry.

.PHONY: bench-sign

## bench-sign: verify a legacy .sig and a bundle-referrer signature by tag, uncached and cached (internal/sign BenchmarkVerify)
bench-sign:
	$(GO) test -run='^$$' -bench=BenchmarkVerify -benchmem -count=3 ./internal/sign/

bench: bench-sign
