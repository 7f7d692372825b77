package sensor

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSelfPID: the sensor's own ID is read through the mounted procfs's
// self link (the host PID in a container with the host's /proc), falling
// back to os.Getpid.
func TestSelfPID(t *testing.T) {
	dir := t.TempDir()
	hostProc := filepath.Join(dir, "host-proc")
	if err := os.Mkdir(hostProc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("4242", filepath.Join(hostProc, "self")); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("not-a-pid", filepath.Join(bad, "self")); err != nil {
		t.Fatal(err)
	}
	self := uint32(os.Getpid())
	tests := []struct {
		name, root string
		want       uint32
	}{
		{"this machine's /proc", "/proc", self},
		{"host /proc mounted in a container", hostProc, 4242},
		{"no procfs", filepath.Join(dir, "missing"), self},
		{"not a PID", bad, self},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SelfPID(tt.root); got != tt.want {
				t.Errorf("SelfPID(%s) = %d, want %d", tt.root, got, tt.want)
			}
		})
	}
}

// TestKernelBefore reads kernel releases for the memlock decision.
func TestKernelBefore(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v669", false},
		{"5.11.0", false},
		{"5.10.226-generic", true},
		{"4.19.0-27-amd64", true},
		{"5.11", false},
		{"garbage", true},
		{"", true},
	}
	for _, tt := range tests {
		if got := kernelBefore(tt.release, 5, 11); got != tt.want {
			t.Errorf("kernelBefore(%q) = %v, want %v", tt.release, got, tt.want)
		}
	}
}
