// Package sensor is Rampart's eBPF runtime sensor. It loads the programs of
// internal/sensor/bpf (CO-RE, against the running kernel's BTF), attaches
// them, reads their events from one ring buffer and decodes them into
// Events; an Attributor maps each event to its container and pod through the
// process's cgroup path and the kubelet's pod list. Detection itself is
// internal/detect's: the sensor turns events into detect inputs and adds no
// security logic of its own beyond the in-kernel prefilters.
package sensor
