package vap

import (
	"bytes"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/control"
)

func TestParseActions(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{in: nil, want: "Deny"},
		{in: []string{"deny"}, want: "Deny"},
		{in: []string{"Warn", "Audit", "warn"}, want: "Warn,Audit"},
		{in: []string{"Deny", "Warn"}, wantErr: "exclude each other"},
		{in: []string{"Block"}, wantErr: `unknown action "Block"`},
	}
	for _, tt := range tests {
		got, err := ParseActions(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		var names []string
		for _, a := range got {
			names = append(names, string(a))
		}
		if err != nil || strings.Join(names, ",") != tt.want {
			t.Errorf("%v: %v %v, want %s", tt.in, names, err, tt.want)
		}
	}
}

func TestObjects(t *testing.T) {
	policies, _ := Builtins([]*control.Control{{Metadata: control.Metadata{ID: "privileged-container", Title: "Privileged", Severity: control.SeverityCritical}, Check: func(*control.Context) {}}})
	policies = append(policies, &Policy{
		ID: "custom", Title: "c", Kinds: []string{"Deployment", "Widget"}, APIGroups: nil, Namespaces: []string{"prod"},
		Validations: []celrules.Validation{{Expression: "true", Message: "m"}},
	})
	objs, err := Objects(policies, Options{Actions: []admissionv1.ValidationAction{admissionv1.Warn}, ExcludeNamespaces: []string{"kube-system"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 4 {
		t.Fatalf("%d objects", len(objs))
	}
	p := objs[0].(*admissionv1.ValidatingAdmissionPolicy)
	if p.Name != "rampart-privileged-container" || *p.Spec.FailurePolicy != admissionv1.Ignore || len(p.Spec.MatchConstraints.ResourceRules) != 3 {
		t.Errorf("policy %+v", p.Spec)
	}
	b := objs[1].(*admissionv1.ValidatingAdmissionPolicyBinding)
	sel := b.Spec.MatchResources.NamespaceSelector.MatchExpressions
	if b.Spec.PolicyName != p.Name || b.Spec.ValidationActions[0] != admissionv1.Warn || len(sel) != 1 || sel[0].Operator != "NotIn" || sel[0].Values[0] != "kube-system" {
		t.Errorf("binding %+v", b.Spec)
	}
	cp := objs[2].(*admissionv1.ValidatingAdmissionPolicy)
	rules := cp.Spec.MatchConstraints.ResourceRules
	if len(rules) != 2 || rules[0].Resources[0] != "deployments" || rules[0].APIGroups[0] != "apps" || rules[1].Resources[0] != "widgets" || rules[1].APIGroups[0] != "*" {
		t.Errorf("custom rules %+v", rules)
	}
	cb := objs[3].(*admissionv1.ValidatingAdmissionPolicyBinding)
	if sel := cb.Spec.MatchResources.NamespaceSelector.MatchExpressions; sel[0].Operator != "In" || sel[0].Values[0] != "prod" {
		t.Errorf("custom binding %+v", sel)
	}
	var buf bytes.Buffer
	if err := WriteYAML(&buf, objs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n---\n"); n != 3 || !strings.Contains(buf.String(), "kind: ValidatingAdmissionPolicyBinding") {
		t.Errorf("YAML stream has %d separators:\n%s", n, buf.String())
	}
	// A policy whose CEL does not compile is refused, not written.
	bad := &Policy{ID: "bad", Kinds: []string{"Pod"}, Validations: []celrules.Validation{{Expression: "object.", Message: "m"}}}
	if _, err := Objects([]*Policy{bad}, Options{}); err == nil || !strings.Contains(err.Error(), "policy bad: expression") {
		t.Errorf("bad policy: %v", err)
	}
}

func TestPlural(t *testing.T) {
	for in, want := range map[string]string{"widget": "widgets", "policy": "policies", "ingress": "ingresses", "": ""} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
}
