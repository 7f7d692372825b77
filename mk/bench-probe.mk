# rampart probe benchmark: a /24 of loopback aliases with every port closed.

.PHONY: bench-probe

## bench-probe: probe 127.0.1.0/24 on every default port at the default rate; report targets/s, wall time and peak RSS (goal: seconds, not minutes)
bench-probe:
	$(GO) build -o bin/rampart-bench-probe ./cmd/rampart
	@/usr/bin/time -f '%e %M' -o bin/bench-probe.time ./bin/rampart-bench-probe probe -o json --output /dev/null 127.0.1.0/24; \
	read wall rss < bin/bench-probe.time; \
	awk -v w="$$wall" -v r="$$rss" 'BEGIN { printf "bench-probe: 254 targets in %.2fs (%.0f targets/s), peak RSS %.1f MiB\n", w, 254 / w, r / 1024 }'
	$(GO) test -run='^$$' -bench=ProbeClosedLoopback24 -benchtime=1x ./internal/probe/

bench: bench-probe
