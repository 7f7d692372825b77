# Cluster-scan benchmark against the real test API server (see internal/testenv).

.PHONY: bench-cluster

## bench-cluster: load 5,050 objects in 50 namespaces into a real kube-apiserver, then report the bare LIST time and the wall time and peak RSS of `rampart scan --cluster` (goals, on the median of 7 runs: scan <= 1.5x LIST, RSS < 300 MiB)
bench-cluster:
	@d="$${KUBEBUILDER_ASSETS:-$$(scripts/testenv.sh | tail -n1)}"; test -n "$$d" || { echo "scripts/testenv.sh failed"; exit 1; }; \
	KUBEBUILDER_ASSETS="$$d" $(GO) test -run='^$$' -bench=ClusterScan -benchtime=7x -timeout 20m ./test/cluster/

# It takes about 30 seconds (cached binaries), so make bench runs it too.
bench: bench-cluster
