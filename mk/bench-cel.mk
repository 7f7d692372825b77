# Custom CEL rule evaluation benchmark (internal/celrules).

.PHONY: bench-cel

## bench-cel: evaluate the example no-latest-image-tag CEL rule on a typical Deployment (ns/op, allocs/op)
bench-cel:
	$(GO) test -run='^$$' -bench=EvaluateRuleDeployment -benchmem -benchtime=2s ./internal/celrules/

bench: bench-cel
