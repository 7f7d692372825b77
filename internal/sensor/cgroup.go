package sensor

import (
	"strings"
)

// Container is what a cgroup path says about a process: its container
// runtime, container ID and pod UID. A process outside any container has
// an empty ID.
type Container struct {
	// Runtime is containerd, cri-o, docker or podman when the path names
	// it ("" for the cgroupfs driver, which does not).
	Runtime string `json:"runtime,omitempty"`
	// ID is the container ID (64 hex digits).
	ID string `json:"id,omitempty"`
	// PodUID is the Kubernetes pod UID (with dashes), when the path is
	// under kubepods.
	PodUID string `json:"podUID,omitempty"`
	// QoS is the pod's QoS class as the path names it: guaranteed,
	// burstable or besteffort.
	QoS string `json:"qos,omitempty"`
}

// Host reports whether the process is outside any container.
func (c Container) Host() bool { return c.ID == "" }

// scopePrefixes map systemd scope unit prefixes to runtimes.
var scopePrefixes = []struct{ prefix, runtime string }{
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"docker-", "docker"},
	{"libpod-", "podman"},
}

// ParseCgroup reads a cgroup path (v2, or one line's path of a v1
// hierarchy) in any of the layouts of containerd, CRI-O and docker under the
// systemd or cgroupfs drivers:
//
//	/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
//	/kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope
//	/kubepods/besteffort/pod<uid>/<id>
//	/system.slice/docker-<id>.scope, /docker/<id>
//
// A suffix of such a path (its last levels) parses the same. It never
// panics; what it does not recognise stays empty.
func ParseCgroup(path string) Container {
	var c Container
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p == "" {
			continue
		}
		if uid, qos, ok := podComponent(p); ok {
			c.PodUID = uid
			if qos != "" {
				c.QoS = qos
			}
			continue
		}
		switch {
		case p == "besteffort" || p == "burstable":
			c.QoS = p
			continue
		case strings.HasSuffix(p, "kubepods-besteffort.slice"):
			c.QoS = "besteffort"
			continue
		case strings.HasSuffix(p, "kubepods-burstable.slice"):
			c.QoS = "burstable"
			continue
		}
		if id, rt, ok := containerComponent(p); ok {
			c.ID, c.Runtime = id, rt
			continue
		}
		// cgroupfs: a bare ID below a pod, or below /docker.
		if isContainerID(p) && i > 0 {
			switch prev := parts[i-1]; {
			case prev == "docker":
				c.ID, c.Runtime = p, "docker"
			case c.PodUID != "":
				c.ID = p
			}
		}
	}
	if c.PodUID != "" && c.QoS == "" {
		c.QoS = "guaranteed"
	}
	return c
}

// podComponent recognises "pod<uid>" (cgroupfs) and
// "kubepods[-<qos>]-pod<uid_>.slice" (systemd).
func podComponent(p string) (uid, qos string, ok bool) {
	if rest, found := strings.CutSuffix(p, ".slice"); found {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.Contains(rest[:i], "kubepods") {
			return "", "", false
		}
		uid = strings.ReplaceAll(rest[i+4:], "_", "-")
		if !isUID(uid) {
			return "", "", false
		}
		switch prefix := rest[:i]; {
		case strings.HasSuffix(prefix, "kubepods-besteffort"):
			qos = "besteffort"
		case strings.HasSuffix(prefix, "kubepods-burstable"):
			qos = "burstable"
		}
		return uid, qos, true
	}
	if rest, found := strings.CutPrefix(p, "pod"); found && isUID(rest) {
		return rest, "", true
	}
	return "", "", false
}

// containerComponent recognises "<runtime prefix><id>.scope".
func containerComponent(p string) (id, runtime string, ok bool) {
	rest, found := strings.CutSuffix(p, ".scope")
	if !found {
		return "", "", false
	}
	for _, sp := range scopePrefixes {
		if id, found := strings.CutPrefix(rest, sp.prefix); found && isContainerID(id) {
			return id, sp.runtime, true
		}
	}
	return "", "", false
}

// isContainerID: 64 lowercase hex digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isUID: the 8-4-4-4-12 hex form of a Kubernetes UID.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// ParseProcCgroup picks the container cgroup out of a /proc/<pid>/cgroup
// file: the v2 line ("0::/path") when it names a container, else the first
// v1 hierarchy that does.
func ParseProcCgroup(data string) (string, Container) {
	var firstPath string
	for line := range strings.Lines(data) {
		line = strings.TrimRight(line, "\n")
		// hierarchy-ID:controllers:path (the path may hold colons).
		_, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if firstPath == "" {
			firstPath = path
		}
		if c := ParseCgroup(path); !c.Host() {
			return path, c
		}
	}
	return firstPath, Container{}
}
