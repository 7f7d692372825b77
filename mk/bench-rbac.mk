# RBAC analysis benchmark (internal/rbac).

.PHONY: bench-rbac

## bench-rbac: who-can on a synthetic cluster of 2,000 roles and 2,000 bindings, once the graph is built (ms/op; goal < 10 ms per query)
bench-rbac:
	$(GO) test -run='^$$' -bench=WhoCan -benchmem ./internal/rbac/

bench: bench-rbac
