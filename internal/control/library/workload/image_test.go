package workload

import "testing"

func TestParseImage(t *testing.T) {
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name     string
		ref      string
		want     ImageRef
		pinned   bool
		floating bool
	}{
		{name: "bare name", ref: "nginx", want: ImageRef{Registry: "docker.io", Repository: "nginx"}, floating: true},
		{name: "bare name with tag", ref: "nginx:1.27", want: ImageRef{Registry: "docker.io", Repository: "nginx", Tag: "1.27"}},
		{name: "explicit latest", ref: "nginx:latest", want: ImageRef{Registry: "docker.io", Repository: "nginx", Tag: "latest"}, floating: true},
		{name: "docker hub org", ref: "bitnami/redis:7.2", want: ImageRef{Registry: "docker.io", Repository: "bitnami/redis", Tag: "7.2"}},
		{name: "registry port no tag", ref: "localhost:5000/app", want: ImageRef{Registry: "localhost:5000", Repository: "app"}, floating: true},
		{name: "registry port with tag", ref: "registry:5000/app:1.2", want: ImageRef{Registry: "registry:5000", Repository: "app", Tag: "1.2"}},
		{name: "localhost without port", ref: "localhost/app:v1", want: ImageRef{Registry: "localhost", Repository: "app", Tag: "v1"}},
		{name: "dotted host nested repo", ref: "ghcr.io/acme/team/api:2.0.1", want: ImageRef{Registry: "ghcr.io", Repository: "acme/team/api", Tag: "2.0.1"}},
		{name: "digest only", ref: "app@" + digest, want: ImageRef{Registry: "docker.io", Repository: "app", Digest: digest}, pinned: true},
		{name: "tag and digest", ref: "quay.io/org/app:latest@" + digest, want: ImageRef{Registry: "quay.io", Repository: "org/app", Tag: "latest", Digest: digest}, pinned: true},
		{name: "port tag and digest", ref: "reg.example.com:8443/app:1@" + digest, want: ImageRef{Registry: "reg.example.com:8443", Repository: "app", Tag: "1", Digest: digest}, pinned: true},
		{name: "truncated digest is not a pin", ref: "app@sha256:abc", want: ImageRef{Registry: "docker.io", Repository: "app", Digest: "sha256:abc"}},
		{name: "docker hub alias", ref: "index.docker.io/library/nginx:1", want: ImageRef{Registry: "docker.io", Repository: "library/nginx", Tag: "1"}},
		{name: "upper-case first component is a host", ref: "MyRegistry/app:1", want: ImageRef{Registry: "MyRegistry", Repository: "app", Tag: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseImage(tt.ref)
			if got != tt.want {
				t.Errorf("ParseImage(%q) = %+v, want %+v", tt.ref, got, tt.want)
			}
			if got.Pinned() != tt.pinned {
				t.Errorf("Pinned() = %v, want %v", got.Pinned(), tt.pinned)
			}
			if got.FloatingTag() != tt.floating {
				t.Errorf("FloatingTag() = %v, want %v", got.FloatingTag(), tt.floating)
			}
		})
	}
}

func TestParseImageDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = ParseImage("registry.example.com:5000/team/app:1.2.3@sha256:0123456789abcdef0123456789abcdef")
	})
	if allocs != 0 {
		t.Errorf("ParseImage allocates %v times per call", allocs)
	}
}

func TestAllowedBy(t *testing.T) {
	allowed := []string{"ghcr.io/acme", "registry.example.com", "localhost:5000", "docker.io/library/busybox", "docker.io/bitnami"}
	tests := []struct {
		name    string
		image   string
		allowed []string
		want    bool
	}{
		{name: "empty list allows all", image: "evil.example.net/x:1", allowed: nil, want: true},
		{name: "blank entries allow all", image: "evil.example.net/x:1", allowed: []string{" ", ""}, want: true},
		{name: "org prefix", image: "ghcr.io/acme/api:1", allowed: allowed, want: true},
		{name: "org prefix nested", image: "ghcr.io/acme/team/api:1", allowed: allowed, want: true},
		{name: "prefix is component-wise", image: "ghcr.io/acme-evil/api:1", allowed: allowed, want: false},
		{name: "other org same registry", image: "ghcr.io/other/api:1", allowed: allowed, want: false},
		{name: "whole registry", image: "registry.example.com/any/thing:2", allowed: allowed, want: true},
		{name: "registry host is not a prefix of another host", image: "registry.example.com.evil.net/x:1", allowed: allowed, want: false},
		{name: "registry with port", image: "localhost:5000/app", allowed: allowed, want: true},
		{name: "other port", image: "localhost:5001/app", allowed: allowed, want: false},
		{name: "bare official image allowed by library path", image: "busybox:1.36", allowed: allowed, want: true},
		{name: "bare official image not allowed", image: "nginx:1.27", allowed: allowed, want: false},
		{name: "docker hub org", image: "bitnami/redis:7", allowed: allowed, want: true},
		{name: "docker hub alias host", image: "index.docker.io/bitnami/redis:7", allowed: allowed, want: true},
		{name: "docker.io/nginx entry allows bare nginx", image: "nginx", allowed: []string{"docker.io/nginx"}, want: true},
		{name: "docker.io entry allows all hub images", image: "nginx", allowed: []string{"docker.io"}, want: true},
		{name: "entry with scheme and slash", image: "ghcr.io/acme/api:1", allowed: []string{"https://ghcr.io/acme/"}, want: true},
		{name: "host case-insensitive", image: "GHCR.io/acme/api:1", allowed: []string{"ghcr.io"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedBy(tt.image, tt.allowed); got != tt.want {
				t.Errorf("AllowedBy(%q, %q) = %v, want %v", tt.image, tt.allowed, got, tt.want)
			}
		})
	}
}
