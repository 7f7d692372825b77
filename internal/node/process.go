package node

import (
	"bytes"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/control/library/controlplane"
)

// Components the audit knows, by binary name.
const (
	APIServer         = "kube-apiserver"
	Etcd              = "etcd"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kubelet           = "kubelet"
	Proxy             = "kube-proxy"
)

// components maps binary names to components.
var components = map[string]string{
	APIServer: APIServer, Etcd: Etcd, ControllerManager: ControllerManager,
	Scheduler: Scheduler, Kubelet: Kubelet, Proxy: Proxy,
}

// hyperkube sub-commands.
var hyperkube = map[string]string{
	"kube-apiserver": APIServer, "apiserver": APIServer,
	"kube-controller-manager": ControllerManager, "controller-manager": ControllerManager,
	"kube-scheduler": Scheduler, "scheduler": Scheduler,
	"kubelet": Kubelet, "kube-proxy": Proxy, "proxy": Proxy,
}

// wrappers start the program named later on their command line.
var wrappers = map[string]bool{"go-runner": true, "tini": true, "dumb-init": true, "nice": true, "ionice": true, "chrt": true, "taskset": true}

// boolFlags are the boolean flags of these components: a bare occurrence
// means true and the next word is never its value (pflag rules).
var boolFlags = map[string]bool{
	"anonymous-auth": true, "profiling": true, "contention-profiling": true,
	"client-cert-auth": true, "peer-client-cert-auth": true, "auto-tls": true, "peer-auto-tls": true,
	"use-service-account-credentials": true, "service-account-lookup": true,
	"make-iptables-util-chains": true, "rotate-certificates": true, "rotate-server-certificates": true,
	"protect-kernel-defaults": true, "authentication-token-webhook": true, "enable-debugging-handlers": true,
	"enable-server": true, "allow-privileged": true, "fail-swap-on": true, "register-node": true,
	"logtostderr": true, "alsologtostderr": true, "enable-aggregator-routing": true,
	"enable-priority-and-fairness": true, "enable-garbage-collector": true, "leader-elect": true,
	"experimental-initial-corrupt-check": true, "strict-reconfig-check": true, "enable-pprof": true,
	"enable-v2": true, "enable-grpc-gateway": true, "force-new-cluster": true, "cleanup": true,
	"masquerade-all": true, "v2-deprecation": false,
}

// Process is one running component.
type Process struct {
	// Component is the component's binary name (kube-apiserver…).
	Component string
	// PID is the process ID.
	PID int
	// Flags are the command-line flags in order.
	Flags []controlplane.Flag
	// Env holds the ETCD_* variables of an etcd process, keyed by the flag
	// they stand for, when /proc/PID/environ is readable.
	Env map[string]string
}

// Location is the file its command line was read from.
func (p *Process) Location() string { return "/proc/" + strconv.Itoa(p.PID) + "/cmdline" }

// Name names the process in reports: "kube-apiserver (pid 42)".
func (p *Process) Name() string { return p.Component + " (pid " + strconv.Itoa(p.PID) + ")" }

// Last returns the value of the last occurrence of a flag, which is the
// one that takes effect.
func (p *Process) Last(name string) (string, bool) {
	for i := len(p.Flags) - 1; i >= 0; i-- {
		if p.Flags[i].Name == name {
			return p.Flags[i].Value, true
		}
	}
	return "", false
}

// SplitCmdline splits the content of /proc/PID/cmdline into words: NUL
// separated, or space separated when a process rewrote its title into one
// string.
func SplitCmdline(data []byte) []string {
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return nil
	}
	parts := strings.Split(string(data), "\x00")
	if len(parts) == 1 && strings.ContainsRune(parts[0], ' ') {
		return strings.Fields(parts[0])
	}
	return parts
}

// ParseCmdline returns the component a command line runs and its flags, or
// false when it runs none. The program is the first word, a hyperkube
// sub-command, or the first component named on the line of a wrapper
// (go-runner, tini…). Shells are not components: the component they start
// is a process of its own.
func ParseCmdline(words []string) (string, []controlplane.Flag, bool) {
	if len(words) == 0 {
		return "", nil, false
	}
	comp, start := "", 0
	first := path.Base(words[0])
	switch {
	case components[first] != "":
		comp, start = components[first], 1
	case first == "hyperkube" && len(words) > 1:
		comp, start = hyperkube[words[1]], 2
	case wrappers[first]:
		for i := 1; i < len(words); i++ {
			if strings.HasPrefix(words[i], "-") {
				continue
			}
			if c := components[path.Base(words[i])]; c != "" {
				comp, start = c, i+1
			}
			break
		}
	}
	if comp == "" {
		return "", nil, false
	}
	toks := make([]controlplane.Token, 0, len(words)-start)
	for _, w := range words[start:] {
		toks = append(toks, controlplane.Token{Text: w})
	}
	flags, _ := controlplane.ParseFlags(toks, boolFlags)
	return comp, flags, true
}

// Discover returns the component processes running on the host, in PID
// order. A /proc entry that vanishes or cannot be read is skipped.
func Discover(h Host) ([]*Process, error) {
	ents, err := h.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []*Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		data, err := h.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		comp, flags, ok := ParseCmdline(SplitCmdline(data))
		if !ok {
			continue
		}
		p := &Process{Component: comp, PID: pid, Flags: flags}
		if comp == Etcd {
			p.Env = etcdEnv(h, pid)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Process) int { return a.PID - b.PID })
	return out, nil
}

// etcdEnv reads the ETCD_* variables of an etcd process (readable by its
// owner and root only; nil otherwise).
func etcdEnv(h Host, pid int) map[string]string {
	data, err := h.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil
	}
	var out map[string]string
	for _, kv := range strings.Split(string(data), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		name, isEtcd := strings.CutPrefix(k, "ETCD_")
		if !ok || !isEtcd {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.ToLower(strings.ReplaceAll(name, "_", "-"))] = v
	}
	return out
}
