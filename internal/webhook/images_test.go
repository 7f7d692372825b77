package webhook

import "testing"

func TestSignatureRuleMatches(t *testing.T) {
	tests := []struct {
		registries, namespaces []string
		ns, image              string
		want                   bool
	}{
		{nil, nil, "prod", "nginx:1.27", true},
		{[]string{"ghcr.io/acme/"}, nil, "prod", "ghcr.io/acme/api:v1", true},
		{[]string{"ghcr.io/acme/"}, nil, "prod", "ghcr.io/other/api:v1", false},
		{[]string{"ghcr.io/acme/"}, []string{"prod-*"}, "prod-eu", "ghcr.io/acme/api:v1", true},
		{[]string{"ghcr.io/acme/"}, []string{"prod-*"}, "dev", "ghcr.io/acme/api:v1", false},
		{nil, []string{"[bad"}, "prod", "nginx", false},
	}
	for _, tt := range tests {
		r := signatureRule{registries: tt.registries, namespaces: tt.namespaces}
		if got := r.matches(tt.ns, tt.image); got != tt.want {
			t.Errorf("rule %v %v on %s %s = %v, want %v", tt.registries, tt.namespaces, tt.ns, tt.image, got, tt.want)
		}
	}
}
