package imagetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var goBinary struct {
	once sync.Once
	data []byte
	err  error
}

// GoBinary returns a real Go executable (testdata/gobin, built once per
// test process with -trimpath): its build information names the module
// github.com/rampart-dev/rampart, github.com/google/go-containerregistry,
// github.com/package-url/packageurl-go and the Go version.
func GoBinary(t testing.TB) []byte {
	t.Helper()
	goBinary.once.Do(func() {
		_, self, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "rampart-gobin-")
		if err != nil {
			goBinary.err = err
			return
		}
		defer func() { _ = os.RemoveAll(dir) }()
		out := filepath.Join(dir, "gobin")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/gobin")
		cmd.Dir = filepath.Dir(self)
		if b, err := cmd.CombinedOutput(); err != nil {
			goBinary.err = &buildError{string(b)}
			return
		}
		goBinary.data, goBinary.err = os.ReadFile(out)
	})
	if goBinary.err != nil {
		t.Fatalf("building testdata/gobin: %v", goBinary.err)
	}
	return goBinary.data
}

type buildError struct{ out string }

func (e *buildError) Error() string { return e.out }
