package sensor

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/rampart-dev/rampart/internal/detect"
)

func compileDefaults(t *testing.T) *detect.RuleSet {
	t.Helper()
	rules, err := detect.Defaults("sensor")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 10 {
		t.Fatalf("%d default sensor rules, want at least 10", len(rules))
	}
	rs, err := detect.Compile(rules, Source)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules() {
		if len(r.MITRE) == 0 {
			t.Errorf("rule %s has no MITRE technique", r.ID)
		}
	}
	return rs
}

// fakePods serves one pod.
type fakePods map[string]*PodInfo

func (f fakePods) Pod(_ context.Context, uid string) (*PodInfo, bool) { p, ok := f[uid]; return p, ok }

func TestDefaultRules(t *testing.T) {
	rs := compileDefaults(t)
	ctr := "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0c8e9f1a_2b3c_4d5e_8f70_8192a3b4c5d6.slice/cri-containerd-" + cid + ".scope"
	host := "/system.slice/sshd.service"
	pods := fakePods{puid: {Name: "web-1", Namespace: "shop", UID: puid, ServiceAccount: "web",
		Containers: map[string]ContainerInfo{cid: {Name: "app", Image: "nginx:1.27", ImageID: "docker.io/library/nginx@sha256:abc"}}}}
	r := &Runner{Rules: rs, Attributor: &Attributor{Pods: pods, Node: "n1", ProcRoot: t.TempDir()}, Procs: &Procs{Root: t.TempDir()},
		APIServers: []string{"10.96.0.1"}}
	exec := func(cg, exe string, args ...string) Event {
		return Event{Kind: KindExec, PID: 10, PPID: 1, UID: 1000, Comm: "x", CgroupPath: cg, Path: exe, Args: append([]string{exe}, args...)}
	}
	open := func(cg, path string, flags uint32) Event {
		return Event{Kind: KindOpen, PID: 11, CgroupPath: cg, Comm: "cat", Path: path, Flags: flags, Arg: -100}
	}
	connect := func(cg, addr string, port uint16) Event {
		return Event{Kind: KindConnect, PID: 12, CgroupPath: cg, Comm: "curl", Addr: netip.MustParseAddr(addr), Port: port}
	}
	tests := []struct {
		name string
		ev   Event
		want []string
	}{
		{"shell in container", exec(ctr, "/bin/sh", "-c", "id"), []string{"sensor-shell-in-container"}},
		{"shell on host", exec(host, "/bin/sh", "-c", "id"), nil},
		{"ls on host", exec(host, "/usr/bin/ls"), nil},
		{"package manager in container", exec(ctr, "/usr/bin/apt-get", "install", "nmap"), []string{"sensor-package-manager-in-container"}},
		{"exec from /tmp on host", exec(host, "/tmp/x"), []string{"sensor-exec-from-tmp"}},
		{"exec from /dev/shm in container", exec(ctr, "/dev/shm/miner"), []string{"sensor-exec-from-tmp"}},
		{"kubectl in container", exec(ctr, "/usr/local/bin/kubectl", "get", "secrets"), []string{"sensor-kubectl-or-curl-to-apiserver"}},
		{"curl to kubernetes.default", exec(ctr, "/usr/bin/curl", "-k", "https://kubernetes.default.svc/api"), []string{"sensor-kubectl-or-curl-to-apiserver"}},
		{"curl to the service IP", exec(ctr, "/usr/bin/curl", "https://10.96.0.1/api"), []string{"sensor-kubectl-or-curl-to-apiserver"}},
		{"curl elsewhere", exec(ctr, "/usr/bin/curl", "https://example.com/"), nil},
		{"read /etc/shadow", open(host, "/etc/shadow", 0), []string{"sensor-sensitive-file-read"}},
		{"read an ssh private key", open(ctr, "/root/.ssh/id_ed25519", 0), []string{"sensor-sensitive-file-read"}},
		{"read an unrelated file", open(host, "/etc/hostname", 0), nil},
		{"write authorized_keys through a hostPath", open(ctr, "/host/root/.ssh/authorized_keys", 0o1101), []string{"sensor-ssh-key-written"}},
		{"write below /usr/bin in container", open(ctr, "/usr/bin/ls", 0o1101), []string{"sensor-write-below-binary-dir"}},
		{"write below /etc in container", open(ctr, "/etc/passwd", 0o1), []string{"sensor-write-below-etc-in-container"}},
		{"write /etc/resolv.conf in container", open(ctr, "/etc/resolv.conf", 0o1), nil},
		{"metadata", connect(ctr, "169.254.169.254", 80), []string{"sensor-cloud-metadata-connect"}},
		{"mining pool port", connect(ctr, "203.0.113.5", 3333), []string{"sensor-mining-pool-connect"}},
		{"https elsewhere", connect(ctr, "203.0.113.5", 443), nil},
		{"ptrace", Event{Kind: KindPtrace, CgroupPath: ctr, Comm: "gdb", Flags: 16, Arg: 42}, []string{"sensor-ptrace-attach"}},
		{"setuid in container", Event{Kind: KindSetuid, CgroupPath: ctr, Comm: "exploit", UID: 1000}, []string{"sensor-setuid-root"}},
		{"sudo on host", Event{Kind: KindSetuid, CgroupPath: host, Comm: "sudo", UID: 1000}, nil},
		{"module", Event{Kind: KindModule, CgroupPath: host, Comm: "insmod", Arg: 3}, []string{"sensor-kernel-module-load"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := r.Handle(context.Background(), tt.ev)
			var got []string
			for _, a := range alerts {
				got = append(got, a.Rule)
				if a.Output == "" || len(a.MITRE) == 0 {
					t.Errorf("alert %s: empty output or MITRE", a.Rule)
				}
				if tt.ev.CgroupPath == ctr && (a.Context.Pod != "web-1" || a.Context.Namespace != "shop" || a.Context.Image != "nginx:1.27" ||
					a.Context.ImageDigest != "sha256:abc" || a.Context.Container != "app" || a.Context.ServiceAccount != "shop/web" || a.Context.Host) {
					t.Errorf("alert %s: context %+v", a.Rule, a.Context)
				}
				if tt.ev.CgroupPath == host && !a.Context.Host {
					t.Errorf("alert %s: host event without host context", a.Rule)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rules fired %v, want %v", got, tt.want)
			}
		})
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		for _, id := range tt.want {
			covered[id] = true
		}
	}
	for _, rule := range rs.Rules() {
		if !covered[rule.ID] {
			t.Errorf("rule %s has no firing case", rule.ID)
		}
	}
}
