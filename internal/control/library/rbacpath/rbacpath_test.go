package rbacpath

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/load"
)

// TestSeverityAndMessage checks the reason, the path and the severity (high,
// critical when exposed) of each failing fixture's finding.
func TestSeverityAndMessage(t *testing.T) {
	cs, err := Controls()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "testdata", "fixtures", "workload-with-privileged-service-account")
	tests := []struct {
		name, file, severity, object string
		contains                     []string
		images                       control.ImageIndex
	}{
		{"cluster-wide secrets", "fail-cluster-secrets.yaml", "high", "ci-runner",
			[]string{"ServiceAccount payments/ci-bot", "can read secrets cluster-wide", "ClusterRoleBinding/ci-bot-secrets → ClusterRole/secret-reader"}, nil},
		{"exposed pod creator", "fail-exposed-pod-creator.yaml", "critical", "frontend",
			[]string{"ServiceAccount web/default", "can create workloads", "in namespace web", "exposed outside the cluster by Service frontend (type LoadBalancer)"}, nil},
		{"cluster-wide secrets, critical image", "fail-cluster-secrets.yaml", "critical", "ci-runner",
			[]string{"ServiceAccount payments/ci-bot", "can read secrets cluster-wide", "; it runs a critical-vulnerability image: Image ", "(running as sha256:1111) has 2 critical vulnerabilities, among them GHSA-1 (CVE-1) in a 1.0, fixed in 1.1"},
			criticalImages{}},
		{"cluster-wide secrets, images analysed, none critical", "fail-cluster-secrets.yaml", "high", "ci-runner",
			[]string{"ServiceAccount payments/ci-bot"}, highImages{}},
		{"aggregated bind", "fail-aggregated-escalate.yaml", "high", "operator",
			[]string{"ServiceAccount default/operator", "can escalate privileges", "RoleBinding/default/operator → ClusterRole/operator"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := engine.New(cs, engine.WithImages(tt.images)).Scan(context.Background(), []string{filepath.Join(dir, tt.file)}, load.Options{Limits: load.DefaultLimits})
			if len(r.Findings) != 1 {
				t.Fatalf("%d findings, want 1: %+v", len(r.Findings), r.Findings)
			}
			f := r.Findings[0]
			if f.Severity != tt.severity || f.Object.Name != tt.object {
				t.Errorf("finding on %s with severity %s, want %s and %s", f.Object.Name, f.Severity, tt.object, tt.severity)
			}
			if !strings.HasSuffix(f.Path, "spec.serviceAccountName") || f.Source.Line == 0 {
				t.Errorf("finding at %s line %d, want the pod spec's serviceAccountName", f.Path, f.Source.Line)
			}
			if tt.images == nil || tt.severity != "critical" {
				if strings.Contains(f.Message, "critical-vulnerability") {
					t.Errorf("message %q names a critical-vulnerability image", f.Message)
				}
			}
			for _, c := range tt.contains {
				if !strings.Contains(f.Message, c) {
					t.Errorf("message %q lacks %q", f.Message, c)
				}
			}
		})
	}
}

// criticalImages says every image has two critical vulnerabilities.
type criticalImages struct{}

func (criticalImages) Image(_, _ string) *control.ImageVulns {
	return &control.ImageVulns{Digests: []string{"sha256:1111"}, Critical: control.VulnCount{N: 2, Worst: []string{"GHSA-1 (CVE-1) in a 1.0, fixed in 1.1"}}, High: control.VulnCount{N: 1}}
}

// highImages says every image has high vulnerabilities only.
type highImages struct{}

func (highImages) Image(_, _ string) *control.ImageVulns {
	return &control.ImageVulns{Digests: []string{"sha256:2222"}, High: control.VulnCount{N: 3}}
}
