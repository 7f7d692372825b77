package sensor

import (
	"net/netip"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// TestVariables evaluates CEL over the lazily built variables: every key,
// presence tests, iteration, size, equality and conversion.
func TestVariables(t *testing.T) {
	env, err := cel.NewEnv(Source.Declarations...)
	if err != nil {
		t.Fatal(err)
	}
	exec := &Input{
		Event:       &Event{Kind: KindExec, PID: 42, PPID: 7, UID: 1000, GID: 1001, Comm: "curl", ParentComm: "sh", Path: "/usr/bin/curl"},
		Process:     Process{Exe: "/usr/bin/curl", Args: []string{"curl", "https://kubernetes.default"}},
		Attribution: &Attribution{Container: Container{ID: cid, Runtime: "containerd", PodUID: puid}, Pod: &PodInfo{Name: "web", Namespace: "shop", ServiceAccount: "web"}, ContainerName: "app", Image: "nginx", ImageID: "sha256:ff"},
		APIServers:  []string{"10.0.0.1"},
	}
	conn := &Input{
		Event:       &Event{Kind: KindConnect, PID: 9, Addr: netip.MustParseAddr("169.254.169.254"), Port: 80},
		Attribution: &Attribution{},
	}
	open := &Input{
		Event:       &Event{Kind: KindOpen, PID: 9, Path: "/etc/passwd", Flags: 1},
		Attribution: &Attribution{},
	}
	for _, tt := range []struct {
		in   *Input
		expr string
	}{
		{exec, `kind == "exec"`},
		{exec, `proc.name == "curl" && proc.exe == "/usr/bin/curl" && proc.exeName == "curl" && proc.cmdline == "curl https://kubernetes.default"`},
		{exec, `proc.args == ["curl", "https://kubernetes.default"] && proc.args.exists(a, a.contains("kubernetes.default"))`},
		{exec, `proc.pid == 42 && proc.ppid == 7 && proc.uid == 1000 && proc.gid == 1001 && proc.parentName == "sh"`},
		{exec, `!container.host && container.id.startsWith("` + cid[:12] + `") && container.runtime == "containerd" && container.name == "app" && container.image == "nginx" && container.imageID == "sha256:ff"`},
		{exec, `pod.name == "web" && pod.namespace == "shop" && pod.uid == "` + puid + `" && pod.serviceAccount == "web"`},
		{exec, `cluster.apiServers == ["10.0.0.1"]`},
		{exec, `file.path == "" && !file.write && net.addr == "" && net.family == "" && ptrace.request == ""`},
		{exec, `size(proc) == 10 && "cmdline" in proc && !("env" in proc) && has(proc.exe) && !has(proc.env)`},
		{exec, `proc.exists(k, k == "exeName") && proc.all(k, k != "") && size(pod) == 4`},
		{exec, `pod == {"name": "web", "namespace": "shop", "uid": "` + puid + `", "serviceAccount": "web"}`},
		{exec, `type(proc) == map && proc != {}`},
		{conn, `net.addr == "169.254.169.254" && net.port == 80 && net.family == "ipv4" && container.host && pod.name == "" && proc.args == []`},
		{open, `file.path == "/etc/passwd" && file.write && file.flags == 1 && proc.exeName == "."`},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			ast, iss := env.Compile(tt.expr)
			if iss.Err() != nil {
				t.Fatal(iss.Err())
			}
			prg, err := env.Program(ast)
			if err != nil {
				t.Fatal(err)
			}
			v, _, err := prg.Eval(Source.Activation(tt.in))
			if err != nil || v != types.True {
				t.Errorf("= %v, %v", v, err)
			}
		})
	}
}
