# eBPF sensor: overhead benchmarks and regeneration of the committed eBPF objects (internal/sensor/bpf).

.PHONY: bench-sensor generate-bpf

## bench-sensor: exec-heavy (fork+exec of /bin/true at fixed 5,000/s, 2,000/s and 1,000/s, and saturated) and open-heavy (200,000 open/close of an unwatched and of a watched path) workloads, each alternately without and with the sensor (5 pairs, medians): CPU per operation and slowdown, wall slowdown, events/s, lost events, the sensor's CPU per event (reader thread + eBPF run time), and a summary against the 5,000 execs/s target (extrapolated when the machine cannot drive it). Needs root.
bench-sensor:
	$(GO) test -run='^$$' -bench='SensorOverhead' -benchtime=1x -timeout 30m ./internal/sensor/

bench: bench-sensor

## generate-bpf: recompile internal/sensor/bpf/sensor.bpf.c with clang through bpf2go (the .o and Go bindings are committed, so builds need no clang)
generate-bpf:
	$(GO) generate ./internal/sensor/bpf/

generate: generate-bpf
