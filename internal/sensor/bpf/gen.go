// Package bpf holds Rampart's eBPF sensor programs (sensor.bpf.c) and the
// Go bindings bpf2go generates for them. The compiled objects are committed,
// so building Rampart needs no clang; `make generate-bpf` rebuilds them.
package bpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -no-strip=false -target bpfel -type event Sensor sensor.bpf.c -- -I.
