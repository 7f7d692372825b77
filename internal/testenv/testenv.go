// Package testenv runs a real kube-apiserver and etcd for integration tests,
// through sigs.k8s.io/controller-runtime/pkg/envtest.
//
// The binaries are built from the Go module proxy by scripts/testenv.sh into a
// cache directory. Tests find them through the KUBEBUILDER_ASSETS environment
// variable or, when it is unset, by running that script from the repository
// root (found by walking up to go.mod). A cold build takes several minutes, so
// CI runs the script before the tests and exports KUBEBUILDER_ASSETS.
//
// One control plane is shared by all tests of a test binary. A package that
// uses it should route its TestMain through Main, which stops the control plane
// after the tests:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without Main, the control plane is stopped when the test that started it
// ends, and the next Start starts a new one.
//
// Start fails the test (it never skips) when the environment cannot be
// started: a missing environment must be visible, not silently ignored.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv is the environment variable naming the directory that holds the
// kube-apiserver and etcd binaries (the envtest convention).
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Script is the path, relative to the repository root, of the script that
// builds the binaries and prints their directory on its last line.
const Script = "scripts/testenv.sh"

// startTimeout bounds the start of etcd and kube-apiserver; a loaded 2-core CI
// machine needs more than envtest's 20 second default.
const startTimeout = 2 * time.Minute

// Env is a running control plane: a real etcd and kube-apiserver with client
// certificate authentication and RBAC authorization.
type Env struct {
	env    *envtest.Environment
	output *tailBuffer
	// Admin is a user in the system:masters group, allowed everything.
	Admin User
	// AssetsDir is the directory the binaries were run from.
	AssetsDir string
}

// User is an identity authenticated by a client certificate. It has only
// the permissions that RBAC grants its name and groups.
type User struct {
	// Name is the user name the API server sees.
	Name string
	// Groups are the groups the API server sees.
	Groups []string
	// Config connects to the API server as this user.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file's content equivalent to Config.
	Kubeconfig []byte
}

var (
	mu          sync.Mutex
	shared      *Env
	startErr    error
	mainManaged bool
)

// Main runs the tests of a package and then stops the shared control plane,
// if one was started. Call it from TestMain.
func Main(m *testing.M) {
	mu.Lock()
	mainManaged = true
	mu.Unlock()
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping the control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Start returns the shared control plane of this test binary, starting it on
// first use. It fails t (never skips) when the binaries cannot be found or
// built, or the control plane does not start; once a start has failed, later
// calls fail at once with the same error.
func Start(t testing.TB) *Env {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if startErr != nil {
		t.Fatalf("testenv: %v", startErr)
	}
	if shared == nil {
		env, err := start()
		if err != nil {
			startErr = err
			t.Fatalf("testenv: %v", err)
		}
		shared = env
		if !mainManaged {
			t.Cleanup(func() {
				if err := Stop(); err != nil {
					t.Errorf("testenv: stopping the control plane: %v", err)
				}
			})
		}
	}
	return shared
}

// Stop stops the shared control plane if one is running. Main calls it.
func Stop() error {
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		return nil
	}
	err := shared.env.Stop()
	shared = nil
	return err
}

// StartCustom starts a control plane of its own for t, configured by
// configure before it starts (for example
// cp.GetAPIServer().Configure().Set("anonymous-auth", "true"), or etcd
// flags), and stops it when t ends. Use it for tests that need a
// deliberately hardened or insecure control plane; it fails t like Start.
func StartCustom(t testing.TB, configure func(cp *envtest.ControlPlane)) *Env {
	t.Helper()
	env, err := startWith(configure)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := env.env.Stop(); err != nil {
			t.Errorf("testenv: stopping the control plane: %v", err)
		}
	})
	return env
}

// Webhooks is where a test serves the admission webhooks that
// StartWithWebhooks registered: the API server calls
// https://Host:Port/<path of the configuration's URL>, trusting the
// certificate in CertDir (tls.crt, tls.key).
type Webhooks struct {
	// Host and Port are where to listen.
	Host string
	Port int
	// CertDir holds the serving certificate and key (tls.crt, tls.key).
	CertDir string
	// Configurations are the installed configurations, with the URL and
	// CA bundle envtest set.
	Configurations []*admissionv1.ValidatingWebhookConfiguration
}

// StartWithWebhooks starts a control plane of its own for t with the
// validating webhook configurations vwcs installed (envtest rewrites each
// clientConfig to a URL on a local port with a CA bundle it generates; a
// configuration's service path is kept), and stops it when t ends.
func StartWithWebhooks(t testing.TB, vwcs ...*admissionv1.ValidatingWebhookConfiguration) (*Env, Webhooks) {
	t.Helper()
	var wh *envtest.WebhookInstallOptions
	env, err := startEnv(nil, func(e *envtest.Environment) {
		e.WebhookInstallOptions.ValidatingWebhooks = vwcs
		wh = &e.WebhookInstallOptions
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := env.env.Stop(); err != nil {
			t.Errorf("testenv: stopping the control plane: %v", err)
		}
	})
	return env, Webhooks{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir, Configurations: wh.ValidatingWebhooks}
}

func start() (*Env, error) { return startWith(nil) }

func startWith(configure func(cp *envtest.ControlPlane)) (*Env, error) {
	return startEnv(configure, nil)
}

func startEnv(configure func(cp *envtest.ControlPlane), configureEnv func(e *envtest.Environment)) (*Env, error) {
	dir, err := Assets()
	if err != nil {
		return nil, err
	}
	out := newTailBuffer(64 << 10)
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{
				Path: filepath.Join(dir, "kube-apiserver"),
				Out:  out,
				Err:  out,
			},
			Etcd: &envtest.Etcd{
				Path: filepath.Join(dir, "etcd"),
				Out:  out,
				Err:  out,
			},
		},
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		env.ControlPlaneStartTimeout = startTimeout
	}
	if configure != nil {
		configure(&env.ControlPlane)
	}
	if configureEnv != nil {
		configureEnv(env)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w\n--- control plane output (tail) ---\n%s", dir, err, out.String())
	}
	kubeconfig := bytes.Clone(env.KubeConfig)
	return &Env{
		env:       env,
		output:    out,
		AssetsDir: dir,
		Admin: User{
			Name:       "admin",
			Groups:     []string{"system:masters"},
			Config:     rest.CopyConfig(cfg),
			Kubeconfig: kubeconfig,
		},
	}, nil
}

// AddUser provisions a client certificate for a user with the given name and
// groups. The user starts with no permissions beyond what RBAC grants to
// system:authenticated; bind roles to its name or groups to grant more.
func (e *Env) AddUser(t testing.TB, name string, groups ...string) User {
	t.Helper()
	au, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, &rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		t.Fatalf("testenv: adding user %q: %v", name, err)
	}
	kubeconfig, err := au.KubeConfig()
	if err != nil {
		t.Fatalf("testenv: kubeconfig for user %q: %v", name, err)
	}
	return User{Name: name, Groups: groups, Config: rest.CopyConfig(au.Config()), Kubeconfig: kubeconfig}
}

// Output returns the tail of the control plane's own log output, for
// diagnosing a failing test.
func (e *Env) Output() string { return e.output.String() }

// Clientset returns a typed client that acts as u.
func (u User) Clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(u.Config))
	if err != nil {
		t.Fatalf("testenv: client for %q: %v", u.Name, err)
	}
	return cs
}

// KubeconfigFile writes u's kubeconfig to a file in t's temporary directory
// and returns its path.
func (u User) KubeconfigFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, u.Kubeconfig, 0o600); err != nil {
		t.Fatalf("testenv: writing kubeconfig: %v", err)
	}
	return path
}

// Assets returns the directory holding kube-apiserver and etcd: the one named
// by KUBEBUILDER_ASSETS when it is set, otherwise the one scripts/testenv.sh
// builds (or finds already built) and prints on its last line.
func Assets() (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		if err := checkAssets(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", AssetsEnv, dir, err)
		}
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%s is unset and the repository root was not found: %w", AssetsEnv, err)
	}
	dir, err := runScript(context.Background(), root, os.Stderr)
	if err != nil {
		return "", err
	}
	if err := checkAssets(dir); err != nil {
		return "", fmt.Errorf("%s printed %s: %w", Script, dir, err)
	}
	return dir, nil
}

func checkAssets(dir string) error {
	var missing []string
	for _, name := range []string{"kube-apiserver", "etcd"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no executable %s there (build them with %s)", strings.Join(missing, " or "), Script)
	}
	return nil
}

// runScript runs scripts/testenv.sh in root, streaming its progress to
// progress, and returns the last line of its standard output.
func runScript(ctx context.Context, root string, progress io.Writer) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, Script))
	cmd.Dir = root
	cmd.Stderr = progress
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", Script, err)
	}
	dir := lastLine(out)
	if dir == "" {
		return "", fmt.Errorf("%s printed no directory", Script)
	}
	return dir, nil
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			last = line
		}
	}
	return last
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod and scripts/testenv.sh.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return findRoot(wd)
}

func findRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if isFile(filepath.Join(d, "go.mod")) && isFile(filepath.Join(d, filepath.FromSlash(Script))) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod with " + Script + " above " + dir)
		}
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use
// by the etcd and kube-apiserver output copiers.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{max: limit} }

// Write implements io.Writer.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the retained output.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
