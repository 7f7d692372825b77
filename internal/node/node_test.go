package node

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
)

// ownerHost is a DirHost whose file owners are root:root unless owners
// says otherwise (git keeps no owners and tests do not run as root).
type ownerHost struct {
	DirHost
	owners map[string][2]uint32
}

func (h ownerHost) Stat(name string) (FileInfo, error) {
	fi, err := h.DirHost.Stat(name)
	if err != nil {
		return fi, err
	}
	o := h.owners[name]
	fi.UID, fi.GID = o[0], o[1]
	return fi, nil
}

// fixtureHost copies a fixture tree to a temporary directory and sets the
// given modes (everything else 0600, directories 0700).
func fixtureHost(t testing.TB, name string, modes map[string]fs.FileMode, owners map[string][2]uint32) Host {
	t.Helper()
	src := filepath.Join("testdata", "hosts", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, m := range modes {
		if err := os.Chmod(filepath.Join(dst, p), m); err != nil {
			t.Fatal(err)
		}
	}
	return ownerHost{DirHost: DirHost{Root: dst}, owners: owners}
}

func TestFixtureHost(t *testing.T) {
	h := fixtureHost(t, "kubeadm", map[string]fs.FileMode{
		"etc/kubernetes/admin.conf":   0o644,
		"etc/kubernetes/pki/ca.key":   0o644,
		"var/lib/etcd":                0o755,
		"var/lib/kubelet/config.yaml": 0o600,
	}, map[string][2]uint32{"/var/lib/kubelet/config.yaml": {1000, 1000}})
	res := Run(h, Filter{})
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if got := len(res.Processes); got != 4 {
		t.Fatalf("found %d processes, want 4 (the shell is not a component): %+v", got, res.Processes)
	}
	tests := []struct {
		check, target string
		status        control.Status
		origin        string
	}{
		{"cis-1.2.1", "kube-apiserver (pid 100)", control.StatusPass, OriginFlag},
		// --anonymous-auth with the default AlwaysAllow authorizer: the API
		// server resets anonymous authentication to false (1.2.6 fails).
		{"cis-1.2.1", "kube-apiserver (pid 200)", control.StatusPass, OriginFlag},
		{"cis-1.2.6", "kube-apiserver (pid 100)", control.StatusPass, OriginFlag},
		{"cis-1.2.6", "kube-apiserver (pid 200)", control.StatusFail, OriginDefault},
		{"cis-1.2.15", "kube-apiserver (pid 200)", control.StatusFail, OriginDefault},
		{"cis-1.2.2", "kube-apiserver (pid 200)", control.StatusFail, OriginFlag},
		{"cis-1.2.12", "kube-apiserver (pid 100)", control.StatusPass, OriginDefault},
		{"cis-1.2.12", "kube-apiserver (pid 200)", control.StatusFail, OriginFlag},
		{"cis-1.2.14", "kube-apiserver (pid 100)", control.StatusPass, OriginFlag},
		{"cis-1.2.14", "kube-apiserver (pid 200)", control.StatusFail, OriginAbsent},
		{"cis-1.2.16", "kube-apiserver (pid 200)", control.StatusFail, OriginAbsent},
		{"cis-1.2.27", "kube-apiserver (pid 100)", control.StatusPass, OriginFlag},
		{"cis-1.2.28", "kube-apiserver (pid 100)", control.StatusFail, OriginFile},
		{"cis-3.2.1", "kube-apiserver (pid 100)", control.StatusPass, OriginFile},
		{"cis-3.2.1", "kube-apiserver (pid 200)", control.StatusFail, OriginAbsent},
		{"cis-3.2.2", "kube-apiserver (pid 100)", control.StatusWarn, OriginFile},
		// The classic: no flag, a config file without the field: its
		// v1beta1 default (false) applies, not the flag default (true).
		{"cis-4.2.1", "kubelet (pid 300)", control.StatusPass, OriginDefault},
		{"cis-4.2.2", "kubelet (pid 300)", control.StatusPass, OriginDefault},
		{"cis-4.2.3", "kubelet (pid 300)", control.StatusPass, OriginFile},
		{"cis-4.2.4", "kubelet (pid 300)", control.StatusFail, OriginFlag},
		{"cis-4.2.5", "kubelet (pid 300)", control.StatusFail, OriginFile},
		{"cis-4.2.6", "kubelet (pid 300)", control.StatusPass, OriginDefault},
		{"cis-4.2.10", "kubelet (pid 300)", control.StatusPass, OriginFile},
		{"cis-4.2.13", "kubelet (pid 300)", control.StatusWarn, OriginDefault},
		{"cis-2.1", "etcd (pid 400)", control.StatusFail, OriginAbsent},
		{"cis-2.2", "etcd (pid 400)", control.StatusPass, OriginFlag},
		{"cis-2.5", "etcd (pid 400)", control.StatusFail, OriginDefault},
		{"cis-2.7", "etcd (pid 400)", control.StatusFail, OriginFlag},
		{"cis-1.1.1", "/etc/kubernetes/manifests/kube-apiserver.yaml", control.StatusPass, OriginStat},
		{"cis-1.1.2", "/etc/kubernetes/manifests/kube-apiserver.yaml", control.StatusPass, OriginStat},
		{"cis-1.1.3", "/etc/kubernetes/manifests/kube-controller-manager.yaml", control.StatusNotApplicable, OriginAbsent},
		{"cis-1.1.11", "/var/lib/etcd", control.StatusFail, OriginStat},
		{"cis-1.1.13", "/etc/kubernetes/admin.conf", control.StatusFail, OriginStat},
		{"cis-1.1.13", "/etc/kubernetes/super-admin.conf", control.StatusNotApplicable, OriginAbsent},
		{"cis-1.1.19", "/etc/kubernetes/pki", control.StatusPass, OriginStat},
		{"cis-1.1.20", "/etc/kubernetes/pki", control.StatusPass, OriginStat},
		{"cis-1.1.21", "/etc/kubernetes/pki", control.StatusFail, OriginStat},
		{"cis-4.1.1", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", control.StatusPass, OriginStat},
		{"cis-4.1.5", "/etc/kubernetes/kubelet.conf", control.StatusPass, OriginStat},
		{"cis-4.1.9", "/var/lib/kubelet/config.yaml", control.StatusPass, OriginStat},
		{"cis-4.1.10", "/var/lib/kubelet/config.yaml", control.StatusFail, OriginStat},
		{"cis-1.3.2", "kube-controller-manager", control.StatusNotApplicable, OriginAbsent},
		{"cis-4.3.1", "kube-proxy", control.StatusNotApplicable, OriginAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.check+" "+tt.target, func(t *testing.T) {
			for _, r := range res.Results {
				if r.Check.ID != tt.check || r.Target.Name != tt.target {
					continue
				}
				if r.Status != tt.status || r.Evidence == nil || r.Evidence.Origin != tt.origin {
					t.Fatalf("got %s (%s) %+v, want %s from %s", r.Status, r.Message, r.Evidence, tt.status, tt.origin)
				}
				return
			}
			t.Fatalf("no result of %s for %s", tt.check, tt.target)
		})
	}
	// Every selected check has at least one result.
	seen := map[string]bool{}
	for _, r := range res.Results {
		seen[r.Check.ID] = true
	}
	for _, c := range res.Checks {
		if !seen[c.ID] {
			t.Errorf("%s has no result", c.ID)
		}
	}
}

func TestKubeletResolution(t *testing.T) {
	const cfg = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	tests := []struct {
		name    string
		flags   string
		files   map[string]string
		setting string
		want    string
		origin  string
		wantErr string
	}{
		{"no config file: flag default", "", nil, "anonymous-auth", "true", OriginDefault, ""},
		{"config file without the field: v1beta1 default", "--config=/c.yaml", map[string]string{"/c.yaml": cfg}, "anonymous-auth", "false", OriginDefault, ""},
		{"config file field", "--config=/c.yaml", map[string]string{"/c.yaml": cfg + "authentication:\n  anonymous:\n    enabled: true\n"}, "anonymous-auth", "true", OriginFile, ""},
		{"flag wins over the file", "--config=/c.yaml --anonymous-auth=false", map[string]string{"/c.yaml": cfg + "authentication:\n  anonymous:\n    enabled: true\n"}, "anonymous-auth", "false", OriginFlag, ""},
		{"authorization without file", "", nil, "authorization-mode", "AlwaysAllow", OriginDefault, ""},
		{"authorization with file", "--config /c.yaml", map[string]string{"/c.yaml": cfg}, "authorization-mode", "Webhook", OriginDefault, ""},
		{"read-only port without file", "", nil, "read-only-port", "10255", OriginDefault, ""},
		{"drop-in wins over the file", "--config=/c.yaml --config-dir=/d", map[string]string{"/c.yaml": cfg + "readOnlyPort: 10255\n", "/d/10-a.conf": cfg + "readOnlyPort: 0\n"}, "read-only-port", "0", OriginFile, ""},
		{"unreadable file", "--config=/missing.yaml", nil, "anonymous-auth", "", "", "does not exist"},
		{"wrong kind", "--config=/c.yaml", map[string]string{"/c.yaml": "apiVersion: v1\nkind: ConfigMap\n"}, "anonymous-auth", "", "", "want KubeletConfiguration"},
		{"bad yaml", "--config=/c.yaml", map[string]string{"/c.yaml": "a: [\n"}, "anonymous-auth", "", "", "not valid YAML"},
		{"feature gate from file", "--config=/c.yaml", map[string]string{"/c.yaml": cfg + "featureGates:\n  RotateKubeletServerCertificate: false\n"}, "feature-gates", "RotateKubeletServerCertificate=false", OriginFile, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tt.files {
				if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			comp, flags, ok := ParseCmdline(append([]string{"kubelet"}, strings.Fields(tt.flags)...))
			if !ok || comp != Kubelet {
				t.Fatalf("not a kubelet")
			}
			in := newInstance(DirHost{Root: root}, &Process{Component: comp, PID: 1, Flags: flags})
			v := in.Get(tt.setting)
			if tt.wantErr != "" {
				if !strings.Contains(v.Err, tt.wantErr) {
					t.Fatalf("err %q, want %q", v.Err, tt.wantErr)
				}
				return
			}
			if v.Value != tt.want || v.Origin != tt.origin {
				t.Fatalf("got %q from %s (%s), want %q from %s", v.Value, v.Origin, v.Location, tt.want, tt.origin)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name, cmdline, comp string
		flag, value         string
	}{
		{"binary", "/usr/local/bin/kube-apiserver\x00--profiling=false", APIServer, "profiling", "false"},
		{"bare bool is not followed by its value", "kube-apiserver\x00--anonymous-auth\x00false", APIServer, "anonymous-auth", "true"},
		{"separate value", "etcd\x00--data-dir\x00/var/lib/etcd", Etcd, "data-dir", "/var/lib/etcd"},
		{"hyperkube", "/hyperkube\x00kubelet\x00--read-only-port=0", Kubelet, "read-only-port", "0"},
		{"go-runner", "/go-runner\x00--log-file=/x\x00/usr/local/bin/kube-scheduler\x00--bind-address=127.0.0.1", Scheduler, "bind-address", "127.0.0.1"},
		{"rewritten title", "kube-proxy --metrics-bind-address=0.0.0.0:10249", Proxy, "metrics-bind-address", "0.0.0.0:10249"},
		{"shell is not a component", "sh\x00-c\x00kube-apiserver", "", "", ""},
		{"kubectl is not a component", "kubectl\x00get\x00pods", "", "", ""},
		{"empty", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comp, flags, ok := ParseCmdline(SplitCmdline([]byte(tt.cmdline)))
			if comp != tt.comp || ok != (tt.comp != "") {
				t.Fatalf("component %q %v, want %q", comp, ok, tt.comp)
			}
			if tt.flag == "" {
				return
			}
			p := &Process{Flags: flags}
			if v, _ := p.Last(tt.flag); v != tt.value {
				t.Fatalf("--%s = %q, want %q", tt.flag, v, tt.value)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		want int
	}{
		{"all", Filter{}, len(Checks())},
		{"one", Filter{Checks: []string{"1.2.1"}}, 1},
		{"glob with prefix", Filter{Checks: []string{"cis-4.2.*"}}, 13},
		{"section", Filter{Sections: []string{"2"}}, 7},
		{"target", Filter{Targets: []string{TargetEtcd}}, 7},
		{"skip", Filter{Sections: []string{"1.4"}, Skip: []string{"1.4.1"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(Select(tt.f)); got != tt.want {
				t.Fatalf("%d checks, want %d", got, tt.want)
			}
		})
	}
	if err := (Filter{Targets: []string{"worker"}}).Validate(); err == nil {
		t.Fatal("unknown target accepted")
	}
}

func TestPolicyGaps(t *testing.T) {
	tests := []struct {
		name, policy string
		gaps         int
	}{
		{"metadata for everything", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n", 0},
		{"nothing logged", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n", 8},
		{"secrets with values", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n  resources:\n  - group: \"\"\n    resources: [secrets]\n- level: Metadata\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.policy))
			if err != nil {
				t.Fatal(err)
			}
			if got := PolicyGaps(p); len(got) != tt.gaps {
				t.Fatalf("gaps %q, want %d", got, tt.gaps)
			}
		})
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte("kube-apiserver\x00--anonymous-auth\x00--x=1"))
	f.Add([]byte("/go-runner\x00--a\x00kubelet\x00--config\x00&&"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = ParseCmdline(SplitCmdline(data))
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"))
	f.Add([]byte("kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{identity: {}}]\n"))
	f.Add([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := ParseConfig(Kubelet, data); err == nil {
			for _, s := range settings[Kubelet] {
				if s.field != "" {
					_, _ = lookup(m, s.field)
				}
			}
		}
		_, _ = SecretsProvider(data)
		if p, err := ParsePolicy(data); err == nil {
			_ = PolicyGaps(p)
		}
	})
}

func BenchmarkNodeAudit(b *testing.B) {
	h := fixtureHost(b, "kubeadm", nil, nil)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n += len(Run(h, Filter{}).Results)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "checks/s")
}
