package sensor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"golang.org/x/sys/unix"

	"github.com/rampart-dev/rampart/internal/detect"
)

// helperEnv makes the test binary a helper process (see TestMain): it
// performs one action that the sensor must see from a process other than
// the sensor's own (whose events the kernel drops).
const helperEnv = "RAMPART_SENSOR_HELPER"

func TestMain(m *testing.M) {
	if action := os.Getenv(helperEnv); action != "" {
		os.Exit(helper(action))
	}
	os.Exit(m.Run())
}

func helper(action string) int {
	kind, arg, _ := strings.Cut(action, "=")
	switch kind {
	case "connect":
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		if c, err := d.Dial("tcp", arg); err == nil {
			_ = c.Close()
		}
	case "setuid":
		_ = syscall.Setuid(0) // fails (EPERM): the attempt is what is detected
	case "open":
		path, count, _ := strings.Cut(arg, ",")
		n, _ := strconv.Atoi(count)
		for range n {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return 1
			}
			_ = unix.Close(fd)
		}
	case "ptrace":
		_ = unix.PtraceSeize(0x3ffffff0) // no such process: the attempt is what is detected
	}
	return 0
}

// helperBinary copies the test binary to a directory outside /tmp (go test
// builds it below /tmp, which the exec-from-tmp rule would flag) that any
// user may enter, for the helper processes.
func helperBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/run", "rampart-sensor-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper")
	if err := os.WriteFile(bin, data, 0o755); err != nil { //nolint:gosec // an executable for the helper processes
		t.Fatal(err)
	}
	return bin
}

// requireRoot skips without root, or fails when CI is set.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := "the eBPF sensor tests load programs into the kernel and need root (or CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE); run them as root"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: not skipping)")
	}
	t.Skip(msg)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// fakeContainer makes a cgroup v2 directory shaped like containerd's under
// the systemd driver and returns an open fd of it, the container ID and the
// pod UID.
func fakeContainer(t *testing.T) (fd int, containerID, podUID string) {
	t.Helper()
	mnt := cgroup2Mount(t)
	containerID = randomHex(t, 32)
	u := randomHex(t, 16)
	podUID = u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
	dirs := []string{
		"kubepods.slice",
		"kubepods-besteffort.slice",
		"kubepods-besteffort-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice",
		"cri-containerd-" + containerID + ".scope",
	}
	path := mnt
	var made []string
	for _, d := range dirs {
		path = filepath.Join(path, d)
		if err := os.Mkdir(path, 0o755); err == nil {
			made = append(made, path)
		} else if !os.IsExist(err) {
			t.Fatalf("creating the fake container cgroup: %v", err)
		}
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Close(fd)
		for i := len(made) - 1; i >= 0; i-- {
			_ = os.Remove(made[i]) // fails only while a process is still in it
		}
	})
	return fd, containerID, podUID
}

func cgroup2Mount(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Fatal("no cgroup2 hierarchy mounted")
	return ""
}

// kubeletStandIn serves /pods over TLS with one pod holding the container.
func kubeletStandIn(t *testing.T, podUID, containerID string) *KubeletPods {
	t.Helper()
	ctrl := true
	list := corev1.PodList{Items: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8c6b5-x2x4q", Namespace: "shop", UID: types.UID(podUID),
			Labels:          map[string]string{"pod-template-hash": "7d9f8c6b5"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d9f8c6b5", Controller: &ctrl}}},
		Spec: corev1.PodSpec{ServiceAccountName: "web", Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "docker.io/library/nginx:1.27",
			ImageID: "docker.io/library/nginx@sha256:" + strings.Repeat("ab", 32), ContainerID: "containerd://" + containerID}}},
	}}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" || r.Header.Get("Authorization") != "Bearer test-token" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kp, err := NewKubeletPods(srv.URL, KubeletOptions{TokenFile: tok, Client: srv.Client(), MinRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// collector runs the sensor through a Runner and keeps the alerts.
type collector struct {
	mu     sync.Mutex
	alerts []detect.Alert
	signal chan struct{}
	// sensor and readerDone explain a missing alert: the reader's error
	// when it stopped, the events read and lost.
	sensor     *Sensor
	readerDone chan struct{}
	readerErr  error
}

func (c *collector) add(as []detect.Alert) {
	if len(as) == 0 {
		return
	}
	c.mu.Lock()
	c.alerts = append(c.alerts, as...)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// mark returns the position of the next alert: find and forPID look from
// there, so that an earlier alert of another process that had the same pid
// (pid_max can be 32768; pids wrap) does not count.
func (c *collector) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.alerts)
}

// wait returns the first alert of rule for pid at or after mark, waiting
// up to 30s for it (a loaded machine). It fails at once when the reader
// stopped, and says what the sensor read and lost when the alert is
// missing.
func (c *collector) wait(t *testing.T, from int, rule string, pid int) detect.Alert {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		if a, ok := c.find(from, rule, pid); ok {
			return a
		}
		select {
		case <-c.signal:
		case <-c.readerDone:
			if a, ok := c.find(from, rule, pid); ok {
				return a
			}
			t.Fatalf("no %s alert for pid %d: the event reader stopped: %v (%s)", rule, pid, c.readerErr, c.stats())
		case <-deadline.C:
			t.Fatalf("no %s alert for pid %d within 30s (%s; alerts for the pid: %v)", rule, pid, c.stats(), c.forPID(from, pid))
		}
	}
}

func (c *collector) stats() string {
	st, err := c.sensor.Stats()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, k := range Kinds {
		fmt.Fprintf(&b, "%s %d, ", k, st.Events[k])
	}
	fmt.Fprintf(&b, "lost %d, malformed %d", st.Lost, st.Malformed)
	return b.String()
}

func (c *collector) find(from int, rule string, pid int) (detect.Alert, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.alerts[from:] {
		if a.Rule == rule && a.Event["pid"] == strconv.Itoa(pid) {
			return a, true
		}
	}
	return detect.Alert{}, false
}

func (c *collector) forPID(from, pid int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rules []string
	for _, a := range c.alerts[from:] {
		if a.Event["pid"] == strconv.Itoa(pid) {
			rules = append(rules, a.Rule)
		}
	}
	return rules
}

// run starts cmd (in the cgroup cgfd when >= 0), waits for it and returns
// its pid.
func run(t *testing.T, cgfd int, env []string, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if cgfd >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgfd}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return cmd.Process.Pid
}

func TestKernelDetection(t *testing.T) {
	requireRoot(t)
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	cgfd, containerID, podUID := fakeContainer(t)
	rules, err := detect.Defaults("sensor")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := detect.Compile(rules, Source)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Rules: rs, Attributor: &Attributor{Pods: kubeletStandIn(t, podUID, containerID), Node: "node-1"}, Procs: &Procs{}}
	c := &collector{signal: make(chan struct{}, 1), sensor: s, readerDone: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(c.readerDone)
		for {
			e, err := s.Read()
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					c.readerErr = err
				}
				return
			}
			c.add(r.Handle(ctx, e))
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = s.Close()
		<-c.readerDone
		if c.readerErr != nil {
			t.Errorf("reading events: %v", c.readerErr)
		}
	})
	self := helperBinary(t)
	tmp, err := os.MkdirTemp("/tmp", "rampart-sensor-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })

	checkPod := func(t *testing.T, a detect.Alert) {
		t.Helper()
		ctx := a.Context
		if ctx.Host || ctx.Pod != "web-7d9f8c6b5-x2x4q" || ctx.Namespace != "shop" || ctx.Container != "app" || ctx.Image != "nginx:1.27" ||
			ctx.ImageDigest != "sha256:"+strings.Repeat("ab", 32) || ctx.ServiceAccount != "shop/web" ||
			ctx.WorkloadKind != "Deployment" || ctx.WorkloadName != "web" || ctx.Node != "node-1" {
			t.Errorf("context %+v", ctx)
		}
		if a.Event["containerID"] != containerID || a.Event["podUID"] != podUID || a.Event["runtime"] != "containerd" {
			t.Errorf("event %v: want container %s, pod %s", a.Event, containerID, podUID)
		}
	}
	checkHost := func(t *testing.T, a detect.Alert) {
		t.Helper()
		if !a.Context.Host || a.Context.Pod != "" || a.Event["containerID"] != "" {
			t.Errorf("want a host alert, got context %+v event %v", a.Context, a.Event)
		}
	}

	t.Run("shell in a container", func(t *testing.T) {
		from := c.mark()
		pid := run(t, cgfd, nil, "/bin/sh", "-c", "exit 0")
		checkPod(t, c.wait(t, from, "sensor-shell-in-container", pid))
	})
	t.Run("sensitive file read on the host", func(t *testing.T) {
		from := c.mark()
		pid := run(t, -1, nil, "/bin/cat", "/etc/shadow")
		a := c.wait(t, from, "sensor-sensitive-file-read", pid)
		checkHost(t, a)
		if a.Event["file"] != "/etc/shadow" {
			t.Errorf("file %q", a.Event["file"])
		}
	})
	t.Run("SSH key written", func(t *testing.T) {
		dir := filepath.Join(tmp, "root", ".ssh")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		// A relative path, resolved through the process's working
		// directory: the shell waits on stdin until the alert is in, so that
		// its /proc entry is still there.
		cmd := exec.Command("/bin/sh", "-c", "cd "+dir+" && echo ssh-ed25519 AAAA > authorized_keys && { read line || true; }")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgfd}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		from := c.mark()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		finish := func() error {
			var err error
			once.Do(func() { _ = stdin.Close(); err = cmd.Wait() })
			return err
		}
		t.Cleanup(func() { _ = finish() }) // the shell ends even when the alert is missing
		a := c.wait(t, from, "sensor-ssh-key-written", cmd.Process.Pid)
		if err := finish(); err != nil {
			t.Errorf("shell: %v", err)
		}
		checkPod(t, a)
		if a.Event["file"] != filepath.Join(dir, "authorized_keys") {
			t.Errorf("file %q", a.Event["file"])
		}
	})
	t.Run("metadata service connect from a container", func(t *testing.T) {
		if out, err := exec.Command("ip", "addr", "add", "169.254.169.254/32", "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", "169.254.169.254/32", "dev", "lo").Run() })
		from := c.mark()
		pid := run(t, cgfd, []string{helperEnv + "=connect=169.254.169.254:80"}, self)
		a := c.wait(t, from, "sensor-cloud-metadata-connect", pid)
		checkPod(t, a)
		if a.Event["address"] != "169.254.169.254" || a.Event["port"] != "80" {
			t.Errorf("event %v", a.Event)
		}
	})
	t.Run("exec from /tmp", func(t *testing.T) {
		bin := filepath.Join(tmp, "payload")
		data, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		from := c.mark()
		pid := run(t, -1, nil, bin)
		a := c.wait(t, from, "sensor-exec-from-tmp", pid)
		checkHost(t, a)
		if a.Event["exe"] != bin {
			t.Errorf("exe %q, want %q", a.Event["exe"], bin)
		}
	})
	t.Run("setuid to root from non-root", func(t *testing.T) {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), helperEnv+"=setuid")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		from := c.mark()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setuid helper: %v: %s", err, out)
		}
		c.wait(t, from, "sensor-setuid-root", cmd.Process.Pid)
	})
	t.Run("ptrace attach", func(t *testing.T) {
		from := c.mark()
		pid := run(t, cgfd, []string{helperEnv + "=ptrace"}, self)
		checkPod(t, c.wait(t, from, "sensor-ptrace-attach", pid))
	})
	t.Run("unrelated activity does not fire", func(t *testing.T) {
		from := c.mark()
		quiet := []int{
			run(t, -1, nil, "/bin/ls", "/"),
			run(t, -1, nil, "/bin/cat", "/etc/hostname"),
			run(t, -1, []string{helperEnv + "=connect=127.0.0.1:1"}, self),
		}
		// The events of those processes are in the ring buffer before the
		// marker's: once the marker's alert is in, theirs would be too.
		marker := filepath.Join(tmp, "marker")
		data, _ := os.ReadFile("/bin/true")
		if err := os.WriteFile(marker, data, 0o755); err != nil {
			t.Fatal(err)
		}
		c.wait(t, from, "sensor-exec-from-tmp", run(t, -1, nil, marker))
		for _, pid := range quiet {
			if got := c.forPID(from, pid); len(got) > 0 {
				t.Errorf("pid %d: unexpected alerts %v", pid, got)
			}
		}
	})
}
