package sensor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/detect"
)

// Attribution is who an event belongs to.
type Attribution struct {
	// Container is what the cgroup path says.
	Container Container
	// CgroupPath is the path that was parsed.
	CgroupPath string
	// Pod is the pod from the pod source, nil when unknown.
	Pod *PodInfo
	// ContainerName, Image and ImageID come from the pod's status.
	ContainerName, Image, ImageID string
	// Notes say what could not be resolved.
	Notes []string
}

// Attributor maps events to containers and pods.
type Attributor struct {
	// Pods is the pod source; nil attributes containers only.
	Pods PodSource
	// ProcRoot is where /proc of the host is mounted ("/proc").
	ProcRoot string
	// Node is the node's name, copied into every context.
	Node string

	cache attribCache
}

// Attribute resolves e's container (from its cgroup; from
// /proc/<pid>/cgroup when the kernel saw the root cgroup, as on hosts whose
// containers live in cgroup v1 hierarchies) and pod.
func (a *Attributor) Attribute(ctx context.Context, e *Event) Attribution {
	at := Attribution{CgroupPath: e.CgroupPath, Container: a.cache.parse(e.CgroupID, e.CgroupPath)}
	if at.Container.Host() && e.CgroupPath == "/" {
		at.CgroupPath, at.Container = a.procCgroup(e)
	}
	c := at.Container
	if c.Host() || a.Pods == nil {
		return at
	}
	if c.PodUID == "" {
		at.Notes = append(at.Notes, "container outside a Kubernetes pod")
		return at
	}
	p, ok := a.Pods.Pod(ctx, c.PodUID)
	if !ok {
		at.Notes = append(at.Notes, fmt.Sprintf("pod %s not in the kubelet's pod list", c.PodUID))
		return at
	}
	at.Pod = p
	if ci, ok := p.Containers[c.ID]; ok {
		at.ContainerName, at.Image, at.ImageID = ci.Name, ci.Image, ci.ImageID
	} else {
		at.Notes = append(at.Notes, fmt.Sprintf("container %.12s not in pod %s/%s's status", c.ID, p.Namespace, p.Name))
	}
	return at
}

// procCgroup reads /proc/<pid>/cgroup for a process the kernel saw in the
// root cgroup v2: on an exec, and for other events of a process whose exec
// was not seen (or whose pid was reused: different parent or name).
func (a *Attributor) procCgroup(e *Event) (string, Container) {
	if e.Kind != KindExec {
		if path, c, ok := a.cache.proc(e); ok {
			return path, c
		}
	}
	path, c := "/", Container{}
	if data, err := os.ReadFile(filepath.Join(a.procRoot(), strconv.Itoa(int(e.PID)), "cgroup")); err == nil {
		if p, pc := ParseProcCgroup(string(data)); !pc.Host() {
			path, c = p, pc
		}
	}
	if e.Kind == KindExec {
		a.cache.setProc(e, path, c)
	}
	return path, c
}

func (a *Attributor) procRoot() string {
	if a.ProcRoot == "" {
		return "/proc"
	}
	return a.ProcRoot
}

// Context returns the alert context of an attribution.
func (a *Attributor) Context(at *Attribution) detect.Context {
	c := detect.Context{Node: a.Node, Host: at.Container.Host(), Notes: at.Notes}
	if c.Host {
		return c
	}
	c.Container = at.ContainerName
	if p := at.Pod; p != nil {
		c.Namespace, c.Pod, c.ServiceAccount = p.Namespace, p.Name, p.ServiceAccount
		if p.ServiceAccount != "" {
			c.ServiceAccount = p.Namespace + "/" + p.ServiceAccount
		}
		c.WorkloadKind, c.WorkloadName = p.WorkloadKind, p.WorkloadName
		c.Image = at.Image
		if c.Image == "" && len(p.Images) > 0 {
			c.Image = p.Images[0]
		}
		if len(p.Images) > 1 {
			c.Images = p.Images
		}
		if _, digest, ok := strings.Cut(at.ImageID, "@"); ok {
			c.ImageDigest = digest
		} else if strings.HasPrefix(at.ImageID, "sha256:") {
			c.ImageDigest = at.ImageID
		}
	}
	return c
}
