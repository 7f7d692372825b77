package sensor

import (
	"strings"
	"testing"
)

const (
	cid  = "4f1d0b8b2b5e6a7d8c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"
	puid = "0c8e9f1a-2b3c-4d5e-8f70-8192a3b4c5d6"
)

func TestParseCgroup(t *testing.T) {
	us := strings.ReplaceAll(puid, "-", "_")
	tests := []struct {
		name string
		path string
		want Container
	}{
		{"containerd systemd burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/cri-containerd-" + cid + ".scope",
			Container{Runtime: "containerd", ID: cid, PodUID: puid, QoS: "burstable"}},
		{"containerd systemd besteffort", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us + ".slice/cri-containerd-" + cid + ".scope",
			Container{Runtime: "containerd", ID: cid, PodUID: puid, QoS: "besteffort"}},
		{"containerd systemd guaranteed", "/kubepods.slice/kubepods-pod" + us + ".slice/cri-containerd-" + cid + ".scope",
			Container{Runtime: "containerd", ID: cid, PodUID: puid, QoS: "guaranteed"}},
		{"kind nested kubelet slice", "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + us + ".slice/cri-containerd-" + cid + ".scope",
			Container{Runtime: "containerd", ID: cid, PodUID: puid, QoS: "besteffort"}},
		{"cri-o systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/crio-" + cid + ".scope",
			Container{Runtime: "cri-o", ID: cid, PodUID: puid, QoS: "burstable"}},
		{"cri-o conmon is not the container", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/crio-conmon-" + cid + ".scope",
			Container{PodUID: puid, QoS: "burstable"}},
		{"containerd cgroupfs besteffort", "/kubepods/besteffort/pod" + puid + "/" + cid,
			Container{ID: cid, PodUID: puid, QoS: "besteffort"}},
		{"containerd cgroupfs guaranteed", "/kubepods/pod" + puid + "/" + cid,
			Container{ID: cid, PodUID: puid, QoS: "guaranteed"}},
		{"cri-dockerd systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/docker-" + cid + ".scope",
			Container{Runtime: "docker", ID: cid, PodUID: puid, QoS: "burstable"}},
		{"docker systemd", "/system.slice/docker-" + cid + ".scope", Container{Runtime: "docker", ID: cid}},
		{"docker cgroupfs", "/docker/" + cid, Container{Runtime: "docker", ID: cid}},
		{"podman", "/machine.slice/libpod-" + cid + ".scope", Container{Runtime: "podman", ID: cid}},
		{"suffix of four levels", "/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/cri-containerd-" + cid + ".scope",
			Container{Runtime: "containerd", ID: cid, PodUID: puid, QoS: "burstable"}},
		{"pod slice only (pause or pod-level process)", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us + ".slice",
			Container{PodUID: puid, QoS: "besteffort"}},
		{"host service", "/system.slice/containerd.service", Container{}},
		{"host user session", "/user.slice/user-1000.slice/session-3.scope", Container{}},
		{"root", "/", Container{}},
		{"empty", "", Container{}},
		{"short id is not an id", "/docker/abc123", Container{}},
		{"upper-case hex is not an id", "/docker/" + strings.ToUpper(cid), Container{}},
		{"bad pod uid", "/kubepods/besteffort/podnot-a-uid/" + cid, Container{QoS: "besteffort"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCgroup(tt.path); got != tt.want {
				t.Errorf("ParseCgroup(%q)\n got %+v\nwant %+v", tt.path, got, tt.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name, data, wantPath string
		wantID               string
	}{
		{"v2", "0::/kubepods/besteffort/pod" + puid + "/" + cid + "\n", "/kubepods/besteffort/pod" + puid + "/" + cid, cid},
		{"hybrid v1 container", "9:name=systemd:/\n4:memory:/kubepods/pod" + puid + "/" + cid + "\n0::/\n", "/kubepods/pod" + puid + "/" + cid, cid},
		{"host", "0::/system.slice/sshd.service\n", "/system.slice/sshd.service", ""},
		{"garbage", "nonsense\n::\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, c := ParseProcCgroup(tt.data)
			if path != tt.wantPath || c.ID != tt.wantID {
				t.Errorf("ParseProcCgroup = %q, %+v; want %q, id %q", path, c, tt.wantPath, tt.wantID)
			}
		})
	}
}

func FuzzParseCgroup(f *testing.F) {
	for _, s := range []string{
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(puid, "-", "_") + ".slice/cri-containerd-" + cid + ".scope",
		"/kubepods/besteffort/pod" + puid + "/" + cid, "/docker/" + cid, "/", "", "////", "pod", ".slice", "kubepods-pod.slice",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		c := ParseCgroup(path)
		if c.ID != "" && !isContainerID(c.ID) {
			t.Fatalf("ParseCgroup(%q) returned a bad container ID %q", path, c.ID)
		}
		if c.PodUID != "" && !isUID(c.PodUID) {
			t.Fatalf("ParseCgroup(%q) returned a bad pod UID %q", path, c.PodUID)
		}
		_, _ = ParseProcCgroup(path)
	})
}
