// Package robustness runs the real rampart binary against hostile inputs:
// each must produce exactly one clear error line naming the input, exit
// status 2, no panic, bounded time and memory, and must not stop a valid
// file given alongside from being scanned.
package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the rampart executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rampart-robustness-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "rampart")
	build := exec.Command("go", "build", "-o", binary, "./cmd/rampart")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building rampart: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goodYAML is a valid manifest scanned alongside every hostile input; its
// privileged container must be reported.
const goodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: still-scanned
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext:
      privileged: true
`

// billionLaughs nests nine lists of nine aliases nine levels deep: 9^9 nodes
// when expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n")
	b.WriteString(`  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= 9; i++ {
		p := "*l" + string(rune('0'+i-1))
		b.WriteString("  l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [" + strings.TrimSuffix(strings.Repeat(p+",", 9), ",") + "]\n")
	}
	return b.String()
}

// hostileCase is one hostile input.
type hostileCase struct {
	name string
	// setup creates the input in dir and returns the path to scan (relative
	// to dir) and, for stdin cases, what to feed on stdin.
	setup func(t *testing.T, dir string) (path string, stdin io.Reader)
	// want matches the single stderr line.
	want *regexp.Regexp
	// maxRSSMiB bounds the process's peak resident set size.
	maxRSSMiB int64
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHostileInputs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS and the unreadable-file cases rely on Linux")
	}
	cases := []hostileCase{
		{
			name: "YAML alias bomb (billion laughs)",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				writeFile(t, filepath.Join(dir, "bomb.yaml"), billionLaughs())
				return "bomb.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: bomb\.yaml:1: .*aliases beyond the limit \(possible YAML bomb\)$`),
			maxRSSMiB: 200,
		},
		{
			name: "200 MB file",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				f, err := os.Create(filepath.Join(dir, "huge.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				chunk := bytes.Repeat([]byte("# padding line of a very large manifest file\n"), 1<<14)
				for written := 0; written < 200<<20; written += len(chunk) {
					if _, err := f.Write(chunk); err != nil {
						t.Fatal(err)
					}
				}
				return "huge.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: huge\.yaml: file is 200 MiB, larger than the 64 MiB limit$`),
			maxRSSMiB: 200,
		},
		{
			name: "200 MB on stdin",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				return "-", io.LimitReader(repeatReader("apiVersion: v1\n"), 200<<20)
			},
			want:      regexp.MustCompile(`^rampart: error: -: input is larger than the 64 MiB limit$`),
			maxRSSMiB: 400,
		},
		{
			name: "binary file",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				data := make([]byte, 64<<10)
				for i := range data {
					data[i] = byte(i*7919 + i/251)
				}
				if err := os.WriteFile(filepath.Join(dir, "image.yaml"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				return "image.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: image\.yaml: binary file, not YAML or JSON$`),
			maxRSSMiB: 200,
		},
		{
			name: "100k nested YAML flow sequences",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				writeFile(t, filepath.Join(dir, "deep.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: "+strings.Repeat("[", 100_000)+"\n")
				return "deep.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: deep\.yaml:6: nesting deeper than 512 levels$`),
			maxRSSMiB: 200,
		},
		{
			name: "100k nested JSON objects",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				writeFile(t, filepath.Join(dir, "deep.json"), "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n\"data\": "+
					strings.Repeat(`{"a":`, 100_000)+"1"+strings.Repeat("}", 100_000)+"}\n")
				return "deep.json", nil
			},
			want:      regexp.MustCompile(`^rampart: error: deep\.json:2: nesting deeper than 512 levels$`),
			maxRSSMiB: 200,
		},
		{
			name: "600 nested YAML levels (under the parser's limit, over Rampart's)",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				writeFile(t, filepath.Join(dir, "deep600.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: "+
					strings.Repeat("[", 600)+strings.Repeat("]", 600)+"\n")
				return "deep600.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: deep600\.yaml:1: nesting deeper than 512 levels$`),
			maxRSSMiB: 200,
		},
		{
			name: "directory symlinks pointing at each other",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				for _, d := range []string{"loops/a", "loops/b"} {
					if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				symlink(t, "../b", filepath.Join(dir, "loops/a/to-b"))
				symlink(t, "../a", filepath.Join(dir, "loops/b/to-a"))
				return "loops", nil
			},
			want:      regexp.MustCompile(`^rampart: error: loops/a/to-b/to-a: symlink loop: directory already visited as \S+$`),
			maxRSSMiB: 200,
		},
		{
			name: "self-referential file symlink",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				symlink(t, "self.yaml", filepath.Join(dir, "self.yaml"))
				return "self.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: self\.yaml: stat: too many levels of symbolic links$`),
			maxRSSMiB: 200,
		},
		{
			name: "self-referential file symlink inside a directory",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				if err := os.Mkdir(filepath.Join(dir, "tree"), 0o755); err != nil {
					t.Fatal(err)
				}
				symlink(t, "self.yaml", filepath.Join(dir, "tree", "self.yaml"))
				return "tree", nil
			},
			want:      regexp.MustCompile(`^rampart: error: tree/self\.yaml: stat: too many levels of symbolic links$`),
			maxRSSMiB: 200,
		},
		{
			// Root reads files whatever their mode, so chmod 000 proves
			// nothing in CI. /proc/self/mem is unreadable for everyone: the
			// reading process's page 0 is never mapped, so read(2) at offset 0
			// fails with EIO even for root.
			name: "unreadable file (read fails with EIO, also as root)",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				symlink(t, "/proc/self/mem", filepath.Join(dir, "unreadable.yaml"))
				return "unreadable.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: unreadable\.yaml: read: input/output error$`),
			maxRSSMiB: 200,
		},
		{
			name: "unreadable file (chmod 000, non-root only)",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				if os.Geteuid() == 0 {
					t.Skip("root reads mode-000 files; the EIO case covers unreadable input")
				}
				p := filepath.Join(dir, "secret.yaml")
				writeFile(t, p, goodYAML)
				if err := os.Chmod(p, 0); err != nil {
					t.Fatal(err)
				}
				return "secret.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: secret\.yaml: open: permission denied$`),
			maxRSSMiB: 200,
		},
		{
			// Opening a FIFO for reading blocks until a writer appears; the
			// scanner must refuse it instead of hanging.
			name: "named pipe",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
					t.Fatal(err)
				}
				return "pipe.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: pipe\.yaml: not a regular file$`),
			maxRSSMiB: 200,
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, dir string) (string, io.Reader) {
				symlink(t, "gone.yaml", filepath.Join(dir, "dangling.yaml"))
				return "dangling.yaml", nil
			},
			want:      regexp.MustCompile(`^rampart: error: dangling\.yaml: stat: no such file or directory$`),
			maxRSSMiB: 200,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "good.yaml"), goodYAML)
			path, stdin := tc.setup(t, dir)
			run := runRampart(t, dir, stdin, "scan", "-o", "json", path, "good.yaml")

			if run.timedOut {
				t.Fatalf("rampart did not finish within %s; stderr:\n%s", runTimeout, run.stderr)
			}
			if strings.Contains(run.stderr, "panic") || strings.Contains(run.stderr, "goroutine ") {
				t.Fatalf("rampart panicked:\n%s", run.stderr)
			}
			if run.code != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", run.code, run.stderr)
			}
			lines := strings.Split(strings.TrimRight(run.stderr, "\n"), "\n")
			if len(lines) != 1 || !tc.want.MatchString(lines[0]) {
				t.Errorf("stderr = %q, want exactly one line matching %s", run.stderr, tc.want)
			}
			if mib := run.maxRSSKiB / 1024; mib > tc.maxRSSMiB {
				t.Errorf("peak RSS %d MiB, want at most %d MiB", mib, tc.maxRSSMiB)
			}
			checkGoodScanned(t, run.stdout, path)
		})
	}
}

// checkGoodScanned asserts that the JSON report holds good.yaml's finding
// and exactly one input error, naming bad.
func checkGoodScanned(t *testing.T, stdout []byte, bad string) {
	t.Helper()
	var res struct {
		Findings []struct {
			Control string `json:"control"`
			Source  struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"source"`
		} `json:"findings"`
		Errors []struct {
			File string `json:"file"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%.500s", err, stdout)
	}
	found := false
	for _, f := range res.Findings {
		if f.Control == "privileged-container" && f.Source.File == "good.yaml" && f.Source.Line == 10 {
			found = true
		}
		if f.Source.File != "good.yaml" {
			t.Errorf("finding %s on %s: only good.yaml holds objects", f.Control, f.Source.File)
		}
	}
	if !found {
		t.Errorf("the report lacks good.yaml's privileged-container finding at line 10")
	}
	if len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0].File, bad) {
		t.Errorf("report errors = %+v, want one naming %s", res.Errors, bad)
	}
}

// runTimeout bounds each run; every case finishes in well under a second.
const runTimeout = 60 * time.Second

type result struct {
	stdout    []byte
	stderr    string
	code      int
	timedOut  bool
	maxRSSKiB int64
}

func runRampart(t *testing.T, dir string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.Bytes(), stderr: stderr.String(), timedOut: ctx.Err() != nil}
	if cmd.ProcessState == nil {
		t.Fatalf("running rampart: %v", err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSSKiB = int64(ru.Maxrss)
	}
	return r
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// repeatReader yields s over and over.
type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}
