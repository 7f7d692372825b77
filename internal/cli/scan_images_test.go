package cli

import "testing"

// TestRunningDigest reads the imageID forms of container runtimes.
func TestRunningDigest(t *testing.T) {
	const d = "sha256:b799f30ba3a525bb61521e762d56b223cbf0089d9a81cebb77abc7aea1009eba"
	tests := []struct {
		name, imageID, ref, digest string
		ok                         bool
	}{
		{"containerd", "docker.io/library/nginx@" + d, "docker.io/library/nginx@" + d, d, true},
		{"cri-o with port", "registry.example:5000/team/app@" + d, "registry.example:5000/team/app@" + d, d, true},
		{"dockershim", "docker-pullable://nginx@" + d, "nginx@" + d, d, true},
		{"bare image id", d, "", "", false},
		{"docker image id", "docker://" + d, "", "", false},
		{"empty (not started)", "", "", "", false},
		{"bad digest", "nginx@sha256:zz", "", "", false},
		{"other algorithm", "nginx@sha512:" + d[7:], "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, digest, ok := runningDigest(tt.imageID)
			if ref != tt.ref || digest != tt.digest || ok != tt.ok {
				t.Errorf("runningDigest(%q) = %q, %q, %v; want %q, %q, %v", tt.imageID, ref, digest, ok, tt.ref, tt.digest, tt.ok)
			}
		})
	}
}
